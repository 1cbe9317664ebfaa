"""Loaded by any Python process a function starts (kept first on PYTHONPATH): route execute-api calls locally."""

import _workshop_netroute  # noqa: F401
