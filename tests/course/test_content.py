"""The course content holds together: checkpoints/start plus solutions/*.patch, applied in order with git.

At every checkpoint both services' own tests pass; each behaviour check in steps/tests fails before its step
and passes after it (and still at the end); osls accepts both serverless.yml files at the start and the end.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
START = ROOT / "checkpoints" / "start"
SOLUTIONS = ROOT / "solutions"
STEP_CHECKS = ROOT / "steps" / "tests"
OSLS = ROOT / "node_modules" / ".bin" / "osls"
RIDE_RECORD, WILD_RYDES = "wild-rydes-ride-record", "wild-rydes"
SERVICES = (RIDE_RECORD, WILD_RYDES)

# Which behaviour check belongs to which step, and which service folder it is run against.
CHECK_FILES = {
    "test_handler_http.py": ("split-handler", RIDE_RECORD),
    "test_handler_sns.py": ("add-sns-handler", RIDE_RECORD),
    "test_request_ride_publish.py": ("publish-to-sns", WILD_RYDES),
}

# What the ${ssm:...} variables resolve to while osls packages (served by a local moto, see `ssm_server`).
RIDE_RECORD_URL = "https://abc123.execute-api.us-east-1.amazonaws.com/dev/record"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:wild-rydes-dev-RidesSnsTopic-ABC123"

COURSE = tomllib.loads((ROOT / "steps" / "course.toml").read_text())
STEP_NUMBER = {step["id"]: step["number"] for step in COURSE["steps"]}
# Every step that changes code or config ships a patch; deploy and behaviour steps do not.
PATCH_STEPS = [step for step in COURSE["steps"] if {"code", "config"} & set(step["kinds"])]
CHECKPOINTS = [0] + [step["number"] for step in PATCH_STEPS]
FINAL = CHECKPOINTS[-1]
PACKAGED = [(0, RIDE_RECORD), (0, WILD_RYDES), (FINAL, RIDE_RECORD), (FINAL, WILD_RYDES)]


def patch_path(step: dict) -> Path:
    return SOLUTIONS / f"{step['number']:02d}-{step['id']}.patch"


def offline_env(home: Path, **extra: str) -> dict[str, str]:
    """A minimal environment for child processes: a throwaway HOME, no user git config, fake AWS credentials."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(home / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.update(extra)
    return env


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=180)


def digest(*folders: Path) -> str:
    """A digest of the files in some folders: identical code is tested once, whichever checkpoint holds it."""
    hashed = hashlib.sha256()
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            hashed.update(str(path.relative_to(folder.parent)).encode() + b"\0" + path.read_bytes() + b"\0")
    return hashed.hexdigest()


