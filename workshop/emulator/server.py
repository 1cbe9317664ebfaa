"""The emulator process: moto's server app behind the execute-api gateway, on 127.0.0.1 only.

Run by the launcher as `python -m workshop.emulator.server --state-dir DIR --port N` (0: the last run's port if free,
else one the OS picks). It listens at once and imports moto (about a second) and restores the saved state in the
background; requests other than the health check wait for that. It saves the state on SIGTERM/SIGINT and every few
seconds when something changed.
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

from werkzeug.serving import WSGIRequestHandler, make_server

from workshop.emulator import files, settings, tls
from workshop.emulator.activity import activity

log = logging.getLogger("workshop.emulator")
SAVE_EVERY = float(os.environ.get("WORKSHOP_EMULATOR_SAVE_EVERY", "5"))
HEALTH = "/_workshop/health"
_ready = threading.Event()  # moto imported and patched, state restored
_save_lock = threading.Lock()
_moto_handler: list[type] = []
_load_error: list[str] = []


class _Handler(WSGIRequestHandler):
    """Answers the health check at once; any other request waits for moto, then is handled by moto's handler."""

    def make_environ(self) -> dict[str, Any]:
        if not self.path.startswith(HEALTH):
            _ready.wait(300)
            if _moto_handler:
                self.__class__ = _moto_handler[0]  # from now on moto's handler (it keeps headers with underscores)
                return self.make_environ()
        return super().make_environ()


class Control:
    """Outermost WSGI layer: the health endpoint and activity tracking around moto and the gateway."""

    def __init__(self) -> None:
        self.app: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == HEALTH:
            error = _load_error[0] if _load_error else None
            body = json.dumps({"ready": _ready.is_set(), "pid": os.getpid(), "error": error}).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        _ready.wait(300)
        if self.app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"the emulator failed to load moto; see its log"]
        changes = environ.get("REQUEST_METHOD") not in ("GET", "HEAD") and not environ.get("PATH_INFO", "").startswith("/moto-api")
        with activity.busy(changes):
            result = self.app(environ, start_response)
            try:
                return list(result)
            finally:
                getattr(result, "close", lambda: None)()


class _QuietHealth(logging.Filter):
    """Keep the launcher's health polls out of the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return HEALTH not in record.getMessage()


def save(state_file: Path, timeout: float, force: bool) -> None:
    """Save the backends while no request runs; after `timeout`, save anyway only if `force` (at stop)."""
    from workshop.emulator import persist

    with _save_lock, activity.quiet(timeout) as calm:
        if not calm and not force:
            return  # busy (a deploy is running): the next round will save
        if not calm:
            log.warning("state saved while requests were still running")
        started = time.perf_counter()
        count = persist.save(state_file)
        activity.dirty = False
    log.info("state saved: %d backends in %.3f s", count, time.perf_counter() - started)


def _saver(state_file: Path, stopping: threading.Event) -> None:
    while not stopping.wait(SAVE_EVERY):
        if activity.dirty and _ready.is_set():
            try:
                save(state_file, timeout=1.0, force=False)
            except Exception:  # noqa: BLE001 - a failed periodic save is logged and retried later
                log.exception("periodic save failed")


def _load(control: Control, state_file: Path, notes: list[str], publish: Any = None) -> None:
    """Import and patch moto, restore the saved backends, then let requests through. `publish` writes the notes where
    the launcher reads them, before the health check says ready (else a launcher could read them too early)."""
    try:
        from workshop.emulator import patches, speedups

        started = time.perf_counter()
        speedups.install()
        patches.install()
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )

        from workshop.emulator.gateway import Gateway
        from workshop.emulator.iam_enforce import Authorizer

        _moto_handler.append(MotoRequestHandler)
        control.app = Gateway(Authorizer(DomainDispatcherApplication(create_backend_app)))
        from workshop.emulator import persist

        note = persist.restore(state_file)
        if note:
            notes.append(note)
            log.warning(note)
        log.info("moto %s loaded%s in %.3f s", persist.moto_version(),
                 " and state restored" if state_file.exists() and not note else "", time.perf_counter() - started)
    except Exception as exc:  # noqa: BLE001 - logged; the health check reports it, requests get a 503
        _load_error.append(f"{type(exc).__name__}: {exc}")
        log.exception("loading moto failed")
    finally:
        if notes and publish is not None:
            try:
                publish()
            except OSError:  # the notes stay in the log
                log.exception("could not write the start notes")
        _ready.set()


def _bind(port: int, prefer: object, app: Any, **kwargs: Any) -> Any:
    """Bind `port`; with 0, the port of the last run when free (endpoints stay the same), else any free one."""
    if not port and isinstance(prefer, int) and 0 < prefer < 65536:
        try:
            return _make_server(prefer, app, **kwargs)
        except OSError:
            pass
    return _make_server(port, app, **kwargs)


def _make_server(port: int, app: Any, **kwargs: Any) -> Any:
    """werkzeug's make_server, with a taken port raised as OSError (werkzeug prints and calls sys.exit(1) instead)."""
    try:
        return make_server("127.0.0.1", port, app, threaded=True, request_handler=_Handler, **kwargs)
    except SystemExit:
        raise OSError(errno.EADDRINUSE, f"port {port} on 127.0.0.1 is in use") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="workshop.emulator.server")
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stdout)
    logging.getLogger("werkzeug").addFilter(_QuietHealth())
    state_dir: Path = args.state_dir
    state_file = state_dir / files.STATE

    control = Control()
    previous = files.read_json(state_dir / files.PORTS) or {}
    try:
        plain = _bind(args.port, previous.get("port"), control)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            log.error("port %d on 127.0.0.1 is in use", args.port)
            return files.EXIT_PORT_IN_USE
        raise
    secure = _bind(0, previous.get("https_port"), control, ssl_context=tls.server_context(state_dir))
    port, https_port = plain.server_port, secure.server_port
    os.environ["MOTO_PORT"] = str(port)
    files.write_json_atomic(state_dir / files.PORTS, {"port": port, "https_port": https_port})
    settings.configure(settings.Settings(state_dir, port, https_port, tls.ca_file(state_dir), settings.retry_delays_from_env()))

    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    notes: list[str] = []
    info = {"pid": os.getpid(), "port": port, "https_port": https_port, "endpoint": f"http://127.0.0.1:{port}",
            "state_file": str(state_file), "notes": notes}
    info_lock = threading.Lock()

    def publish() -> None:  # the launcher waits for `ready` when there is a state to restore, then reads the notes
        with info_lock:
            files.write_json_atomic(state_dir / files.INFO, info)

    with info_lock:
        threading.Thread(target=_load, args=(control, state_file, notes, publish), daemon=True, name="load-moto").start()
        for server in (plain, secure):
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
        files.write_json_atomic(state_dir / files.INFO, {**info, "notes": []})
    log.info("emulator listening on http://127.0.0.1:%d (execute-api TLS on %d)", port, https_port)
    threading.Thread(target=_saver, args=(state_file, stopping), daemon=True).start()
    _ready.wait()

    stopping.wait()
    log.info("stopping")
    for server in (plain, secure):
        server.shutdown()
    if control.app is not None:
        save(state_file, timeout=10.0, force=True)
    current = files.read_json(state_dir / files.INFO)
    if current and current.get("pid") == os.getpid():
        (state_dir / files.INFO).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
