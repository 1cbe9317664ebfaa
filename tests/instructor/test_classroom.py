"""Class mode: stages found from stack names, placed at their step by the live checks only, read-only and counted;
the table at 80 and 120 columns; teardown. The emulator tests deploy a small class by replaying checkpoint exports."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import CLI_ENV, REPO
from workshop.checks import registry
from workshop.checks.model import Result
from workshop.checks.runner import CheckRun
from workshop.course import model as course
from workshop.instructor import classroom

RR, WR = "wild-rydes-ride-record", "wild-rydes"
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
LONG_STAGE = "jennifer-martinez-at-the-back-of-room-42"  # 40 characters, the longest stage allowed


def _course():
    return course.load(known_checks=registry.ids())


LAST = _course().steps[-1].number  # the module's last step (a bonus step included) has live checks


def _runs(passing: set[str] | None = None, failing: set[str] | None = None) -> dict[str, CheckRun]:
    """Runs of every live check: all pass, except `failing` (or only `passing` pass)."""
    found = {}
    for _step, ids in classroom.live_steps(_course()):
        for check_id in ids:
            ok = (check_id in passing) if passing is not None else (check_id not in (failing or set()))
            found[check_id] = CheckRun(registry.get(check_id), Result("pass" if ok else "fail", "seen", "wanted", "fix it"))
    return found


# --- units -------------------------------------------------------------------------------------------------------

def test_stages_are_read_from_stack_names_the_longest_service_first():
    summaries = [
        {"StackName": "wild-rydes-ride-record-dev", "StackStatus": "UPDATE_COMPLETE"},
        {"StackName": "wild-rydes-dev", "StackStatus": "CREATE_COMPLETE"},
        {"StackName": "wild-rydes-ride-record-bob", "StackStatus": "CREATE_IN_PROGRESS"},
        {"StackName": "wild-rydes-gone", "StackStatus": "DELETE_COMPLETE"},
        {"StackName": "someone-elses-stack", "StackStatus": "CREATE_COMPLETE"},
        {"StackName": "wild-rydes-" + "x" * 41, "StackStatus": "CREATE_COMPLETE"},  # not a stage the runner allows
    ]
    assert list(_course().services) == [RR, WR]
    for services in ([RR, WR], [WR, RR]):  # whatever order the course lists them in
        found = classroom.stages_of(summaries, services)
        assert list(found) == ["bob", "dev"]
        assert set(found["dev"].stacks) == {RR, WR} and set(found["bob"].stacks) == {RR}


def test_the_services_come_from_the_course_not_from_the_code():
    found = classroom.stages_of([{"StackName": "svc-a-qa", "StackStatus": "CREATE_COMPLETE"}], {"svc-a": "A", "svc-b": "B"})
    assert list(found) == ["qa"] and set(found["qa"].stacks) == {"svc-a"}


def test_only_live_checks_run_never_a_behaviour_check():
    loaded = _course()
    ran = {i for _s, ids in classroom.live_steps(loaded) for i in ids}
    assert ran and all(registry.get(i).family == "live" and not registry.get(i).writes for i in ran)
    assert [s.number for s, _ids in classroom.live_steps(loaded)] == [s.number for s in loaded.steps if s.deploys]
    assert not any(call.startswith("logs:") for call in classroom.live_calls(loaded))


def test_every_call_class_status_may_make_is_allowed_by_the_verify_policy():
    policy = json.loads((REPO / "docs" / "verify-iam-policy.json").read_text())
    reads = {a for s in policy["Statement"] if s["Effect"] == "Allow"
             for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    mapped = {"apigateway:GetResources": "apigateway:GET", "apigateway:GetIntegration": "apigateway:GET"}
    for call in classroom.live_calls(_course()) - {"sts:GetCallerIdentity"}:
        assert mapped.get(call, call) in reads, call


@pytest.mark.parametrize("failing, step, next_id", [
    (set(), LAST, None),
    ({"live-record-url-parameter"}, LAST, None),  # gone later in the module without harm: only its own step asks for it
    ({"live-topic"}, 3, "live-topic"),
    ({"live-http-function"}, 0, "live-http-function"),  # step 10 asks for it again: no step after 0 can be reached
    ({"stacks-deployed"}, None, "stacks-deployed"),
    ({"live-dlq-send-permission"}, 12, "live-dlq-send-permission"),
])
def test_placement_is_the_furthest_step_whose_live_checks_pass(failing, step, next_id):
    placed, next_step, next_run = classroom.place(classroom.live_steps(_course()), _runs(failing=failing))
    assert (None if placed is None else placed.number) == step
    assert (None if next_run is None else next_run.check.id) == next_id
    if next_id is not None:
        assert next_id in next_step.checks


def test_a_transient_check_still_counts_at_its_own_step():
    # Step 3's URL parameter fails and nothing later passes: the stage has not finished step 3.
    runs = _runs(passing={"stacks-deployed", "live-http-function", "live-record-route"})
    placed, _next_step, next_run = classroom.place(classroom.live_steps(_course()), runs)
    assert placed.number == 0 and next_run.check.id == "live-record-url-parameter"


def test_teardown_needs_stages_or_all_never_both():
    from workshop.errors import BadInput

    found = {"a": classroom.Deployed("a", {}), "b": classroom.Deployed("b", {})}
    assert classroom.choose(found, [], True) == ["a", "b"]
    assert classroom.choose(found, ["b", "zz", "b"], False) == ["b", "zz"]
    for stages, everything in (([], False), (["a"], True), (["bad stage"], False)):
        with pytest.raises(BadInput):
            classroom.choose(found, stages, everything)


def _synthetic_class():
    loaded = _course()
    steps = {s.number: s for s in loaded.steps}
    live = classroom.live_steps(loaded)
    rows = []
    for index, (stage, failing) in enumerate([(LONG_STAGE, {"live-sns-invoke-permission"}), ("dev-bob", {"stacks-deployed"}),
                                               ("dev-carol", set())]):
        runs = _runs(failing=failing)
        placed, next_step, next_run = classroom.place(live, runs)
        changed = NOW - timedelta(minutes=3 + 20 * index)
        rows.append(classroom.StageStatus(stage, {f"{WR}-{stage}": "UPDATE_COMPLETE"}, placed, next_step, next_run, changed,
                                          7 + index, 0.2, list(runs.values())))
    assert steps[6] == rows[0].step
    from workshop.deploy.targets import Target

    return classroom.ClassStatus(Target("aws", region="eu-west-1"), NOW, rows, shared_calls=2, seconds=1.5)


def _cells(text: str) -> list[list[str]]:
    """The table's rows as joined cells: a folded cell's lines are glued back together (a new row starts where the
    Step column, which never wraps, is filled)."""
    rows: list[list[str]] = []
    for line in text.splitlines():
        if not line.startswith("│"):
            continue
        cells = [c.strip() for c in line.strip("│").split("│")]
        if cells[1]:
            rows.append(cells)
        else:
            rows[-1] = [a + b for a, b in zip(rows[-1], cells, strict=True)]
    return rows


@pytest.mark.parametrize("width", [80, 120])
def test_the_class_table_keeps_every_character_at_80_and_120_columns(width):
    from rich.console import Console

    from workshop.cli import render_class

    result = _synthetic_class()
    sink = io.StringIO()
    Console(file=sink, width=width, no_color=True, color_system=None).print(render_class.status_view(result, stats=True))
    text = sink.getvalue()
    assert max(len(line) for line in text.splitlines()) <= width
    rows = _cells(text)
    squeeze = lambda s: re.sub(r"\s+", "", s)  # noqa: E731 - folding moves the spaces, never a character
    assert [r[0] for r in rows] == [LONG_STAGE, "dev-bob", "dev-carol"]
    assert [r[1] for r in rows] == ["6", "-", str(LAST)]
    assert squeeze(rows[0][2]) == squeeze("step 10: " + registry.get("live-sns-invoke-permission").title)
    assert squeeze(rows[1][2]) == squeeze("step 0: " + registry.get("stacks-deployed").title)
    assert rows[2][2] == "done"
    assert [r[4] for r in rows] == ["7", "8", "9"]
    flat = squeeze(text)
    assert squeeze(f"3 learners · not started: 1 · step 6: 1 · step {LAST}: 1 · done: 1") in flat
    assert squeeze("not changed for 15 min: dev-bob, dev-carol") in flat  # 23 and 43 minutes ago
    assert squeeze("26 API calls (2 shared; per stage: at most 9, 8.0 on average)") in flat


def test_a_deploy_in_progress_or_a_check_that_could_not_look_says_why():
    from rich.console import Console

    from workshop.cli import render_class
    from workshop.deploy.targets import Target

    runs = _runs(failing={"stacks-deployed"})
    runs["stacks-deployed"].result.result = "pending"
    runs["stacks-deployed"].result.observed = "wild-rydes-dev-dan is UPDATE_IN_PROGRESS"
    placed, next_step, next_run = classroom.place(classroom.live_steps(_course()), runs)
    row = classroom.StageStatus("dev-dan", {}, placed, next_step, next_run, NOW, 3, 0.1, list(runs.values()))
    sink = io.StringIO()
    Console(file=sink, width=80, no_color=True, color_system=None).print(
        render_class.status_view(classroom.ClassStatus(Target("aws"), NOW, [row], 2, 0.3)))
    cell = _cells(sink.getvalue())[0][2]
    assert re.sub(r"\s+", "", cell) == re.sub(r"\s+", "", "step 0: in progress: Both stacks are deployed "
                                                           "(wild-rydes-dev-dan is UPDATE_IN_PROGRESS)")


def test_the_json_shape_is_the_documented_one():
    data = _synthetic_class().to_json()
    assert set(data) == {"target", "region", "at", "learners", "per_step", "idle", "idle_minutes", "stages", "stats"}
    assert data["per_step"] == [{"step": None, "learners": 1}, {"step": 6, "learners": 1}, {"step": LAST, "learners": 1}]
    first = data["stages"][0]
    assert set(first) == {"stage", "step", "step_title", "done", "next", "stacks", "last_changed", "idle", "calls", "seconds", "checks"}
    assert first["next"]["id"] == "live-sns-invoke-permission" and first["next"]["step"] == 10
    assert first["last_changed"] == "2026-11-30T09:57:00Z" and first["idle"] is False
    documented = (REPO / "docs" / "json.md").read_text().split("## workshop class status --json")[1].split("\n## ")[0]
    for key in [*data, *first, *data["stats"]]:
        assert f"`{key}`" in documented or f"`stages[].{key}`" in documented or f"`stats.{key}`" in documented, key


def test_polite_at_most_four_stages_at_a_time_and_back_off_on_throttling(monkeypatch, tmp_path):
    import threading
    import time

    from workshop.deploy.targets import Target

    pool = classroom.Pool(Target("local"), "http://127.0.0.1:9")
    assert pool.client("cloudformation").meta.config.retries["mode"] == "adaptive"
    assert pool.client("cloudformation") is pool.client("cloudformation")  # one client per service for the class
    running, most, lock = [0], [0], threading.Lock()

    def check_stage(_pool, _course, deployed, _who, _root):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return deployed.stage

    monkeypatch.setattr(classroom, "identity", lambda _pool: {"Account": "1"})
    monkeypatch.setattr(classroom, "list_stacks", lambda _pool: [{"StackName": f"{WR}-s{i:02d}", "StackStatus": "CREATE_COMPLETE"}
                                                                  for i in range(12)])
    monkeypatch.setattr(classroom, "check_stage", check_stage)
    result = classroom.status(_course(), Target("local"), root=tmp_path, pool=pool)
    assert result.stages == [f"s{i:02d}" for i in range(12)] and most[0] == classroom.MAX_WORKERS == 4


def test_credentials_and_permission_errors_are_one_line_not_a_traceback():
    from botocore.exceptions import ClientError, NoCredentialsError

    from workshop.deploy.targets import Target
    from workshop.errors import WorkshopError

    pool = classroom.Pool(Target("aws"), None, session=object())
    for exc, words in ((NoCredentialsError(), "no AWS credentials.*`workshop class status --profile NAME`"),
                       (ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "ListStacks"), "verify-iam-policy.json")):
        def ask(exc=exc):
            raise exc

        with pytest.raises(WorkshopError, match=words):
            classroom._plainly(pool, ask)


def test_local_target_without_a_workspace_says_what_to_do(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("class", "status")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "--target aws" in result.output


def test_watch_and_json_do_not_mix(cli):
    result = cli("class", "status", "--json", "--watch", "10")
    assert result.exit_code == 2 and "Choose one" in result.output
    assert cli("class", "status", "--watch", "1").exit_code == 2


# --- on the emulator: a small class deployed by replaying checkpoint exports ----------------------------------------

END_STAGE = f"s{LAST}"  # a learner who finished the module (its bonus step included)
CLASS = {"s00": 0, "s03": 3, "s06": 6, "s10": 10, END_STAGE: LAST}


class Guard:
    """Fails any call that writes, reads CloudWatch Logs, or is not among the live checks' declared calls."""

    def __init__(self, allowed: frozenset[str]):
        self.allowed, self.bad, self.calls = allowed, [], []

    def __call__(self, model, **_kwargs):
        call = f"{model.service_model.signing_name}:{model.name}"
        self.calls.append(call)
        reads = model.name.startswith(("Get", "List", "Describe"))
        if not reads or call.startswith("logs:") or call not in self.allowed:
            self.bad.append(call)
            raise AssertionError(f"class status made the call {call}")


