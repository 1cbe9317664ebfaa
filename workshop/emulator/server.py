"""The emulator process: moto's server app behind the execute-api gateway, on 127.0.0.1 only.

Run by the launcher as `python -m workshop.emulator.server --state-dir DIR --port N` (0 lets the OS choose). It writes
emulator.json once both listeners are bound, saves the state on SIGTERM/SIGINT and every few seconds when changed.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from workshop.emulator import files, settings
from workshop.emulator.activity import activity

log = logging.getLogger("workshop.emulator")
SAVE_EVERY = float(os.environ.get("WORKSHOP_EMULATOR_SAVE_EVERY", "5"))
_ready = threading.Event()
_lock = threading.Lock()  # serialises saves


class Control:
    """Outermost WSGI layer: the health endpoint, the wait for a restored state, and activity tracking."""

    def __init__(self, app: Any):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == "/_workshop/health":
            body = json.dumps({"ready": _ready.is_set(), "pid": os.getpid()}).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        _ready.wait(120)
        changes = environ.get("REQUEST_METHOD") not in ("GET", "HEAD") and not environ.get("PATH_INFO", "").startswith("/moto-api")
        with activity.busy(changes):
            result = self.app(environ, start_response)
            try:
                return list(result)
            finally:
                getattr(result, "close", lambda: None)()


def save(state_file: Path, timeout: float) -> None:
    """Save the backends while no request runs (bounded wait)."""
    from workshop.emulator import persist

    with _lock, activity.quiet(timeout) as calm:
        if not calm:
            log.warning("state saved while requests were still running")
        started = time.perf_counter()
        count = persist.save(state_file)
        activity.dirty = False
    log.info("state saved: %d backends in %.3f s", count, time.perf_counter() - started)


def _saver(state_file: Path, stopping: threading.Event) -> None:
    while not stopping.wait(SAVE_EVERY):
        if activity.dirty:
            try:
                save(state_file, timeout=2.0)
            except Exception:  # noqa: BLE001 - a failed periodic save is logged and retried later
                log.exception("periodic save failed")


def _prepare(state_file: Path, notes: list[str]) -> None:
    """Restore the saved backends, then open the gate for requests."""
    from workshop.emulator import persist

    try:
        started = time.perf_counter()
        note = persist.restore(state_file)
        if note:
            notes.append(note)
            log.warning(note)
        elif state_file.exists():
            log.info("state restored in %.3f s", time.perf_counter() - started)
    finally:
        _ready.set()


class _QuietHealth(logging.Filter):
    """Keep the launcher's health polls out of the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "/_workshop/health" not in record.getMessage()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="workshop.emulator.server")
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stdout)
    logging.getLogger("werkzeug").addFilter(_QuietHealth())
    state_dir: Path = args.state_dir
    state_file = state_dir / files.STATE

    from werkzeug.serving import make_server

    from workshop.emulator import patches, tls
    from workshop.emulator.gateway import Gateway

    patches.install()
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

    app = Control(Gateway(DomainDispatcherApplication(create_backend_app)))
    previous = files.read_json(state_dir / files.PORTS) or {}

    def bind(port: int, prefer: object, **kwargs: Any) -> Any:
        """Bind `port`; with 0, the ports of the last run when free (endpoints stay the same), else any free one."""
        if not port and isinstance(prefer, int) and prefer > 0:
            try:
                return make_server("127.0.0.1", prefer, app, threaded=True, request_handler=MotoRequestHandler, **kwargs)
            except OSError:
                pass
        return make_server("127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler, **kwargs)

    try:
        plain = bind(args.port, previous.get("port"))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            log.error("port %d on 127.0.0.1 is in use", args.port)
            return files.EXIT_PORT_IN_USE
        raise
    secure = bind(0, previous.get("https_port"), ssl_context=tls.server_context(state_dir))
    port, https_port = plain.server_port, secure.server_port
    os.environ["MOTO_PORT"] = str(port)
    files.write_json_atomic(state_dir / files.PORTS, {"port": port, "https_port": https_port})
    settings.configure(settings.Settings(state_dir, port, https_port, tls.ca_file(state_dir), settings.retry_delays_from_env()))

    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    notes: list[str] = []
    _prepare_thread = threading.Thread(target=_prepare, args=(state_file, notes), daemon=True)
    _prepare_thread.start()
    for server in (plain, secure):
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    _prepare_thread.join()  # notes are complete once the state is loaded
    files.write_json_atomic(state_dir / files.INFO, {
        "pid": os.getpid(), "port": port, "https_port": https_port, "endpoint": f"http://127.0.0.1:{port}",
        "state_file": str(state_file), "notes": notes,
    })
    log.info("emulator listening on http://127.0.0.1:%d (execute-api TLS on %d)", port, https_port)
    threading.Thread(target=_saver, args=(state_file, stopping), daemon=True).start()

    stopping.wait()
    log.info("stopping")
    for server in (plain, secure):
        server.shutdown()
    if _ready.is_set():
        save(state_file, timeout=10.0)
    info = files.read_json(state_dir / files.INFO)
    if info and info.get("pid") == os.getpid():
        (state_dir / files.INFO).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
