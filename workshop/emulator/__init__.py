"""The embedded AWS target: moto in server mode, extended so the workshop runs offline (see launcher.py for the API).

Importing this package is cheap: moto is only imported inside the emulator process.
"""

from workshop.emulator.launcher import EmulatorInfo, ensure_running, start, status, stop
from workshop.emulator.logs import follow_log, log_file, tail_log

__all__ = ["EmulatorInfo", "ensure_running", "follow_log", "log_file", "start", "status", "stop", "tail_log"]
