"""Cross-service deploy order, read from the `${ssm:...}` references of each service's serverless.yml.

Until step 11 wild-rydes reads ride-record's URL at deploy time; from step 9 ride-record reads wild-rydes' topic
ARN. `plan` orders the services so every value a deploy reads exists first; when no order works on the target as
it is, earlier checkpoints' deploys are replayed in the module's order from exports of the checkpoint refs.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from workshop.deploy.targets import services
from workshop.errors import WorkshopError

STAGE_VARS = re.compile(r"\$\{(?:sls:stage|self:provider\.stage|opt:stage(?:\s*,\s*['\"]?[\w-]+['\"]?)?)\}")
SSM_REF = re.compile(r"\$\{ssm:\s*(/[^}\s,]+)")
PARAM_NAME = re.compile(r"^\s*Name:\s*['\"]?(/[^\s'\"]+)", re.MULTILINE)


@dataclass(frozen=True)
class Needs:
    """What one service's serverless.yml reads from SSM at deploy time, and which parameters it creates."""

    service: str
    reads: frozenset[str]
    writes: frozenset[str]


def _text(service_dir: Path, stage: str) -> str:
    path = service_dir / "serverless.yml"
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WorkshopError(f"{path} is missing: run `workshop reset --step N` to bring the files back.") from None
    lines = [line for line in raw.splitlines() if not line.lstrip().startswith("#")]
    return STAGE_VARS.sub(stage, "\n".join(lines))


def needs(service: str, service_dir: Path, stage: str) -> Needs:
    """Parse the SSM parameters a service reads and writes, for one stage."""
    text = _text(service_dir, stage)
    writes = frozenset(PARAM_NAME.findall(text))
    reads = frozenset(SSM_REF.findall(text)) - writes
    return Needs(service=service, reads=reads, writes=writes)


def producer(path: str) -> str | None:
    """The service whose parameters live under a path (`/wild-rydes/dev/SnsTopicArn` -> `wild-rydes`)."""
    first = path.strip("/").split("/", 1)[0]
    return first if first in services() else None


def producers_missing(service_dir: Path, stage: str, exclude: str) -> list[str]:
    """The services a failed deploy needed first (from the paths its serverless.yml reads)."""
    found = {producer(p) for p in needs(exclude, service_dir, stage).reads}
    return [s for s in services() if s in found and s != exclude]


def plan(all_needs: Iterable[Needs], available: set[str]) -> list[str] | None:
    """An order in which every deploy finds what it reads (module order breaks ties); None if there is none."""
    pending = list(all_needs)
    have = set(available)
    order: list[str] = []
    while pending:
        ready = next((n for n in pending if n.reads <= have), None)
        if ready is None:
            return None
        order.append(ready.service)
        have |= ready.writes
        pending.remove(ready)
    return order


def existing_parameters(session, names: Iterable[str]) -> set[str]:
    """Which of these SSM parameters exist on the target (GetParameters, ten at a time)."""
    from workshop.deploy import targets

    wanted = sorted(set(names))
    if not wanted:
        return set()
    ssm = targets.client(session, "ssm")
    found: set[str] = set()
    for start in range(0, len(wanted), 10):
        reply = ssm.get_parameters(Names=wanted[start : start + 10])
        found |= {p["Name"] for p in reply.get("Parameters", [])}
    return found


def export(root: Path, ref: str, destination: Path) -> Path:
    """Write the files of a checkpoint ref (a commit or a tree) into `destination` (never the learner's working tree).

    `checkpoint/<slug>` names the runner's private copy (`refs/workshop/checkpoints/<slug>`): a learner's commit on
    the branch of that name never changes what is replayed."""
    from workshop.checkpoints import refs

    if ref.startswith("checkpoint/"):
        ref = refs.PRIVATE_PREFIX + ref[len("checkpoint/"):]
    return refs.export_rev(root, ref, destination)


@contextmanager
def exported(root: Path, ref: str) -> Iterator[Path]:
    """A temporary folder holding the files of a checkpoint ref."""
    with tempfile.TemporaryDirectory(prefix="workshop-replay-") as tmp:
        yield export(root, ref, Path(tmp) / "tree")


Deploy = Callable[[str, Path, str], None]  # (service, service_dir, why)


def replay_until(steps, root: Path, stage: str, deploy: Deploy, done: Callable[[], bool]) -> int:
    """Deploy earlier checkpoints' services in the module's order until `done()`; returns how many deploys ran."""
    count = 0
    for step in steps:
        if not step.deploys:
            continue
        with exported(root, f"refs/workshop/checkpoints/{step.slug}") as tree:
            for service in step.deploys:
                deploy(service, tree / service, f"replaying step {step.number} ({step.id})")
                count += 1
        if done():
            break
    return count