def test_the_guard_refuses_writes_logs_and_undeclared_calls():
    from types import SimpleNamespace

    def model(service, name):
        return SimpleNamespace(name=name, service_model=SimpleNamespace(signing_name=service))

    guard = Guard(classroom.live_calls(_course()))
    guard(model("lambda", "GetFunctionConfiguration"))
    for service, name in (("sns", "Publish"), ("logs", "FilterLogEvents"), ("dynamodb", "GetItem"), ("lambda", "ListFunctions")):
        with pytest.raises(AssertionError):
            guard(model(service, name))
    assert guard.bad == ["sns:Publish", "logs:FilterLogEvents", "dynamodb:GetItem", "lambda:ListFunctions"]


@pytest.fixture(scope="module")
def klass(tmp_path_factory):
    from tests.instructor.class_world import class_workspace, deploy_at
    from workshop import emulator
    from workshop.deploy import replay, rollout, targets
    from workshop.deploy.targets import Target

    root = tmp_path_factory.mktemp("class") / "ws"
    loaded = class_workspace(root)
    try:
        for stage, step in CLASS.items():
            deploy_at(root, loaded, stage, step)
        # A learner who deployed only the ride-record service of step 0.
        solo = rollout.Context.open(root, Target("local", stage="solo"))
        with replay.exported(root, f"checkpoint/{loaded.steps[0].slug}") as tree:
            solo.osls(RR, "deploy", tree / RR, "replaying step 0")
        yield root, loaded
    finally:
        emulator.stop(targets.emulator_dir(root))



