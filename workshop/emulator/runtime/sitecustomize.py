"""Loaded by any Python process a function starts (this folder is on its PYTHONPATH).

Such a process gets what the function itself gets: execute-api calls routed to the emulator, and no site-packages of
whichever interpreter it is (the Lambda runtime has none besides the SDK, which PYTHONPATH already provides).
"""

import os
import sys

import _workshop_netroute  # noqa: F401

if os.environ.get("_WORKSHOP_GATEWAY"):
    _given = {os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p}
    sys.path[:] = [p for p in sys.path
                   if os.path.abspath(p) in _given or not p.rstrip(os.sep).endswith(("site-packages", "dist-packages"))]
