"""Static checks of the handlers: their functions through `ast`, their behaviour through the workshop's step tests (subprocess)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from workshop.checks import sls
from workshop.checks.model import Problem, Result, errored, failed, passed
from workshop.checks.registry import RR, WR
from workshop.checks.static import TOPIC, TOPIC_ARN_ATTRS, WR_YML

TEST_TIMEOUT = 90.0
RR_PY, WR_PY = f"{RR}/handlers/put_ride_record.py", f"{WR}/handlers/request_ride.py"


def _module(ctx, service: str, relative: str) -> ast.Module:
    shown = f"{service}/{relative}"

    def parse() -> ast.Module:
        path = ctx.service_dir(service) / relative
        try:
            return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except FileNotFoundError:
            raise Problem(failed(f"{shown} is missing", f"{shown}", "Restore it with `workshop reset`.")) from None
        except SyntaxError as exc:
            raise Problem(failed(f"{shown} line {exc.lineno}: {exc.msg}", "valid Python", f"Fix {shown} at line {exc.lineno}.")) from None

    return ctx.memo(("ast", service, relative), parse)


def _functions(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}


def _params(fn: ast.FunctionDef) -> list[str]:
    return [a.arg for a in fn.args.posonlyargs + fn.args.args]


def _calls(node: ast.AST) -> set[str]:
    """Names called inside `node`: `f(...)` gives f, `x.f(...)` gives f."""
    names = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            func = sub.func
            names.add(func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else "")
    return names


def _need(tree: ast.Module, shown: str, name: str, count: int, signature: str) -> ast.FunctionDef:
    fn = _functions(tree).get(name)
    if fn is None:
        raise Problem(failed(f"{shown} has no top-level function {name}", f"def {name}{signature}",
                             f"In {shown}, add `def {name}{signature}:` at module level."))
    if len(_params(fn)) != count:
        raise Problem(failed(f"def {name}({', '.join(_params(fn))})", f"def {name}{signature}",
                             f"In {shown}, give {name} exactly the parameters {signature}."))
    return fn


def put_ride_record_functions(ctx) -> Result:
    tree = _module(ctx, RR, "handlers/put_ride_record.py")
    _need(tree, RR_PY, "put_ride_record", 1, "(ride)")
    http = _need(tree, RR_PY, "handler_http", 2, "(event, context)")
    if "put_ride_record" not in _calls(http):
        return failed("handler_http does not call put_ride_record", "handler_http calls put_ride_record(ride)",
                      f"In {RR_PY}, make handler_http parse the body and call `put_ride_record(ride)` instead of writing itself.")
    return passed("put_ride_record(ride); handler_http(event, context) calls it", "both functions")


def handler_sns_function(ctx) -> Result:
    tree = _module(ctx, RR, "handlers/put_ride_record.py")
    fn = _need(tree, RR_PY, "handler_sns", 2, "(event, context)")
    if "put_ride_record" not in _calls(fn):
        return failed("handler_sns does not call put_ride_record", "handler_sns calls put_ride_record for each record",
                      f"In {RR_PY}, call `put_ride_record(json.loads(record['Sns']['Message']))` for each record.")
    return passed("handler_sns(event, context) calls put_ride_record", "handler_sns")


def _module_level_sns_client(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Call):
            call = node.value
            if "client" in _calls(call) and any(isinstance(a, ast.Constant) and a.value == "sns" for a in call.args):
                return True
    return False


def request_ride_publishes(ctx) -> Result:
    tree = _module(ctx, WR, "handlers/request_ride.py")
    if not _module_level_sns_client(tree):
        return failed("no module-level boto3 SNS client", "sns = boto3.client('sns') at module level",
                      f"In {WR_PY}, create the client once at the top: `sns = boto3.client(\"sns\")` (warm calls reuse it).")
    if "publish" not in _calls(tree):
        return failed("no call to publish", "sns.publish(TopicArn=..., Message=json.dumps(ride))",
                      f"In {WR_PY}, publish the ride: `sns.publish(TopicArn=RIDES_SNS_TOPIC_ARN, Message=json.dumps(ride))`.")
    source = ast.unparse(tree)
    if "urlopen" in _calls(tree) or "RIDE_RECORD_URL" in source:
        return failed("request_ride.py still posts to RIDE_RECORD_URL", "no HTTP call to ride-record",
                      f"In {WR_PY}, delete RIDE_RECORD_URL and the urllib POST: the topic replaces them.")
    doc = sls.config(ctx, WR)
    fn = sls.functions(doc).get("RequestRide") or {}
    env = sls.environment(doc, fn)
    if not sls.refers_to(sls.resolve(env.get("RIDES_SNS_TOPIC_ARN"), doc), TOPIC, TOPIC_ARN_ATTRS):
        seen = ("RequestRide has no RIDES_SNS_TOPIC_ARN in its `environment:`" if env.get("RIDES_SNS_TOPIC_ARN") is None
                else f"RIDES_SNS_TOPIC_ARN is {env.get('RIDES_SNS_TOPIC_ARN')!r}")
        return failed(seen, f"RIDES_SNS_TOPIC_ARN: Ref {TOPIC}",
                      f"In {WR_YML}, set RequestRide's `environment:` `RIDES_SNS_TOPIC_ARN: {{Ref: {TOPIC}}}`.")
    if "RIDE_RECORD_URL" in env:
        return failed("RequestRide's environment still sets RIDE_RECORD_URL", "no RIDE_RECORD_URL",
                      f"In {WR_YML}, delete RIDE_RECORD_URL from RequestRide's environment.")
    has_action, covered = sls.grants(doc, "sns:Publish", lambda r: r == "*" or sls.refers_to(r, TOPIC, TOPIC_ARN_ATTRS))
    if not covered:
        seen = "sns:Publish is allowed on another resource" if has_action else "no IAM statement allows sns:Publish"
        return failed(seen, f"sns:Publish on Ref {TOPIC}",
                      f"In {WR_YML}, add to provider.iam.role.statements an Allow of `sns:Publish` on `Ref: {TOPIC}`.")
    return passed("module-level SNS client publishes; env and sns:Publish set", "publish to the topic")


def _run_step_tests(ctx, service: str, test_file: str, fix: str) -> Result:
    """Run one of steps/tests against the learner's service folder; a failure's message is what the learner sees."""
    from workshop.course import model as course

    tests = (ctx.course_root or course.course_root()) / "steps" / "tests" / test_file
    with tempfile.TemporaryDirectory(prefix="workshop-check-") as tmp:
        report = Path(tmp) / "report.xml"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST_"))}
        env.update(WORKSHOP_SERVICE_DIR=str(ctx.service_dir(service)), PYTHONDONTWRITEBYTECODE="1", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-o", "addopts=",
               f"--junitxml={report}", f"--rootdir={tests.parent}", str(tests)]
        try:
            done = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=TEST_TIMEOUT)
        except subprocess.TimeoutExpired:
            return failed(f"the tests did not finish in {TEST_TIMEOUT:.0f} s", "the step's tests pass",
                          fix + " Look for a loop or a network call that waits.")
        if done.returncode == 0:
            return passed(f"{test_file}: all passed", "the step's tests pass")
        messages = _failures(report)
        if not messages:
            return errored(f"the tests could not run: {(done.stdout + done.stderr).strip().splitlines()[-1:]}",
                           "Run `workshop test " + service + "` to see the error.")
        return failed("; ".join(messages[:2]), "the step's tests pass", fix)


def _failures(report: Path) -> list[str]:
    try:
        root = ET.parse(report).getroot()
    except (OSError, ET.ParseError):
        return []
    found = []
    for case in root.iter("testcase"):
        for tag in ("failure", "error"):
            for node in case.findall(tag):
                text = (node.get("message") or "").removeprefix("Failed: ").strip().splitlines()
                found.append(text[0] if text else case.get("name", "a test"))
    return list(dict.fromkeys(found))


def handler_http_behaviour(ctx) -> Result:
    return _run_step_tests(ctx, RR, "test_handler_http.py",
                           f"Edit {RR_PY} until `put_ride_record(ride)` stores the ride and `handler_http` answers 201; "
                           f"then `workshop test {RR}`.")


def handler_sns_behaviour(ctx) -> Result:
    return _run_step_tests(ctx, RR, "test_handler_sns.py",
                           f"Edit {RR_PY} so handler_sns stores `json.loads(record['Sns']['Message'])` of every record; "
                           f"then `workshop test {RR}`.")


def request_ride_publish_behaviour(ctx) -> Result:
    return _run_step_tests(ctx, WR, "test_request_ride_publish.py",
                           f"Edit {WR_PY} so handler publishes the ride once to RIDES_SNS_TOPIC_ARN and makes no HTTP call; "
                           f"then `workshop test {WR}`.")
