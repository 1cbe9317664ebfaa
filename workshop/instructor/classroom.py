"""Class mode: every learner stage deployed in one account and Region, placed at its step by the read-only live checks.

The account already knows how far each learner got: their stacks are `<service>-<stage>` for the course's services.
`status` finds the stages with one ListStacks, then runs the LIVE checks of the course's steps for each stage (never a
behaviour check: no test ride, no poison ride, nothing written), a few stages at a time, sharing one identity, one set
of clients (adaptive retries: AWS's throttling answered with back-off) and each stage's memoised lookups. Every API
call is counted per stage through a botocore event hook. `teardown` removes stages with the code of `workshop teardown`.

Placement: a stage is at step N when every live check of step N passes and every live check of an earlier step that
must hold at the end of the module passes too (a check that may stop holding later, such as step 3's URL parameter, is
only asked of its own step). The furthest such step is the stage's; "next" is the first check of a later step that does
not pass. Steps without live checks (code, config, behaviour) are never a stage's step: the account cannot show them.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workshop.checks import aws, registry
from workshop.checks import runner as verify
from workshop.checks.model import Context, Problem, failed
from workshop.checks.runner import CheckRun
from workshop.course.model import Course, Step
from workshop.deploy import targets
from workshop.deploy.targets import STAGE_RE, Target
from workshop.errors import BadInput, WorkshopError

MAX_WORKERS = 4  # stages checked at once: a class shares the account's API rate limits
IDLE_SECONDS = 15 * 60  # "has not changed for 15 minutes"
# Adaptive retries: exponential back-off on throttling, and a client-side rate that slows down once AWS throttles.
RETRIES = {"mode": "adaptive", "max_attempts": 6}
SHARED = "(shared)"  # calls made once for the whole class (ListStacks, the caller's identity)
READY = ("CREATE_COMPLETE", "UPDATE_COMPLETE")  # a stack the checks may read as it is


@dataclass
class Deployed:
    """A learner stage as ListStacks shows it: its stacks by service (summaries), at least one of them."""

    stage: str
    stacks: dict[str, dict[str, Any]]

    @property
    def last_changed(self) -> datetime | None:
        """When a stack of the stage last changed (UpdateStack or CreateStack)."""
        times = [s.get("LastUpdatedTime") or s.get("CreationTime") for s in self.stacks.values()]
        times = [t for t in times if isinstance(t, datetime)]
        return max(times) if times else None


@dataclass
class StageStatus:
    """Where one stage stands: its furthest step, what fails next, when it last changed, what it cost to find out."""

    stage: str
    stacks: dict[str, str]  # stack name -> status
    step: Step | None  # the furthest step whose live checks pass (None: not even step 0's)
    next_step: Step | None
    next_run: CheckRun | None  # the first check after `step` that does not pass (None: all done)
    last_changed: datetime | None
    calls: int
    seconds: float
    runs: list[CheckRun] = field(default_factory=list)

    def idle(self, now: datetime) -> bool:
        return self.last_changed is not None and (now - self.last_changed).total_seconds() >= IDLE_SECONDS

    def to_json(self, now: datetime) -> dict[str, Any]:
        nxt = None
        if self.next_run is not None:
            c, r = self.next_run.check, self.next_run.result
            nxt = {"step": self.next_step.number if self.next_step else None, "id": c.id, "title": c.title,
                   "result": r.result, "observed": r.observed, "expected": r.expected, "fix": r.fix}
        return {
            "stage": self.stage,
            "step": None if self.step is None else self.step.number,
            "step_title": None if self.step is None else self.step.title,
            "done": self.next_run is None,
            "next": nxt,
            "stacks": self.stacks,
            "last_changed": _iso(self.last_changed),
            "idle": self.idle(now),
            "calls": self.calls,
            "seconds": round(self.seconds, 3),
            "checks": {r.check.id: r.result.result for r in self.runs},
        }


@dataclass
class ClassStatus:
    """Every stage of the class, and what finding them cost."""

    target: Target
    at: datetime
    stages: list[StageStatus]
    shared_calls: int
    seconds: float

    def per_step(self) -> dict[int | None, int]:
        """How many learners stand at each step (None: not started, no step passes), in course order."""
        counts = Counter(None if s.step is None else s.step.number for s in self.stages)
        return dict(sorted(counts.items(), key=lambda kv: -1 if kv[0] is None else kv[0]))

    def idle(self) -> list[str]:
        return [s.stage for s in self.stages if s.idle(self.at)]

    @property
    def calls(self) -> int:
        return self.shared_calls + sum(s.calls for s in self.stages)

    def to_json(self) -> dict[str, Any]:
        per_stage = [s.calls for s in self.stages]
        return {
            "target": self.target.name,
            "region": self.target.region,
            "at": _iso(self.at),
            "learners": len(self.stages),
            "per_step": [{"step": k, "learners": v} for k, v in self.per_step().items()],
            "idle": self.idle(),
            "idle_minutes": IDLE_SECONDS // 60,
            "stages": [s.to_json(self.at) for s in self.stages],
            "stats": {"calls": self.calls, "shared_calls": self.shared_calls,
                      "calls_per_stage_max": max(per_stage, default=0),
                      "calls_per_stage_mean": round(sum(per_stage) / len(per_stage), 1) if per_stage else 0,
                      "seconds": round(self.seconds, 3), "workers": MAX_WORKERS},
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- the course's live checks -------------------------------------------------------------------------------

def live_steps(course: Course) -> list[tuple[Step, list[str]]]:
    """Each step with live checks, and those checks' ids, in course order (behaviour checks never run here)."""
    found = []
    for step in course.steps:
        ids = [i for i in step.checks if i in registry.CHECKS and registry.get(i).family == "live"]
        if ids:
            found.append((step, ids))
    return found


