"""A Lambda execution environment, as the AWS Python runtime runs one (standard library only).

Started once per environment; it imports the handler ($_HANDLER, "path/module.function") on its first invocation
(the init phase) and keeps it for the next ones (a warm start). Each invocation is one JSON line on stdin:
{"event_file", "result_file", "request_id", "timeout", "marker"}. It writes {"ok", "payload", "init_ms",
"max_rss_kb"} to result_file, then the marker line on stdout: whatever the function printed before it is the
invocation's log. A timeout or an init error ends the environment (the next invocation is a cold start); stdin
closed (the emulator gone) ends it too.
"""

import importlib
import json
import logging
import os
import resource
import signal
import sys
import time
import traceback

import _workshop_netroute  # noqa: F401  - must come first: routes execute-api calls to the emulator

_STARTED = time.monotonic()


class Context:
    """The `context` argument of a handler."""

    def __init__(self, request_id, deadline):
        self.aws_request_id = request_id
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ.get("_WORKSHOP_FUNCTION_ARN", "")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.time()) * 1000))


class _RequestIdFilter(logging.Filter):
    def __init__(self, request_id):
        super().__init__()
        self.request_id = request_id

    def filter(self, record):
        record.aws_request_id = self.request_id
        return True


def _setup_logging(request_id):
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
                                           "%Y-%m-%dT%H:%M:%S"))
    handler.formatter.converter = time.gmtime
    request_filter = _RequestIdFilter(request_id)
    handler.addFilter(request_filter)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    return request_filter


def _error(error_type, message, request_id, trace=None):
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": trace or []}


def _log_error(error, tb_text=""):
    print(f"[ERROR] {error['errorType']}: {error['errorMessage']}\n{tb_text}".rstrip(), flush=True)


def _load_handler(request_id):
    module_path, _, function_name = os.environ["_HANDLER"].rpartition(".")
    try:
        module = importlib.import_module(module_path.replace("/", "."))
    except SyntaxError as exc:
        return None, _error("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_path}': {exc}", request_id)
    except ImportError as exc:
        return None, _error("Runtime.ImportModuleError", f"Unable to import module '{module_path}': {exc}", request_id)
    except Exception as exc:  # noqa: BLE001 - the runtime reports any init error the same way
        trace = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:])
        return None, _error(type(exc).__name__, str(exc), request_id, trace)
    handler = getattr(module, function_name, None)
    if handler is None:
        return None, _error("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_path}'", request_id)
    return handler, None


def _invoke(handler, error, event, request_id, timeout, result_file, init_ms):
    deadline = time.time() + timeout  # as on AWS, the timeout counts from the end of the init phase
    _arm_timeout(timeout, result_file, init_ms)
    ok, payload = False, error
    if error is not None:
        _log_error(error)
    else:
        try:
            payload = handler(event, Context(request_id, deadline))
            payload = json.loads(json.dumps(payload))
            ok = True
        except Exception as exc:  # noqa: BLE001 - an unhandled error becomes the invocation's error payload
            trace = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:])
            payload = _error(type(exc).__name__, str(exc), request_id, trace)
            _log_error(payload, "Traceback (most recent call last):\n" + "".join(trace))
    sys.stdout.flush()
    sys.stderr.flush()
    signal.setitimer(signal.ITIMER_REAL, 0)
    _write_result(result_file, {"ok": ok, "payload": payload, "init_ms": init_ms})


def main():
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]  # the runtime folder is on PYTHONPATH already, after the function's code as on AWS
    request_filter = _setup_logging("")
    handler, error, initialized = None, None, False
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        message = json.loads(line)
        request_id = message["request_id"]
        request_filter.request_id = request_id
        os.environ["_X_AMZN_REQUEST_ID"] = request_id
        with open(message["event_file"], encoding="utf-8") as handle:
            event = json.load(handle)
        init_ms = 0.0
        if not initialized:
            handler, error = _load_handler(request_id)
            init_ms = (time.monotonic() - _STARTED) * 1000
            initialized = True
        _invoke(handler, error, event, request_id, float(message["timeout"]), message["result_file"], init_ms)
        os.write(1, ("\n" + message["marker"] + "\n").encode())
        if error is not None:
            os._exit(0)  # an init error: the next invocation starts a new environment


def _peak_memory_kb():
    """VmHWM: the peak resident size of this program (ru_maxrss would include the parent's, from before exec)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _write_result(result_file, result):
    result["max_rss_kb"] = _peak_memory_kb()
    with open(result_file, "w", encoding="utf-8") as handle:
        json.dump(result, handle)


def _arm_timeout(timeout, result_file, init_ms):
    def expire(signum, frame):
        sys.stdout.flush()
        _write_result(result_file, {"ok": False, "timed_out": True, "payload": None, "init_ms": init_ms})
        os._exit(124)  # the environment ends with the invocation

    signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout)


if __name__ == "__main__":
    main()
