"""Start, stop and find the emulator process: detached, on a port the OS picks, healthy before we return."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from workshop.emulator import files, persist
from workshop.emulator.logs import log_file, tail_log
from workshop.errors import BadInput, WorkshopError

START_TIMEOUT = float(os.environ.get("WORKSHOP_EMULATOR_START_TIMEOUT", "60"))
STOP_TIMEOUT = 20.0
HEALTH_TIMEOUT = 5.0  # a running emulator that does not answer its health check within this is reported
RESTART_HINT = "run `workshop emulator stop` then `workshop emulator start`"
# What the emulator process may inherit: locale, paths, its own tuning knobs. Nothing of the user's credentials or tokens
# (GITHUB_TOKEN, AWS_*, MOTO_*) and not the real HOME: functions run inside it, and it needs none of them.
ENV_ALLOW = ("PATH", "LANG", "LANGUAGE", "TZ", "TMPDIR", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED",
             "PYTHONUTF8", "SYSTEMROOT", "PYENV_ROOT")
ENV_ALLOW_PREFIXES = ("LC_", "WORKSHOP_EMULATOR_")


_unshown: list[str] = []  # notes of emulators this process started that no command has shown yet (see take_notes)


def take_notes() -> list[str]:
    """The notes of emulators started by this process since the last call (a state set aside, a port moved).

    A deploy, verify or teardown starts the emulator on its way: the CLI shows these once the command is done."""
    notes = list(_unshown)
    _unshown.clear()
    return notes


@dataclass(frozen=True)
class EmulatorInfo:
    """A running emulator: where it listens and where its files are."""

    pid: int
    port: int
    https_port: int
    endpoint: str
    state_file: Path
    log_file: Path
    already_running: bool = False
    notes: tuple[str, ...] = field(default=())  # things worth telling the learner (state set aside, stale pid removed)

    def as_status(self) -> dict[str, object]:
        """The `workshop emulator status --json` object."""
        return {
            "running": True,
            "pid": self.pid,
            "port": self.port,
            "https_port": self.https_port,
            "endpoint": self.endpoint,
            "state_file": str(self.state_file),
        }


def status(state_dir: Path) -> EmulatorInfo | None:
    """The running emulator of `state_dir`, or None; a stale pid file is removed. Raises if it does not answer."""
    state_dir = Path(state_dir)
    info = _running_info(state_dir)
    if info is None:
        return None
    if not _healthy(info.port, HEALTH_TIMEOUT, state_dir=state_dir):
        raise WorkshopError(f"The emulator (pid {info.pid}) is running but not answering; {RESTART_HINT}.")
    return info


def ensure_running(state_dir: Path) -> EmulatorInfo:
    """The running emulator, started first if needed."""
    return status(state_dir) or start(state_dir)


def start(state_dir: Path, port: int = 0) -> EmulatorInfo:
    """Start the emulator detached and wait until it answers; `already_running` is set if it was."""
    if not 0 <= port <= 65535:
        raise BadInput(f"Port {port} does not exist: use 1-65535, or run `workshop emulator start` without --port.")
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    with _launch_lock(state_dir):
        notes: list[str] = []
        info = _running_info(state_dir, notes)
        if info is not None:
            if not _healthy(info.port, HEALTH_TIMEOUT, state_dir=state_dir):
                raise WorkshopError(f"The emulator (pid {info.pid}) is running but not answering; {RESTART_HINT}.")
            return dataclasses.replace(info, already_running=True, notes=tuple(notes))
        if port and not _port_free(port):
            raise WorkshopError(
                f"Port {port} on 127.0.0.1 is in use by another program; "
                "run `workshop emulator start` without --port to let the system pick a free one."
            )
        try:
            persist.signing_key()  # made here, once, rather than raced for by the emulator's first save
        except OSError as exc:
            raise WorkshopError(f"The key that signs the emulator's saved state cannot be made or read ({exc}); "
                                f"check that {persist.key_file().parent} is writable, then run the command again.") from None
        remembered = (files.read_json(state_dir / files.PORTS) or {}).get("port")
        proc = _spawn(state_dir, port)
        info = _wait_ready(state_dir, proc, port)
        if not port and isinstance(remembered, int) and remembered > 0 and info.port != remembered:
            notes.append(f"Port {remembered}, where the emulator listened last time, is taken by another program: "
                         f"it now listens on {info.port} (`workshop emulator status` shows it).")
        info = dataclasses.replace(info, notes=tuple(notes) + info.notes)
        _unshown.extend(info.notes)
        return info


def stop(state_dir: Path) -> bool:
    """Stop the emulator (it saves its state first); False if none was running."""
    state_dir = Path(state_dir)
    with _launch_lock(state_dir):
        info = _running_info(state_dir)
        if info is None:
            return False
        _terminate(info.pid)
        (state_dir / files.INFO).unlink(missing_ok=True)
        return True


# --- internals ---------------------------------------------------------------------------------------------------


def _info_from(state_dir: Path, data: dict[str, object]) -> EmulatorInfo:
    return EmulatorInfo(
        pid=int(data["pid"]),  # type: ignore[arg-type]
        port=int(data["port"]),  # type: ignore[arg-type]
        https_port=int(data["https_port"]),  # type: ignore[arg-type]
        endpoint=str(data["endpoint"]),
        state_file=Path(str(data["state_file"])),
        log_file=log_file(state_dir),
        notes=tuple(str(n) for n in data.get("notes", ()) or ()),  # type: ignore[union-attr]
    )


def _running_info(state_dir: Path, notes: list[str] | None = None) -> EmulatorInfo | None:
    """The info of a live emulator process of this folder; removes a pid file left by a dead one."""
    path = state_dir / files.INFO
    data = files.read_json(path)
    if data is None:
        if path.exists():
            path.unlink(missing_ok=True)
        return None
    try:
        info = _info_from(state_dir, data)
    except (KeyError, TypeError, ValueError):
        path.unlink(missing_ok=True)
        return None
    if _is_our_process(info.pid, state_dir):
        return info
    path.unlink(missing_ok=True)
    if notes is not None:
        notes.append(f"Removed the stale pid file of an emulator (pid {info.pid}) that is no longer running.")
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    if stat.rpartition(")")[2].split()[0] == "Z":  # a zombie: dead, waiting to be reaped by its parent
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        return False
    return True


def _is_our_process(pid: int, state_dir: Path) -> bool:
    """True when `pid` is alive and is this folder's emulator (not a recycled pid)."""
    if not _alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc: trust the pid
    return b"workshop.emulator.server" in cmdline and str(state_dir.resolve()).encode() in cmdline


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _healthy(port: int, timeout: float, need_ready: bool = False, state_dir: Path | None = None) -> bool:
    """The emulator answers (requests are accepted; they wait while moto loads) and, if asked, has loaded.

    Raises when it answers that loading moto failed (its requests would all fail).
    """
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_workshop/health", timeout=timeout) as response:
            answer = json.loads(response.read())
    except (OSError, ValueError):
        return False
    if answer.get("error"):
        where = f"see {log_file(state_dir)}, then " if state_dir else ""
        raise WorkshopError(f"The emulator could not load moto ({answer['error']}); {where}{RESTART_HINT}.")
    return bool(answer.get("ready")) or not need_ready


