"""Deploying the workshop's services to a target: one service, all of them in order, back to a step, or away."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from workshop.course.model import Course, Step
from workshop.deploy import osls as deploy
from workshop.deploy import replay, targets
from workshop.deploy.targets import Target, services
from workshop.errors import BadInput, WorkshopError

Announce = Callable[[str], None]


@dataclass
class Context:
    """Everything a deploy needs: the workspace, the target and its endpoint, and where progress goes."""

    root: Path
    target: Target
    endpoint: str | None
    announce: Announce = lambda _m: None
    on_line: Callable[[str], None] | None = None
    runs: list[deploy.RunResult] = field(default_factory=list)
    _session: object = None

    @classmethod
    def open(cls, root: Path, target: Target, **kwargs) -> Context:
        return cls(root=root, target=target, endpoint=targets.endpoint_for(root, target), **kwargs)

    @property
    def session(self):
        """The boto3 session, made on first use: a plain `deploy SERVICE` never imports boto3."""
        if self._session is None:
            self._session = targets.boto3_session(self.target, endpoint=self.endpoint)
        return self._session

    def osls(self, service: str, action: str, service_dir: Path, why: str = "") -> deploy.RunResult:
        self.announce(f"{action} {service}{f' ({why})' if why else ''}")
        result = deploy.run_osls(self.root, self.target, service, action, service_dir, endpoint=self.endpoint, on_line=self.on_line)
        self.runs.append(result)
        return result


def check_service(name: str) -> str:
    """The service folder `name` stands for (its folder name or its short name, e.g. `ride-record`)."""
    from workshop.deploy import summary

    found = summary.resolve(name)
    if found is None:
        raise BadInput(f"Unknown service {name!r}: use {summary.choices('all')}.")
    return found


def learner_needs(ctx: Context) -> list[replay.Needs]:
    return [replay.needs(s, ctx.root / s, ctx.target.stage) for s in services()]


def deploy_one(ctx: Context, service: str, *, recreate: bool = False) -> None:
    """Deploy the learner's copy of one service (a missing SSM value it reads is explained by deploy.explain_failure)."""
    if recreate:
        remove(ctx, service)
    ctx.osls(service, "deploy", ctx.root / service)


def deploy_all(ctx: Context, course: Course, current: Step) -> int:
    """Deploy both services of the learner's state in a working order, replaying earlier checkpoints if needed."""
    all_needs = learner_needs(ctx)
    reads = set().union(*(n.reads for n in all_needs))

    def look() -> tuple[list[str] | None, set[str]]:
        """What the target holds now, and a working order given that (None if there is none)."""
        have = replay.existing_parameters(ctx.session, reads)
        return replay.plan(all_needs, have), have

    final, have = look()
    replayed = 0
    if final is None:
        def done() -> bool:
            nonlocal final, have
            final, have = look()
            return final is not None

        earlier = [s for s in course.steps if s.number < current.number]
        replayed = replay.replay_until(earlier, ctx.root, ctx.target.stage, lambda svc, d, why: ctx.osls(svc, "deploy", d, why), done)
    if final is None:
        missing = sorted(reads - have)
        raise WorkshopError(
            f"No deploy order works: {', '.join(missing)} must exist first. Check the `${{ssm:...}}` paths in your "
            "serverless.yml files (`workshop diff`), then run `workshop deploy all` again."
        )
    for service in final:
        ctx.osls(service, "deploy", ctx.root / service)
    return replayed


def bring_to_step(ctx: Context, course: Course, step: Step) -> int:
    """Make the target hold what it should at the START of `step`: every earlier deploy step, from its checkpoint."""
    earlier = [s for s in course.steps if s.number < step.number and s.deploys]
    if not earlier:
        teardown(ctx)
        return 0
    return replay.replay_until(earlier, ctx.root, ctx.target.stage, lambda svc, d, why: ctx.osls(svc, "deploy", d, why), lambda: False)


def _minimal_service(folder: Path, service: str, target: Target) -> Path:
    """A serverless.yml naming only the service: `osls remove` then needs no variable of the learner's file."""
    path = folder / service
    path.mkdir(parents=True, exist_ok=True)
    (path / "serverless.yml").write_text(
        f"service: {service}\nframeworkVersion: '4'\nprovider:\n  name: aws\n  runtime: python3.12\n"
        f"  stage: {target.stage}\n  region: {target.region}\n",
        encoding="utf-8",
    )
    return path


def stack_exists(ctx: Context, service: str) -> bool:
    cfn = targets.client(ctx.session, "cloudformation")
    try:
        stacks = cfn.describe_stacks(StackName=ctx.target.stack(service))["Stacks"]
    except Exception as exc:  # botocore ClientError: "does not exist"
        if "does not exist" in str(exc):
            return False
        raise
    return any(s["StackStatus"] != "DELETE_COMPLETE" for s in stacks)


def remove(ctx: Context, service: str) -> bool:
    """Remove one service's stack (and its deployment bucket); False if it was not deployed."""
    if not stack_exists(ctx, service):
        return False
    with tempfile.TemporaryDirectory(prefix="workshop-remove-") as tmp:
        ctx.osls(service, "remove", _minimal_service(Path(tmp), service, ctx.target))
    return True


def teardown(ctx: Context) -> list[str]:
    """Remove both stacks, consumers first (the reverse of the deploy order); returns the services removed."""
    needs = learner_needs(ctx)
    order = replay.plan(needs, set().union(*(n.reads for n in needs))) or list(services())
    return [service for service in reversed(order) if remove(ctx, service)]


def record_learner_deploy(session, service: str, target: Target) -> list[str]:
    """Remember what the learner's files deployed (`all`: every service); returns the current step's deploys still to do."""
    from workshop.course import progress

    progress.record_deploys(session, list(services()) if service == "all" else [service], target.to_json())
    return progress.deploys_missing(session, session.current(), target.to_json())


def choose_target(session, *, name: str | None = None, stage: str | None = None, region: str | None = None,
                  profile: str | None = None) -> Target:
    """The target from the workspace and the options. A local choice is remembered at once; a real account only once
    it has answered and been confirmed (`remember_target`), so a failed first attempt switches nothing."""
    target = targets.resolve(session.state.target, name=name, stage=stage, region=region, profile=profile)
    if target.name != "aws":
        remember_target(session, target)
    return target


def remember_target(session, target: Target, **extra) -> None:
    """Keep `target` (and `extra`, such as the confirmed account) as the workspace's choice."""
    stored = {**session.state.target, **target.to_json(), **extra}
    if stored != session.state.target:
        session.state.target = stored
        session.save()