@pytest.mark.slow
def test_class_status_places_every_stage_at_its_step_reading_only(klass, tmp_path):
    from tests.checks.live_world import World
    from workshop.deploy import targets
    from workshop.deploy.targets import Target

    root, loaded = klass
    target = Target("local")
    endpoint = targets.endpoint_for(root, target)
    world = World(tmp_path, tmp_path, endpoint)  # the verify tests' hook: each check makes only the calls it declares
    session = world.connect(root, target)
    guard = Guard(classroom.live_calls(loaded))
    session._session.events.register("before-call", guard)
    pool = classroom.Pool(target, endpoint, session=session)
    result = classroom.status(loaded, target, root=root, pool=pool)

    assert world.undeclared == [] and guard.bad == []
    placed = {s.stage: (None if s.step is None else s.step.number) for s in result.stages}
    assert placed == {**CLASS, "solo": None}
    nexts = {s.stage: (s.next_run.check.id if s.next_run else None) for s in result.stages}
    assert nexts == {"s00": "live-http-function", "s03": "live-topic", "s06": "live-sns-function",
                     "s10": "live-request-ride-env", END_STAGE: None, "solo": "stacks-deployed"}
    solo = next(s for s in result.stages if s.stage == "solo")
    assert "wild-rydes-solo is not deployed" in solo.next_run.result.observed
    # Polite: one ListStacks and one identity for the class; each stage's calls counted, none in another Region.
    assert guard.calls.count("cloudformation:ListStacks") == 1 and guard.calls.count("sts:GetCallerIdentity") == 1
    assert result.shared_calls == 2
    assert sum(s.calls for s in result.stages) + result.shared_calls == len(guard.calls) == result.calls
    calls = {s.stage: s.calls for s in result.stages}
    # 21 up to step 13; the bonus step's live check adds two calls (its queue), the subscription's listing is shared.
    assert all(0 < n <= 23 for stage, n in calls.items() if stage != "solo"), calls
    assert calls["solo"] == 0  # ListStacks already said a stack is missing: nothing to ask
    assert "cloudformation:DescribeStacks" not in guard.calls  # ListStacks already said the stacks are ready
    assert all(s.last_changed is not None for s in result.stages)
    later = classroom.status(loaded, target, root=root, endpoint=endpoint, now=lambda: datetime.now(UTC) + timedelta(minutes=16))
    assert sorted(later.idle()) == sorted(placed)