def emulator_env(state_dir: Path, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The emulator process's environment: an allowlist of the caller's, fake credentials, a HOME of its own."""
    source = os.environ if environ is None else environ
    env = {k: v for k, v in source.items() if k in ENV_ALLOW or k.startswith(ENV_ALLOW_PREFIXES)}
    home = state_dir / "home"
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    pyenv = Path(source.get("HOME") or Path.home()) / ".pyenv"
    if "PYENV_ROOT" not in env and pyenv.is_dir():  # where a declared runtime's Python may be (HOME moves below)
        env["PYENV_ROOT"] = str(pyenv)
    env.update(HOME=str(home), AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true",
               WORKSHOP_STATE_KEY_FILE=str(persist.key_file()))
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return env


def _private_log(state_dir: Path):
    """The log, opened for appending and readable by its owner only (it holds function output and request details)."""
    path = log_file(state_dir)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)  # a log left 0644 by an older runner is closed to others too
    return os.fdopen(fd, "ab")


def _spawn(state_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = emulator_env(state_dir.resolve())
    cmd = [sys.executable, "-m", "workshop.emulator.server", "--state-dir", str(state_dir.resolve()), "--port", str(port)]
    with _private_log(state_dir) as log:
        log.write(f"\n--- starting emulator {time.strftime('%Y-%m-%d %H:%M:%S')} ---\n".encode())
        log.flush()
        return subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            cwd=state_dir, env=env, start_new_session=True, close_fds=True,
        )


def _wait_ready(state_dir: Path, proc: subprocess.Popen[bytes], port: int) -> EmulatorInfo:
    deadline = time.monotonic() + START_TIMEOUT
    path = state_dir / files.INFO
    # Requests wait while the saved state loads; the launcher waits too only when that may end in a note to show.
    restoring = not persist.loads_cleanly(state_dir / files.STATE)
    delay = 0.01
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            raise _start_failure(state_dir, code, port)
        data = files.read_json(path)
        try:
            if data is not None and data.get("pid") == proc.pid and _healthy(int(data["port"]), 2.0, restoring, state_dir):
                return _info_from(state_dir, files.read_json(path) or data)
        except WorkshopError:
            _terminate(proc.pid)
            raise
        time.sleep(delay)
        delay = min(delay * 1.5, 0.1)
    _terminate(proc.pid)
    raise WorkshopError(
        f"The emulator did not answer within {START_TIMEOUT:.0f} s and was stopped; see {log_file(state_dir)}, "
        "then run `workshop emulator start` again.",
        detail="\n".join(tail_log(state_dir, 15)),
    )


def _start_failure(state_dir: Path, code: int, port: int) -> WorkshopError:
    if code == files.EXIT_PORT_IN_USE:
        return WorkshopError(
            f"Port {port} on 127.0.0.1 is in use by another program; "
            "run `workshop emulator start` without --port to let the system pick a free one."
        )
    return WorkshopError(
        f"The emulator stopped while starting (exit code {code}); see {log_file(state_dir)}, "
        f"then {RESTART_HINT}.",
        detail="\n".join(tail_log(state_dir, 15)),
    )


def _terminate(pid: int) -> None:
    """SIGTERM (the emulator saves its state), then SIGKILL if it does not exit in time."""
    for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.05)


@contextlib.contextmanager
def _launch_lock(state_dir: Path) -> Iterator[None]:
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / files.LOCK).open("a+") as handle:
        deadline = time.monotonic() + START_TIMEOUT + STOP_TIMEOUT
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                    raise WorkshopError(
                        f"Another `workshop emulator` command holds {state_dir / files.LOCK}; wait for it, "
                        "then run the command again."
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
