"""Static checks of the handlers: their functions through `ast`, their behaviour through the workshop's step tests (subprocess)."""

from __future__ import annotations

import ast
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


def _uses(node: ast.AST, name: str) -> bool:
    """`name` is called or passed on inside `node` (`f(x)`, `map(f, xs)`, `for x in xs: f(x)` alike)."""
    return name in _calls(node) or any(isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)
                                       for n in ast.walk(node))


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
    if not _uses(http, "put_ride_record"):
        return failed("handler_http does not call put_ride_record", "handler_http calls put_ride_record(ride)",
                      f"In {RR_PY}, make handler_http parse the body and call `put_ride_record(ride)` instead of writing itself.")
    missing = missing_handlers(ctx.service_dir(RR), RR)
    if missing:
        return failed(missing[0], "every handler in serverless.yml names a function of the code",
                      f"In {RR}/serverless.yml, set `handler: handlers/put_ride_record.handler_http`: the old `handler` is gone.")
    return passed("put_ride_record(ride); handler_http(event, context) calls it; serverless.yml names handler_http", "both functions")


def missing_handlers(service_dir: Path, service: str) -> list[str]:
    """Each function of the service's serverless.yml whose `handler` names no top-level function of its file."""
    from workshop.deploy.service_file import ServiceFile, ServiceFileError

    try:
        sf = ServiceFile.load(service_dir, service)
    except ServiceFileError as exc:
        return [exc.message]
    problems = []
    for name, fn in sf.functions.items():
        handler = sf.handler_path(fn)
        module, _, function = handler.rpartition(".")
        path = service_dir / f"{module}.py"
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError):
            problems.append(f"{service}/serverless.yml: {name}'s handler {handler} names {module}.py, which cannot be read")
            continue
        defined = set(_functions(tree)) | {t.id for node in tree.body if isinstance(node, ast.Assign)
                                          for t in node.targets if isinstance(t, ast.Name)}
        if function not in defined:
            problems.append(f"{service}/serverless.yml: {name}'s handler {handler} names `{function}`, "
                            f"which {module}.py does not define")
    return problems


def handler_sns_function(ctx) -> Result:
    tree = _module(ctx, RR, "handlers/put_ride_record.py")
    fn = _need(tree, RR_PY, "handler_sns", 2, "(event, context)")
    if not _uses(fn, "put_ride_record"):
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
    sf = sls.config(ctx, WR)
    fn = sf.function("RequestRide") or {}
    env = sf.environment(fn)
    if not sf.refers_to(sf.resolve(env.get("RIDES_SNS_TOPIC_ARN")), TOPIC, TOPIC_ARN_ATTRS):
        seen = ("RequestRide has no RIDES_SNS_TOPIC_ARN in its `environment:`" if env.get("RIDES_SNS_TOPIC_ARN") is None
                else f"RIDES_SNS_TOPIC_ARN is {sls.raw(env['RIDES_SNS_TOPIC_ARN'])}")
        return failed(f"{seen}{sls.misplaced(sf, 'RequestRide', 'RIDES_SNS_TOPIC_ARN')}",
                      f"RIDES_SNS_TOPIC_ARN: Ref {TOPIC}",
                      f"In {WR_YML}, set RequestRide's `environment:` `RIDES_SNS_TOPIC_ARN: {{Ref: {TOPIC}}}`.")
    if "RIDE_RECORD_URL" in env:
        return failed("RequestRide's environment still sets RIDE_RECORD_URL", "no RIDE_RECORD_URL",
                      f"In {WR_YML}, delete RIDE_RECORD_URL from RequestRide's environment.")
    _, anywhere = sf.grants("sns:Publish", lambda r: isinstance(r, str) and r.strip() in ("*", "arn:aws:sns:*:*:*"))
    if anywhere:
        return failed("sns:Publish is allowed on Resource '*' (every topic in the account)", f"sns:Publish on Ref {TOPIC} only",
                      f"In {WR_YML}, allow `sns:Publish` on that one topic: `Resource: {{Ref: {TOPIC}}}`, not `'*'`.")
    has_action, covered = sf.grants("sns:Publish", lambda r: sf.refers_to(r, TOPIC, TOPIC_ARN_ATTRS))
    if not covered:
        seen = "sns:Publish is allowed on another resource" if has_action else "no IAM statement allows sns:Publish"
        return failed(seen, f"sns:Publish on Ref {TOPIC}",
                      f"In {WR_YML}, add to provider.iam.role.statements an Allow of `sns:Publish` on `Ref: {TOPIC}`.")
    return passed("module-level SNS client publishes; env and sns:Publish set", "publish to the topic")


# The workshop's behaviour tests (steps/tests) that target each service. One pytest process per service runs them FIRST,
# then the service's own tests (so the learner's tests cannot disturb the verdicts), and every check reads its part.
STEP_TESTS = {RR: ("test_handler_http.py", "test_handler_sns.py"), WR: ("test_request_ride_publish.py",)}
STEP_TEST_CHECK = {"test_handler_http.py": "handler-http-behaviour", "test_handler_sns.py": "handler-sns-behaviour",
                   "test_request_ride_publish.py": "request-ride-publish-behaviour"}