def live_calls(course: Course) -> frozenset[str]:
    """Every AWS call class status may make: what the live checks declare, plus the one ListStacks."""
    calls = {"cloudformation:ListStacks", "sts:GetCallerIdentity"}
    for _step, ids in live_steps(course):
        for check_id in ids:
            calls |= set(registry.get(check_id).calls)
    return frozenset(calls)


def place(steps: list[tuple[Step, list[str]]], runs: dict[str, CheckRun]) -> tuple[Step | None, Step | None, CheckRun | None]:
    """(the furthest step, the step of the first check after it that does not pass, that check's run); see the module."""
    def ok(check_id: str) -> bool:
        return check_id in runs and runs[check_id].result.passed

    furthest = None
    for index, (_step, ids) in enumerate(steps):
        earlier = [i for _s, e in steps[:index] for i in e if registry.get(i).holds_at_end]
        if all(ok(i) for i in ids) and all(ok(i) for i in earlier):
            furthest = index
    start = 0 if furthest is None else furthest + 1
    for step, ids in steps[start:]:
        for check_id in ids:
            if not ok(check_id):
                return (None if furthest is None else steps[furthest][0]), step, runs.get(check_id)
    return (None if furthest is None else steps[furthest][0]), None, None


# --- finding the stages -------------------------------------------------------------------------------------

def stages_of(summaries: Iterable[dict[str, Any]], services: Iterable[str]) -> dict[str, Deployed]:
    """The learner stages among stack summaries: `<service>-<stage>`, the longest service name winning
    (`wild-rydes-ride-record-dev` is ride-record's stage `dev`, not wild-rydes' stage `ride-record-dev`)."""
    by_length = sorted(services, key=len, reverse=True)
    found: dict[str, Deployed] = {}
    for summary in summaries:
        name = summary.get("StackName", "")
        if summary.get("StackStatus") == "DELETE_COMPLETE":
            continue
        service = next((s for s in by_length if name.startswith(s + "-")), None)
        if service is None:
            continue
        stage = name[len(service) + 1:]
        if not STAGE_RE.match(stage):
            continue
        found.setdefault(stage, Deployed(stage, {})).stacks[service] = summary
    return dict(sorted(found.items()))


# --- the shared clients and the call counter ------------------------------------------------------------------

