"""What a learner reads after a deploy: osls's own summary (endpoints, functions, stack outputs) and the next command."""

from __future__ import annotations

from pathlib import Path

from workshop.deploy.targets import services

# osls ends a deploy with a line like "✔ Service deployed to stack NAME (3s)", then endpoints, functions and outputs.
DEPLOYED_MARK = "Service deployed to stack"
UNCHANGED_MARK = "No changes to deploy"


def short_name(service: str) -> str:
    """`ride-record` for wild-rydes-ride-record, as `workshop status` shows it."""
    return service.removeprefix("wild-rydes-")


def resolve(name: str) -> str | None:
    """The service folder a learner named: the folder itself or its short name; None if neither."""
    for service in services():
        if name in (service, short_name(service)):
            return service
    return None


def choices(also: str = "") -> str:
    """`ride-record` (wild-rydes-ride-record), `wild-rydes` or `all`: the services (and `also`) for one-line messages."""
    names = [f"`{short_name(s)}`" + (f" ({s})" if short_name(s) != s else "") for s in services()] + ([f"`{also}`"] if also else [])
    return ", ".join(names[:-1]) + " or " + names[-1]


def osls_summary(log: Path) -> list[str]:
    """The lines osls printed after "Service deployed" (endpoint, functions, stack outputs); [] when the log has none."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    start = next((i for i, line in enumerate(lines) if DEPLOYED_MARK in line or UNCHANGED_MARK in line), None)
    if start is None:
        return []
    kept = [line.rstrip() for line in lines[start:]]
    while kept and not kept[-1].strip():
        kept.pop()
    return kept


def next_command(step, deployed: str | None) -> str:
    """What to run after deploying `deployed` (None: every service) at `step`: the step's other deploy, else verify."""
    if deployed is not None and deployed in step.deploys:
        later = list(step.deploys)[list(step.deploys).index(deployed) + 1:]
        if later:
            return f"workshop deploy {later[0]}"
    return "workshop verify"
