"""Run invocations of a moto LambdaFunction locally, in warm execution environments, with AWS-format logs.

An environment (runtime/bootstrap.py in its own interpreter) serves one function version: made on the first
invocation (a cold start, reported with its Init Duration), kept for the next ones while idle less than
WARM_SECONDS (the handler module stays imported, globals keep their values), replaced when the function changes
(a deploy), ended by a timeout or an init error, as on AWS. Busy environments are not shared: a concurrent
invocation gets its own. Each environment gets the function's variables plus those the Lambda runtime sets
(region, the credentials of an assumed-role session of its execution role, the emulator as AWS_ENDPOINT_URL) and
its own log stream. The interpreter is the declared runtime's version when the machine has it; otherwise the
emulator's own, and the function's log and `workshop emulator status` say so once.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import functools
import glob
import hashlib
import json
import math
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workshop.emulator import files, iam_enforce, sandbox, settings

BOOTSTRAP = sandbox.RUNTIME_DIR / "bootstrap.py"
INIT_LIMIT = 10.0  # seconds AWS allows the init phase; a backstop, the bootstrap enforces the timeout itself
WARM_SECONDS = float(os.environ.get("WORKSHOP_EMULATOR_WARM_SECONDS", "600"))  # idle time before an environment ends
MAX_ENVIRONMENTS = 24
RUNTIMES_FILE = "runtimes.json"


@dataclass
class Invocation:
    request_id: str
    payload: str  # the JSON the caller gets back
    errored: bool
    log_text: str  # the lines written to CloudWatch Logs, newline separated
    error_type: str | None = None
    error_message: str | None = None
    cold: bool = True


# ---- interpreters -----------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=16)
def interpreter(runtime: str) -> tuple[str, str | None]:
    """(python executable, note) for a declared runtime ("python3.12"): its own version when installed, else the
    emulator's interpreter with a note saying so."""
    wanted = runtime.removeprefix("python") if runtime.startswith("python") else ""
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if not wanted or wanted == here:
        return sys.executable, None
    candidates = [shutil.which(f"python{wanted}"), f"/usr/bin/python{wanted}", f"/usr/local/bin/python{wanted}"]
    pyenv = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates += sorted(glob.glob(os.path.join(pyenv, "versions", f"{wanted}.*", "bin", f"python{wanted}")), reverse=True)
    for candidate in candidates:
        if candidate and os.path.exists(candidate) and _reports(candidate, wanted):
            return candidate, None
    return sys.executable, (f"{runtime} is not installed on this machine: the emulator runs this function on "
                            f"Python {sys.version.split()[0]}")