@pytest.mark.slow
@pytest.mark.parametrize("width", ["80", "120"])
def test_cli_class_status_table_and_json(klass, width):
    from typer.testing import CliRunner

    from workshop.cli import app

    root, _loaded = klass
    runner = CliRunner()
    env = {**CLI_ENV, "COLUMNS": width}
    shown = runner.invoke(app, ["-w", str(root), "class", "status", "--stats"], env=env)
    assert shown.exit_code == 0, shown.output
    rows = {r[0]: r for r in _cells(shown.stdout)}
    assert {k: v[1] for k, v in rows.items()} == {**{k: str(v) for k, v in CLASS.items()}, "solo": "-"}
    assert rows[END_STAGE][2] == "done"
    assert max(len(line) for line in shown.stdout.splitlines()) <= int(width)
    assert "6 learners" in shown.stdout and "API calls" in shown.stdout
    data = json.loads(runner.invoke(app, ["-w", str(root), "class", "status", "--json"], env=env).stdout)
    assert {s["stage"]: s["step"] for s in data["stages"]} == {**CLASS, "solo": None}
    assert data["learners"] == 6 and data["stats"]["shared_calls"] == 2


@pytest.mark.slow
def test_watch_redraws_until_ctrl_c(klass, monkeypatch):
    from typer.testing import CliRunner

    from workshop.cli import app

    root, _loaded = klass
    rounds = []

    def sleep(seconds):
        rounds.append(seconds)
        if len(rounds) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr("workshop.cli.classroom.time.sleep", sleep)
    result = CliRunner().invoke(app, ["-w", str(root), "class", "status", "--watch", "7"], env=CLI_ENV)
    assert result.exit_code == 0, result.output
    assert rounds == [7, 7] and END_STAGE in result.stdout and "Stopped watching." in result.output


