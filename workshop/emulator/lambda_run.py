"""Run one invocation of a moto LambdaFunction locally: a fresh interpreter per call, AWS-format logs.

The process gets the function's environment (plus the variables the Lambda runtime sets: region, fake credentials,
the emulator as AWS_ENDPOINT_URL), its timeout and a context object; see runtime/bootstrap.py for the other side.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workshop.emulator import iam_enforce, sandbox, settings

BOOTSTRAP = sandbox.RUNTIME_DIR / "bootstrap.py"
INIT_LIMIT = 10.0  # seconds AWS allows the init phase; a backstop, the bootstrap enforces the timeout itself


@dataclass
class Invocation:
    request_id: str
    payload: str  # the JSON the caller gets back
    errored: bool
    log_text: str  # the lines written to CloudWatch Logs, newline separated
    error_type: str | None = None
    error_message: str | None = None


def _environment(fn: Any, code: Path, request_id: str, stream: str, timeout: float) -> dict[str, str]:
    conf = settings.current()
    env = {str(k): str(v) for k, v in (fn.environment_vars or {}).items()}
    env.update({
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "HOME": str(conf.state_dir / "home"),
        "PYTHONPATH": os.pathsep.join([str(code), str(sandbox.RUNTIME_DIR), str(sandbox.sdk_dir(conf.state_dir))]),
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
        "_WORKSHOP_REQUEST_ID": request_id,
        "_WORKSHOP_TIMEOUT": repr(timeout),
        "_WORKSHOP_FUNCTION_ARN": fn.function_arn,
    })
    return env


def _event_json(event: Any) -> str:
    if isinstance(event, (bytes, str)):
        try:
            return json.dumps(json.loads(event or "{}"))
        except ValueError:
            return json.dumps(event if isinstance(event, str) else event.decode())
    return json.dumps({} if event is None else event)


def run(fn: Any, event: Any) -> Invocation:
    """Invoke `fn` (a moto LambdaFunction) with `event` in a subprocess and record its log stream."""
    conf = settings.current()
    request_id = str(uuid.uuid4())
    now = dt.datetime.now(dt.UTC)
    stream = f"{now:%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
    code = sandbox.code_dir(conf.state_dir, fn.code_bytes, getattr(fn, "code_sha_256", None))
    (conf.state_dir / "home").mkdir(exist_ok=True)
    timeout = float(fn.timeout or 3)
    scratch = conf.state_dir / "tmp"
    scratch.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        event_file, result_file = Path(tmp) / "event.json", Path(tmp) / "result.json"
        event_file.write_text(_event_json(event), encoding="utf-8")
        started = time.monotonic()
        env = _environment(fn, code, request_id, stream, timeout)
        proc = subprocess.Popen(
            [sys.executable, "-S", str(BOOTSTRAP), str(event_file), str(result_file)],
            cwd=code, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        timed_out = False
        try:
            output, _ = proc.communicate(timeout=timeout + INIT_LIMIT)  # the function times itself out after init
        except subprocess.TimeoutExpired:
            timed_out = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
        elapsed_ms = (time.monotonic() - started) * 1000
        try:
            result = json.loads(result_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            result = None
    text = output.decode("utf-8", "replace")
    return _finish(fn, request_id, stream, now, text, result, timed_out, timeout, elapsed_ms, proc.returncode)


def _finish(fn: Any, request_id: str, stream: str, now: dt.datetime, text: str, result: dict[str, Any] | None,
            timed_out: bool, timeout: float, elapsed_ms: float, returncode: int | None) -> Invocation:
    init_ms = float(result.get("init_ms", 0)) if result else 0.0
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
        f"Memory Size: {fn.memory_size} MB\tMax Memory Used: {max_mb} MB\tInit Duration: {init_ms:.2f} ms\t"
    )
    _write_logs(fn, stream, lines)
    error = payload if errored and isinstance(payload, dict) else {}
    return Invocation(request_id, json.dumps(payload), errored, "\n".join(lines),
                      error.get("errorType"), error.get("errorMessage"))


def _write_logs(fn: Any, stream: str, lines: list[str]) -> None:
    logs = fn.logs_backend
    logs.ensure_log_group(fn.logs_group_name)
    logs.create_log_stream(fn.logs_group_name, stream)
    stamp = int(time.time() * 1000)
    logs.put_log_events(fn.logs_group_name, stream, [{"timestamp": stamp, "message": line} for line in lines])