class TestRun:
    """One pytest run over a service: per file, the tests that ran and the failure messages; or why nothing ran."""

    def __init__(self, ran: dict[str, int], failures: dict[str, list[str]], problem: str = "", tail: str = ""):
        self.ran, self.failures, self.problem, self.tail = ran, failures, problem, tail

    def of(self, match) -> tuple[int, list[str]]:
        """(tests that ran, failure messages) over the files for which match(path) is true."""
        ran = sum(n for f, n in self.ran.items() if match(f))
        failures = [m for f, ms in self.failures.items() if match(f) for m in ms]
        return ran, list(dict.fromkeys(failures))


def _is(path: str, test_file: str) -> bool:
    return path.endswith(test_file) or path.endswith(test_file.removesuffix(".py"))


def _test_run(ctx, service: str) -> TestRun:
    return ctx.memo(("pytest", service), lambda: _run_tests(ctx, service))


def _run_tests(ctx, service: str) -> TestRun:
    from workshop.course import model as course
    from workshop.deploy.unit_tests import offline_env

    folder = ctx.service_dir(service)
    steps_tests = (ctx.course_root or course.course_root()) / "steps" / "tests"
    wanted = [name for name in STEP_TESTS.get(service, ()) if not ctx.running or STEP_TEST_CHECK[name] in ctx.running]
    paths = [str(steps_tests / name) for name in wanted if (steps_tests / name).is_file()]
    if (folder / "tests").is_dir():
        paths.append(str(folder / "tests"))
    with tempfile.TemporaryDirectory(prefix="workshop-check-") as tmp:
        report = Path(tmp) / "report.xml"
        env = {k: v for k, v in offline_env({"WORKSHOP_SERVICE_DIR": str(folder)}).items() if not k.startswith("PYTEST_")}
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "-o", "junit_family=xunit1",
               "--continue-on-collection-errors", f"--junitxml={report}", f"--rootdir={tmp}", *paths]
        try:
            done = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=TEST_TIMEOUT)
        except subprocess.TimeoutExpired:
            return TestRun({}, {}, f"the tests did not finish in {TEST_TIMEOUT:.0f} s")
        tail = (done.stdout + done.stderr).strip().splitlines()[-1:]
        ran, failures = _by_file(report)
        if not ran and done.returncode not in (0, 5):
            return TestRun({}, {}, f"the tests could not run: {tail[0] if tail else 'no output'}")
        return TestRun(ran, failures, tail="\n".join(tail))


def _by_file(report: Path) -> tuple[dict[str, int], dict[str, list[str]]]:
    """From a junit (xunit1) report: tests run per file and failure messages per file."""
    try:
        root = ET.parse(report).getroot()
    except (OSError, ET.ParseError):
        return {}, {}
    ran: dict[str, int] = {}
    failures: dict[str, list[str]] = {}
    for case in root.iter("testcase"):
        where = case.get("file") or case.get("classname", "").replace(".", "/")
        ran[where] = ran.get(where, 0) + 1
        for tag in ("failure", "error"):
            for node in case.findall(tag):
                text = (node.get("message") or "").removeprefix("Failed: ").strip().splitlines()
                failures.setdefault(where, []).append(text[0] if text else case.get("name", "a test"))
    return ran, failures


def _run_step_tests(ctx, service: str, test_file: str, fix: str) -> Result:
    """The workshop's behaviour test `test_file` against the learner's service folder; a failure's message is what the
    learner sees."""
    run = _test_run(ctx, service)
    if run.problem:
        if run.problem.startswith("the tests did not finish"):
            return failed(run.problem, "the step's tests pass", fix + " Look for a loop or a network call that waits.")
        return errored(run.problem, "Run `workshop test " + service + "` to see the error.")
    ran, messages = run.of(lambda f: _is(f, test_file))
    if messages:
        return failed("; ".join(messages[:2]), "the step's tests pass", fix)
    if not ran:
        return errored(f"{test_file} did not run: {run.tail}", "Run `workshop test " + service + "` to see the error.")
    return passed(f"{test_file}: all passed", "the step's tests pass")


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


def _service_tests(ctx, service: str) -> Result:
    """The service's own tests (its tests/ folder), offline, as `workshop test` runs them: part of every code step."""
    expected = f"{service}' own tests pass"
    fix = f"Run `workshop test {service}` and make its tests pass: the page asks you to update them with the code."
    if not (ctx.service_dir(service) / "tests").is_dir():
        return failed(f"{service}/tests is missing", expected, "Restore it with `workshop reset`.")
    run = _test_run(ctx, service)
    if run.problem:
        return failed(f"{service}' {run.problem.removeprefix('the ')}", expected, fix)
    ours = STEP_TESTS.get(service, ())
    ran, messages = run.of(lambda f: not any(_is(f, name) for name in ours))
    if messages:
        return failed(f"{len(messages)} of {ran} tests of {service}/tests fail: " + "; ".join(messages[:2]), expected, fix)
    if not ran:
        return failed(f"no test of {service}/tests ran: {run.tail}", expected, fix)
    return passed(f"{ran} tests of {service}/tests passed", expected)


def ride_record_tests(ctx) -> Result:
    return _service_tests(ctx, RR)


def wild_rydes_tests(ctx) -> Result:
    return _service_tests(ctx, WR)