def _reports(executable: str, wanted: str) -> bool:
    try:
        done = subprocess.run([executable, "-S", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                              capture_output=True, text=True, timeout=10, env={"PATH": "/usr/bin:/bin"})
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and done.stdout.strip() == wanted


def _remember_note(fn: Any, note: str) -> None:
    """Once per function: the note goes to runtimes.json, which `workshop emulator status` reads."""
    path = settings.current().state_dir / RUNTIMES_FILE
    with _lock:
        known = files.read_json(path) or {}
        if known.get(fn.function_name) == note:
            return
        known[fn.function_name] = note
        files.write_json_atomic(path, known)


def runtime_notes(state_dir: Path) -> list[str]:
    """What the emulator says about runtimes it substitutes (one line per function)."""
    known = files.read_json(Path(state_dir) / RUNTIMES_FILE) or {}
    return [f"{name}: {note}" for name, note in sorted(known.items()) if isinstance(note, str)]


# ---- environments ----------------------------------------------------------------------------------------------

@dataclass
class _Environment:
    key: tuple[str, ...]
    proc: subprocess.Popen[bytes]
    stream: str
    folder: Path
    lines: queue.Queue[bytes | None] = field(default_factory=queue.Queue)
    invocations: int = 0
    last_used: float = field(default_factory=time.monotonic)
    note: str | None = None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def end(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self.proc.stdin.close()  # type: ignore[union-attr]
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        shutil.rmtree(self.folder, ignore_errors=True)


_lock = threading.RLock()
_idle: dict[tuple[str, ...], list[_Environment]] = {}
_busy: set[int] = set()
_reaper: list[threading.Thread] = []


def _version_key(fn: Any) -> tuple[str, ...]:
    """What makes a new environment necessary: the function's code and configuration (a deploy changes them)."""
    config = json.dumps([fn.handler, fn.run_time, fn.timeout, fn.memory_size, fn.role, fn.environment_vars,
                         getattr(fn, "code_sha_256", None), str(getattr(fn, "last_modified", ""))], sort_keys=True,
                        default=str)
    return fn.function_arn, str(getattr(fn, "version", "$LATEST")), hashlib.sha256(config.encode()).hexdigest()


def _take(key: tuple[str, ...]) -> _Environment | None:
    now = time.monotonic()
    with _lock:
        stale = [env for k, envs in _idle.items() if k[0] == key[0] and k != key for env in envs]
        for k in [k for k in _idle if k[0] == key[0] and k != key]:
            del _idle[k]  # the function changed: its old environments end
        found = None
        pool = _idle.get(key, [])
        while pool:
            env = pool.pop()
            if env.alive() and now - env.last_used < WARM_SECONDS:
                found = env
                break
            stale.append(env)
    for env in stale:
        env.end()
    return found


def _give_back(env: _Environment) -> None:
    env.last_used = time.monotonic()
    extra: list[_Environment] = []
    with _lock:
        _idle.setdefault(env.key, []).append(env)
        every = sorted((e for envs in _idle.values() for e in envs), key=lambda e: e.last_used)
        extra = every[:max(0, len(every) - MAX_ENVIRONMENTS)]
        for old in extra:
            _idle[old.key].remove(old)
    for old in extra:
        old.end()
    _start_reaper()


def _reap() -> None:
    while True:
        time.sleep(min(30.0, max(WARM_SECONDS / 4, 0.5)))
        now = time.monotonic()
        with _lock:
            expired = [e for envs in _idle.values() for e in envs if now - e.last_used >= WARM_SECONDS or not e.alive()]
            for env in expired:
                _idle[env.key].remove(env)
        for env in expired:
            env.end()


def _start_reaper() -> None:
    with _lock:
        if not _reaper:
            thread = threading.Thread(target=_reap, daemon=True, name="lambda-reaper")
            _reaper.append(thread)
            thread.start()


@atexit.register
def end_all() -> None:
    """End every environment (the emulator stops)."""
    with _lock:
        every = [e for envs in _idle.values() for e in envs]
        _idle.clear()
    for env in every:
        env.end()


def _environment(fn: Any, code: Path, stream: str) -> dict[str, str]:
    conf = settings.current()
    env = {str(k): str(v) for k, v in (fn.environment_vars or {}).items()}
    env.update({
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "HOME": str(conf.state_dir / "home"),
        "PYTHONPATH": os.pathsep.join([str(code), str(sandbox.RUNTIME_DIR), str(sandbox.sdk_dir(conf.state_dir))]),
        "PYTHONPYCACHEPREFIX": str(conf.state_dir / "pycache"),  # compiled once per Python version, outside the code
        "LAMBDA_TASK_ROOT": str(code),
        "LAMBDA_RUNTIME_DIR": str(sandbox.RUNTIME_DIR),
        "_HANDLER": fn.handler or "",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
        "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": fn.logs_group_name,
        "AWS_LAMBDA_LOG_STREAM_NAME": stream,
        "AWS_REGION": fn.region,
        "AWS_DEFAULT_REGION": fn.region,
        **iam_enforce.credentials_for(fn.account_id, fn.region, fn.role, fn.function_name),
        "AWS_ENDPOINT_URL": conf.endpoint,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "_WORKSHOP_GATEWAY": f"{conf.port}:{conf.https_port}:{conf.ca_file}",
        "_WORKSHOP_FUNCTION_ARN": fn.function_arn,
    })
    return env


def _spawn(fn: Any, key: tuple[str, ...]) -> _Environment:
    conf = settings.current()
    code = sandbox.code_dir(conf.state_dir, fn.code_bytes, getattr(fn, "code_sha_256", None))
    (conf.state_dir / "home").mkdir(exist_ok=True)
    scratch = conf.state_dir / "tmp"
    scratch.mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=scratch))
    stream = f"{dt.datetime.now(dt.UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
    executable, note = interpreter(str(fn.run_time or ""))
    proc = subprocess.Popen(
        [executable, "-S", str(BOOTSTRAP)], cwd=code, env=_environment(fn, code, stream), stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    env = _Environment(key, proc, stream, folder, note=note)
    threading.Thread(target=_pump, args=(proc, env.lines), daemon=True, name="lambda-output").start()
    if note:
        _remember_note(fn, note)
    return env


def _pump(proc: subprocess.Popen[bytes], lines: queue.Queue[bytes | None]) -> None:
    assert proc.stdout is not None
    for line in iter(proc.stdout.readline, b""):
        lines.put(line)
    lines.put(None)


def _event_json(event: Any) -> str:
    if isinstance(event, (bytes, str)):
        try:
            return json.dumps(json.loads(event or "{}"))
        except ValueError:
            return json.dumps(event if isinstance(event, str) else event.decode())
    return json.dumps({} if event is None else event)


def run(fn: Any, event: Any) -> Invocation:
    """Invoke `fn` (a moto LambdaFunction) with `event` in a warm environment (or a new one) and record its log."""
    key = _version_key(fn)
    env = _take(key)
    cold = env is None
    if env is None:
        env = _spawn(fn, key)
    request_id = str(uuid.uuid4())
    now = dt.datetime.now(dt.UTC)
    timeout = float(fn.timeout or 3)
    marker = f"\x00workshop-end-{uuid.uuid4().hex}"
    event_file, result_file = env.folder / "event.json", env.folder / "result.json"
    result_file.unlink(missing_ok=True)
    event_file.write_text(_event_json(event), encoding="utf-8")
    started = time.monotonic()
    message = {"event_file": str(event_file), "result_file": str(result_file), "request_id": request_id,
               "timeout": timeout, "marker": marker}
    output: list[bytes] = []
    ended, timed_out = False, False
    try:
        assert env.proc.stdin is not None
        env.proc.stdin.write((json.dumps(message) + "\n").encode())
        env.proc.stdin.flush()
    except OSError:
        ended = True
    deadline = started + timeout + (INIT_LIMIT if cold else 0) + 2.0  # the bootstrap times itself out first
    while not ended:
        try:
            line = env.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            timed_out, ended = True, True
            break
        if line is None:
            ended = True
        elif line.rstrip(b"\n") == marker.encode():
            break
        else:
            output.append(line)
    elapsed_ms = (time.monotonic() - started) * 1000
    try:
        result = json.loads(result_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        result = None
    if ended or (result and result.get("timed_out")):
        env.end()
        if ended and output and output[-1].strip() == b"":
            output.pop()
    elif not env.alive():
        env.end()
    else:
        env.invocations += 1
        _give_back(env)
    text = b"".join(output).decode("utf-8", "replace")
    if cold and env.note:
        text = f"[WARNING] {env.note}\n" + text
    invocation = _finish(fn, request_id, env.stream, now, text, result, timed_out, timeout, elapsed_ms,
                         env.proc.returncode, cold)
    return invocation


def _finish(fn: Any, request_id: str, stream: str, now: dt.datetime, text: str, result: dict[str, Any] | None,
            timed_out: bool, timeout: float, elapsed_ms: float, returncode: int | None, cold: bool = True) -> Invocation:
    init_ms = float(result.get("init_ms", 0)) if result and cold else 0.0
    duration = max(elapsed_ms - init_ms, 0.01)
    lines = [f"START RequestId: {request_id} Version: $LATEST"]
    lines += [line for line in text.splitlines() if line.strip()]
    timed_out = timed_out or bool(result and result.get("timed_out"))
    if timed_out:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        lines.append(f"{stamp} {request_id} Task timed out after {timeout:.2f} seconds")
        payload = {"errorMessage": f"{stamp} {request_id} Task timed out after {timeout:.2f} seconds",
                   "errorType": "Sandbox.Timedout"}
        errored = True
    elif result is None:
        payload = {"errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status {returncode}",
                   "errorType": "Runtime.ExitError"}
        lines.append(payload["errorMessage"])
        errored = True
    else:
        payload, errored = result["payload"], not result["ok"]
    max_mb = math.ceil(int(result.get("max_rss_kb", 0)) / 1024) if result else 0
    lines.append(f"END RequestId: {request_id}")
    lines.append(
        f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\tBilled Duration: {math.ceil(duration)} ms\t"
        f"Memory Size: {fn.memory_size} MB\tMax Memory Used: {max_mb} MB\t"
        + (f"Init Duration: {init_ms:.2f} ms\t" if cold else "")  # AWS reports it on a cold start only
    )
    _write_logs(fn, stream, lines)
    error = payload if errored and isinstance(payload, dict) else {}
    return Invocation(request_id, json.dumps(payload), errored, "\n".join(lines),
                      error.get("errorType"), error.get("errorMessage"), cold)


def _write_logs(fn: Any, stream: str, lines: list[str]) -> None:
    logs = fn.logs_backend
    logs.ensure_log_group(fn.logs_group_name)
    group = logs.groups.get(fn.logs_group_name)
    if group is None or stream not in group.streams:  # one stream per execution environment, as on AWS
        logs.create_log_stream(fn.logs_group_name, stream)
    stamp = int(time.time() * 1000)
    logs.put_log_events(fn.logs_group_name, stream, [{"timestamp": stamp, "message": line} for line in lines])