@pytest.mark.slow
def test_teardown_asks_first_then_removes_and_lists_what_is_left(klass):
    from typer.testing import CliRunner

    from workshop.cli import app

    root, loaded = klass
    runner = CliRunner()
    declined = runner.invoke(app, ["-w", str(root), "class", "teardown", "--stage", "s03"], env=CLI_ENV, input="n\n")
    assert declined.exit_code == 1 and "Nothing was removed" in declined.output
    assert "To remove from the emulator, us-east-1" in declined.stdout
    assert "wild-rydes-ride-record-s03 (UPDATE_COMPLETE)" in declined.stdout  # shown before the question
    assert "s03" in {s.stage for s in classroom.deployed_stages(loaded, _local(), _endpoint(root)).values()}

    # Something the stacks did not make (created by hand): teardown cannot remove it, so it is listed under its stage.
    from workshop.deploy import targets

    ssm = targets.client(targets.boto3_session(_local(), endpoint=_endpoint(root)), "ssm")
    ssm.put_parameter(Name="/wild-rydes/s03/Stray", Value="x", Type="String")
    done = runner.invoke(app, ["-w", str(root), "class", "teardown", "--stage", "s03", "--stage", "solo", "--yes"], env=CLI_ENV)
    assert done.exit_code == 1, done.output
    assert "stage s03: removed wild-rydes, wild-rydes-ride-record" in done.output  # consumers first, as `workshop teardown`
    assert "stage solo: removed wild-rydes-ride-record" in done.output
    assert set(classroom.deployed_stages(loaded, _local(), _endpoint(root))) == set(CLASS) - {"s03"}
    assert "stage solo: nothing left" in done.stdout
    rows = _cells(done.stdout.split("Still there after the teardown")[1])
    assert rows == [["s03", "parameter", "/wild-rydes/s03/Stray"]]


def _local():
    from workshop.deploy.targets import Target

    return Target("local")


def _endpoint(root: Path) -> str:
    from workshop.deploy import targets

    return targets.endpoint_for(root, _local())