class Content:
    """The workspace after every code/config step, built once from start + patches, and every run on it.

    Each run is a child process (pytest or osls) that spends most of its time importing, so all of them are
    started together on a small thread pool as soon as the checkpoints exist; a test waits for its own.
    """

    def __init__(self, base: Path):
        self.base = base
        self.home = base / "home"
        self.home.mkdir()
        self.after: dict[int, Path] = {}
        self._pool = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2))
        self._runs: dict[tuple, Future] = {}
        self.templates: Future | None = None

    def build(self) -> None:
        workspace = self.base / "workspace"
        shutil.copytree(START, workspace, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", ".serverless"))
        env = offline_env(
            self.home,
            GIT_AUTHOR_NAME="content test",
            GIT_AUTHOR_EMAIL="content@example.invalid",
            GIT_COMMITTER_NAME="content test",
            GIT_COMMITTER_EMAIL="content@example.invalid",
        )

        def git(*args: str) -> None:
            result = run(["git", *args], workspace, env)
            assert result.returncode == 0, f"git {' '.join(args)} failed:\n{result.stdout}{result.stderr}"

        git("init", "-q")
        git("add", "-A")
        git("commit", "-q", "-m", "start")
        self.after[0] = self._snapshot(workspace, 0)
        for step in PATCH_STEPS:
            git("apply", "--index", str(patch_path(step)))
            git("commit", "-q", "-m", step["id"])
            self.after[step["number"]] = self._snapshot(workspace, step["number"])

    def _snapshot(self, workspace: Path, number: int) -> Path:
        return shutil.copytree(workspace, self.base / f"after-{number:02d}", ignore=shutil.ignore_patterns(".git"))

    def state_before(self, number: int) -> Path:
        """The workspace as it is when step `number` begins."""
        return self.after[max(n for n in self.after if n < number)]

    def state_after(self, number: int) -> Path:
        return self.after[max(n for n in self.after if n <= number)]

    def _pytest(self, key: tuple, cwd: Path, *args: str, **env: str) -> Future:
        if key not in self._runs:
            command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
            # Only pytest's own plugins: the learner's plain `pip install pytest moto`, and a faster start.
            child_env = offline_env(self.home, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", **env)
            self._runs[key] = self._pool.submit(run, command, cwd, child_env)
        return self._runs[key]

    def service_tests(self, number: int, service: str) -> Future:
        """The service's own tests, as a learner runs them: `python -m pytest` in the service folder."""
        folder = self.after[number] / service
        # They read handlers/ and tests/ only: a step that changed nothing else (serverless.yml) reuses the run.
        return self._pytest(("service", digest(folder / "handlers", folder / "tests")), folder)

    def check(self, workspace: Path, check_file: str) -> Future:
        """A behaviour check from steps/tests against the workspace's service, run from the workspace root."""
        folder = workspace / CHECK_FILES[check_file][1]
        # The checks read the learner's handlers/ only.
        key = ("check", check_file, digest(folder / "handlers"))
        # As `workshop verify` runs them: the checks' own folder as rootdir, none of the project's addopts.
        args = ("-o", "addopts=", f"--rootdir={STEP_CHECKS}", str(STEP_CHECKS / check_file))
        return self._pytest(key, workspace, *args, WORKSHOP_SERVICE_DIR=str(folder))

    def check_states(self, check_file: str) -> dict[str, Path]:
        """Where a check must fail (before its step) and pass (after it, and at the end)."""
        number = STEP_NUMBER[CHECK_FILES[check_file][0]]
        return {"before": self.state_before(number), "after": self.state_after(number), "at the end": self.after[FINAL]}

    def package_all(self, ssm_endpoint: str) -> None:
        """`osls package` each (checkpoint, service) of PACKAGED, one after another (the first fills osls's cache)."""

        def package() -> dict[tuple[int, str], dict]:
            templates = {}
            env = offline_env(self.home, AWS_ENDPOINT_URL=ssm_endpoint, SLS_TELEMETRY_DISABLED="1", NODE_NO_WARNINGS="1")
            for number, service in PACKAGED:
                # A copy, so osls's .serverless/ folder never lands in a checkpoint the other runs read.
                folder = shutil.copytree(self.after[number] / service, self.base / f"osls-{number:02d}-{service}")
                result = run([str(OSLS), "package", "--stage", "dev", "--region", "us-east-1"], folder, env)
                if result.returncode != 0:
                    raise AssertionError(f"osls package {service} after step {number}:\n{result.stdout}{result.stderr}")
                template = folder / ".serverless" / "cloudformation-template-update-stack.json"
                templates[number, service] = json.loads(template.read_text())
            return templates

        self.templates = self._pool.submit(package)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="module")
def ssm_server():
    """A local moto server holding the SSM parameters the services read with ${ssm:...}.

    osls resolves ${ssm:...} by calling SSM even for `package` and `print`; offline that fails at once with
    `getaddrinfo ENOTFOUND ssm.us-east-1.amazonaws.com`. osls honours AWS_ENDPOINT_URL, so it asks this server.
    """
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        ssm = boto3.client("ssm", endpoint_url=url, region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        ssm.put_parameter(Name="/wild-rydes-ride-record/dev/URL", Value=RIDE_RECORD_URL, Type="String")
        ssm.put_parameter(Name="/wild-rydes/dev/SnsTopicArn", Value=TOPIC_ARN, Type="String")
        yield url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """The workspace after every code/config step (no runs started yet)."""
    built = Content(tmp_path_factory.mktemp("content"))
    try:
        built.build()
        yield built
    finally:
        built.close()


@pytest.fixture(scope="module")
def content(checkpoints, ssm_server):
    """The checkpoints with every run started at once; the tests below only wait for their own."""
    if OSLS.exists():
        checkpoints.package_all(ssm_server)
    for number in CHECKPOINTS:
        for service in SERVICES:
            checkpoints.service_tests(number, service)
    for check_file in CHECK_FILES:
        for workspace in checkpoints.check_states(check_file).values():
            checkpoints.check(workspace, check_file)
    return checkpoints


def test_every_code_and_config_step_has_exactly_one_patch():
    expected = sorted(patch_path(step).name for step in PATCH_STEPS)
    assert sorted(p.name for p in SOLUTIONS.glob("*.patch")) == expected


@pytest.mark.parametrize("step", PATCH_STEPS, ids=lambda step: step["id"])
def test_a_patch_touches_only_its_step_services(step):
    touched = set(re.findall(r"^diff --git a/([^/]+)/", patch_path(step).read_text(), flags=re.MULTILINE))
    assert touched and touched <= set(step["services"]), f"{patch_path(step).name} touches {sorted(touched)}"


def test_nothing_points_at_an_emulator():
    """The learner's services run unchanged on AWS: no endpoint URLs, no localhost, anywhere."""
    files = [*START.rglob("*.py"), *START.rglob("*.yml"), *SOLUTIONS.glob("*.patch")]
    found = [
        f"{path.relative_to(ROOT)}: {line.strip()}"
        for path in files
        for line in path.read_text().splitlines()
        if re.search(r"localhost|127\.0\.0\.1|endpoint_url|AWS_ENDPOINT_URL", line)
        # The service conftests name AWS_ENDPOINT_URL only to remove it from the tests' environment.
        and 'startswith(("AWS_ENDPOINT_URL"' not in line
    ]
    assert found == []


def test_patches_apply_in_order_from_the_start(checkpoints):
    assert sorted(checkpoints.after) == CHECKPOINTS


@pytest.mark.slow
@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("number", CHECKPOINTS, ids=lambda n: f"after-{n:02d}")
def test_service_tests_pass_at_every_checkpoint(content, number, service):
    result = content.service_tests(number, service).result()
    assert result.returncode == 0, f"{service} tests fail after step {number}:\n{result.stdout}{result.stderr}"


@pytest.mark.slow
@pytest.mark.parametrize("check_file", sorted(CHECK_FILES))
def test_behaviour_check_fails_before_its_step_and_passes_after(content, check_file):
    results = {when: content.check(state, check_file).result() for when, state in content.check_states(check_file).items()}
    before = results.pop("before")
    assert before.returncode == 1, f"{check_file} should fail before its step:\n{before.stdout}{before.stderr}"
    assert " passed" not in before.stdout, f"every test in {check_file} should fail before its step:\n{before.stdout}"
    for when, result in results.items():
        assert result.returncode == 0, f"{check_file} should pass {when}:\n{result.stdout}{result.stderr}"


# --- osls accepts the serverless.yml files --------------------------------------------------------------

@pytest.fixture(scope="module")
def templates(content) -> dict[tuple[int, str], dict]:
    """The CloudFormation templates `osls package` compiled, by (checkpoint, service)."""
    if content.templates is None:
        pytest.skip(f"osls is not installed at {OSLS.relative_to(ROOT)}: run `make setup`")
    return content.templates.result()


def granted(template: dict, action: str) -> list:
    """The resources the function role may perform `action` on."""
    statements = template["Resources"]["IamRoleLambdaExecution"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    return [resource for statement in statements if action in statement["Action"] for resource in statement["Resource"]]


@pytest.mark.slow
def test_osls_packages_the_start(templates):
    record = templates[0, RIDE_RECORD]["Resources"]
    assert record["PutRideRecordLambdaFunction"]["Properties"]["Handler"] == "handlers/put_ride_record.handler"
    assert record["RideRecordUrlParameter"]["Properties"]["Name"] == "/wild-rydes-ride-record/dev/URL"
    request_ride = templates[0, WILD_RYDES]["Resources"]["RequestRideLambdaFunction"]["Properties"]
    # Resolved from SSM at package time, as it is at deploy time.
    assert request_ride["Environment"]["Variables"] == {"RIDE_RECORD_URL": RIDE_RECORD_URL}


@pytest.mark.slow
def test_osls_packages_the_finished_module(templates):
    record = templates[FINAL, RIDE_RECORD]
    resources = record["Resources"]
    assert "PutRideRecordLambdaFunction" not in resources
    assert resources["PutRideRecordHttpLambdaFunction"]["Properties"]["Handler"] == "handlers/put_ride_record.handler_http"
    sns_function = resources["PutRideRecordSnsLambdaFunction"]["Properties"]
    assert sns_function["Handler"] == "handlers/put_ride_record.handler_sns"
    assert sns_function["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": ["RideRecordDlq", "Arn"]}}
    assert granted(record, "sqs:SendMessage") == [{"Fn::GetAtt": ["RideRecordDlq", "Arn"]}]
    subscriptions = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::SNS::Subscription"]
    assert [(s["TopicArn"], s["Protocol"]) for s in subscriptions] == [(TOPIC_ARN, "lambda")]
    # The bonus step's `redrivePolicy: {deadLetterTargetRef: ...}`: osls writes the subscription's RedrivePolicy and
    # the queue policy that lets SNS (from this topic only) send to the queue; the function's role is not involved.
    assert subscriptions[0]["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": ["RidesSnsSubscriptionDlq", "Arn"]}}
    (policy,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::SQS::QueuePolicy"]
    assert policy["Queues"] == [{"Ref": "RidesSnsSubscriptionDlq"}]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"} and statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == {"Fn::GetAtt": ["RidesSnsSubscriptionDlq", "Arn"]}
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": TOPIC_ARN}}
    assert granted(record, "sqs:SendMessage") == [{"Fn::GetAtt": ["RideRecordDlq", "Arn"]}]

    rydes = templates[FINAL, WILD_RYDES]
    request_ride = rydes["Resources"]["RequestRideLambdaFunction"]["Properties"]
    assert request_ride["Environment"]["Variables"] == {"RIDES_SNS_TOPIC_ARN": {"Ref": "RidesSnsTopic"}}
    assert granted(rydes, "sns:Publish") == [{"Ref": "RidesSnsTopic"}]
    parameter = rydes["Resources"]["RidesSnsTopicArnParameter"]["Properties"]
    assert (parameter["Name"], parameter["Value"]) == ("/wild-rydes/dev/SnsTopicArn", {"Ref": "RidesSnsTopic"})