class Pool:
    """One boto3 session and one client per service for the whole class (clients are thread-safe; making them is
    slow), adaptive retries, and a botocore hook that counts every API call against the stage being checked."""

    def __init__(self, target: Target, endpoint: str | None, *, session=None, on_call: Callable[[str, str], None] | None = None):
        self.target, self.endpoint = target, endpoint
        self.session = session if session is not None else targets.boto3_session(target, endpoint=endpoint)
        self.calls: Counter[str] = Counter()
        self.log: list[tuple[str, str]] = []  # (stage or SHARED, "signing-name:Operation")
        self._on_call = on_call
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def new_round(self) -> None:
        """Count from zero again (`--watch` keeps one pool: its clients, and their retry rate, outlive a round)."""
        with self._lock:
            self.calls.clear()
            self.log.clear()

    def client(self, name: str):
        with self._lock:
            if name not in self._clients:
                from botocore.config import Config

                config = Config(retries=RETRIES, connect_timeout=5, read_timeout=60, ignore_configured_endpoint_urls=True)
                made = self.session.client(name, config=config)
                made.meta.events.register("before-call", self._count)
                self._clients[name] = made
            return self._clients[name]

    def connect(self, _root: Path, target: Target):
        """Context's session factory: the shared session in the class's Region, a new one elsewhere (never asked for)."""
        if target.region == self.target.region:
            return self.session
        return targets.boto3_session(target, endpoint=self.endpoint)

    @property
    def stage(self) -> str:
        return getattr(self._local, "stage", None) or SHARED

    @stage.setter
    def stage(self, value: str | None) -> None:
        self._local.stage = value

    def _count(self, model, **_kwargs) -> None:
        call = f"{model.service_model.signing_name}:{model.name}"
        stage = self.stage
        with self._lock:
            self.calls[stage] += 1
            self.log.append((stage, call))
        if self._on_call is not None:
            self._on_call(stage, call)


class StageContext(Context):
    """A check context for one learner stage whose clients come from the class's pool."""

    def __init__(self, root: Path, target: Target, pool: Pool, course_root: Path | None):
        super().__init__(root, target, connect=pool.connect, course_root=course_root)
        self._pool = pool

    def client(self, name: str, region: str | None = None):
        if region and region != self.target.region:
            return super().client(name, region)
        return self._pool.client(name)


# --- status -----------------------------------------------------------------------------------------------------

def list_stacks(pool: Pool) -> list[dict[str, Any]]:
    """Every stack that is not deleted, once for the whole class."""
    def ask():
        pages = pool.client("cloudformation").get_paginator("list_stacks").paginate(StackStatusFilter=aws.ACTIVE)
        return [s for page in pages for s in page["StackSummaries"]]

    return _plainly(pool, ask)


def identity(pool: Pool) -> dict[str, Any]:
    """Who the credentials are (once): missing or expired credentials stop here, in one line."""
    return _plainly(pool, lambda: pool.client("sts").get_caller_identity())


def _plainly(pool: Pool, ask: Callable[[], Any]) -> Any:
    """ask(), with credentials, endpoint and permission errors said in one line (as the checks say them)."""
    try:
        return ask()
    except Exception as exc:  # noqa: BLE001 - translated below, or re-raised
        said = aws.translate(exc, _Said(pool.target))
        if said is None:
            raise
        fix = said.fix.replace("`workshop verify", "`workshop class status")  # the checks' words name their own command
        raise WorkshopError(f"Cannot read the account: {said.observed}. {fix}") from None


@dataclass
class _Said:
    """What aws.translate needs of a context."""

    target: Target


def _seed(ctx: StageContext, deployed: Deployed, services: Iterable[str], who: dict[str, Any]) -> None:
    """Give the stage's memo what the class already knows: the identity, and each stack ListStacks showed ready (or
    missing), so a check asks DescribeStacks only for a stack in another state (whose message the checks word)."""
    ctx.memo("identity", lambda: who)
    for service in services:
        summary = deployed.stacks.get(service)
        if summary is not None and summary.get("StackStatus") in READY:
            ctx.memo(("stack", service), lambda s=summary: dict(s))
        elif summary is None:
            name = ctx.target.stack(service)

            def missing(name=name, service=service):
                raise Problem(failed(f"{name} is not deployed in {ctx.target.region}", f"{name} deployed",
                                     f"Deploy it: `workshop deploy {service}` (stage {ctx.target.stage})."))

            try:
                ctx.memo(("stack", service), missing)
            except Problem:
                pass


def check_stage(pool: Pool, course: Course, deployed: Deployed, who: dict[str, Any], root: Path) -> StageStatus:
    """Run the live checks of each step in order for one stage (on this thread: its calls are counted against it);
    stop after a step where a check that must hold at the end fails, since no later step can then be the stage's."""
    started = time.monotonic()
    pool.stage = deployed.stage
    try:
        target = replace(pool.target, stage=deployed.stage)
        ctx = StageContext(root, target, pool, course.root)
        _seed(ctx, deployed, course.services, who)
        steps = live_steps(course)
        runs: dict[str, CheckRun] = {}
        for _step, ids in steps:
            for check_id in ids:
                if check_id not in runs:
                    runs[check_id] = verify._run_one(registry.get(check_id), ctx)
            if any(not runs[i].result.passed and registry.get(i).holds_at_end for i in ids):
                break
        step, next_step, next_run = place(steps, runs)
    finally:
        pool.stage = None
    stacks = {s["StackName"]: s["StackStatus"] for s in deployed.stacks.values()}
    return StageStatus(deployed.stage, stacks, step, next_step, next_run, deployed.last_changed,
                       pool.calls[deployed.stage], time.monotonic() - started, list(runs.values()))


def status(course: Course, target: Target, *, root: Path, endpoint: str | None = None, workers: int = MAX_WORKERS,
           pool: Pool | None = None, now: Callable[[], datetime] | None = None) -> ClassStatus:
    """Every learner stage in the target's account and Region, placed at its step (read-only)."""
    started = time.monotonic()
    pool = pool or Pool(target, endpoint)
    pool.new_round()
    who = identity(pool)
    deployed = stages_of(list_stacks(pool), course.services)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="class") as executor:
        found = list(executor.map(lambda d: check_stage(pool, course, d, who, root), deployed.values()))
    at = (now or (lambda: datetime.now(UTC)))()
    return ClassStatus(target, at, found, pool.calls[SHARED], time.monotonic() - started)


# --- teardown ---------------------------------------------------------------------------------------------------

def deployed_stages(course: Course, target: Target, endpoint: str | None, *, pool: Pool | None = None) -> dict[str, Deployed]:
    """The learner stages with a stack in the target's Region (one ListStacks)."""
    return stages_of(list_stacks(pool or Pool(target, endpoint)), course.services)


def account(pool: Pool) -> str:
    """The account id the credentials belong to (said before anything is removed)."""
    return str(identity(pool).get("Account", "unknown"))


def choose(found: dict[str, Deployed], stages: list[str], everything: bool) -> list[str]:
    """The stages a teardown removes: the named ones (deployed or not: their leftovers are still listed) or all."""
    if everything and stages:
        raise BadInput("Choose one: `workshop class teardown --stage S` (repeatable) or `workshop class teardown --all`.")
    if not everything and not stages:
        raise BadInput("Name the stages to remove: `workshop class teardown --stage S` (repeatable), or `--all`.")
    for stage in stages:
        if not STAGE_RE.match(stage):
            raise BadInput(f"Stage {stage!r} is not valid: use letters, digits and '-' (see `workshop class status`).")
    return sorted(found) if everything else list(dict.fromkeys(stages))


@dataclass
class Removal:
    stage: str
    removed: list[str]
    leftovers: list[tuple[str, str]]


def teardown_stage(root: Path, target: Target, stage: str, *, announce: Callable[[str], None] = lambda _m: None) -> Removal:
    """Remove one stage's stacks, consumers first (`workshop teardown`'s code), then list what is left of it."""
    from workshop.deploy import inventory, rollout

    chosen = replace(target, stage=stage)
    rctx = rollout.Context.open(root, chosen, announce=announce)
    removed = rollout.teardown(rctx)
    announce(f"listing what is left of stage {stage}")
    return Removal(stage, removed, inventory.leftovers(rctx.session, chosen))
