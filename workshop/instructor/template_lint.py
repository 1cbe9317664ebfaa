"""The real templates, linted: `osls package` every checkpoint's services and run cfn-lint on what CloudFormation gets.

With the longest personal stage the runner allows in each Region (`targets.stage_budget`: every role and function name
osls makes must fit AWS's 64 characters), in us-east-1 and ap-southeast-2, so a name that only fits short stages or a
property one Region does not accept is found by the course's authors, not by a learner in class. Offline: the `${ssm:...}` values a service reads at package
time are written with placeholders into an embedded emulator first. Returns (name, ok, detail) triples; `dev check`
runs it.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

from workshop.checkpoints.repo import Repo
from workshop.course.model import Course

FILLER = "dev-" + "abcdefghij" * 7


def longest_stage(course: Course, region: str) -> str:
    """The longest stage the runner lets a learner deploy in `region` for this course (what `--stage` may be at most)."""
    from workshop.deploy import targets

    return FILLER[:targets.stage_budget(region, targets.course_functions(course.root))]
REGIONS = ("us-east-1", "ap-southeast-2")
PACKAGE_TIMEOUT = 180


def ssm_names(serverless_yml: str, stage: str) -> list[str]:
    """The SSM parameter names a serverless.yml reads at package time, for `stage` (read by the one reader)."""
    from workshop.deploy.service_file import ServiceFile

    return sorted(ServiceFile.from_text(serverless_yml).ssm_reads(stage))


def _placeholder(name: str, region: str, stage: str) -> str:
    if name.lower().endswith("arn"):
        return f"arn:aws:sns:{region}:123456789012:placeholder"
    return f"https://abcdefghij.execute-api.{region}.amazonaws.com/{stage}"


def lint_template(template: dict | str, region: str) -> list[str]:
    """cfn-lint's errors (not warnings or notes) for one template in one Region, as `RULE path: message` lines."""
    from cfnlint.api import ManualArgs, lint

    text = template if isinstance(template, str) else json.dumps(template)
    matches = lint(text, config=ManualArgs(regions=[region]))
    found = []
    for match in matches:
        rule = match.rule.id
        if not rule.startswith("E"):
            continue
        path = "/".join(str(p) for p in (getattr(match, "path", None) or [])[:4])
        found.append(f"{rule} {path}: {match.message}")
    return found


def _package(osls: Path, service_dir: Path, out: Path, region: str, stage: str,
             env: dict[str, str]) -> tuple[dict | None, str]:
    done = subprocess.run([str(osls), "package", "--stage", stage, "--region", region, "--package", str(out)],
                          cwd=service_dir, env=env, capture_output=True, text=True, timeout=PACKAGE_TIMEOUT)
    template = out / "cloudformation-template-update-stack.json"
    if done.returncode != 0 or not template.exists():
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-6:])
        return None, tail
    return json.loads(template.read_text(encoding="utf-8")), ""


def check(repo: Repo, course: Course, states: Iterable[tuple[str, str]], scratch: Path,
          regions: Iterable[str] = REGIONS) -> list[tuple[str, bool, str]]:
    """One item per Region: every checkpoint's services packaged and linted with the longest stage allowed there."""
    from workshop import emulator
    from workshop.deploy import tools
    from workshop.deploy.targets import Target, deploy_env

    osls = tools.find_osls()
    if osls is None:
        return [("the packaged templates pass cfn-lint", False, "osls is not installed (run `npm ci`)")]
    states = list(states)
    state_dir = Path(tempfile.mkdtemp(prefix="lint-emulator-", dir=scratch))
    info = emulator.start(state_dir)
    items = []
    try:
        trees = {slug: repo.export_tree(commit, scratch / f"lint-{slug}") for slug, commit in states}
        for region in regions:
            stage = longest_stage(course, region)
            env = deploy_env(Target("local", region=region, stage=stage), endpoint=info.endpoint,
                             home=scratch / "lint-home")
            (scratch / "lint-home").mkdir(exist_ok=True)
            problems: list[str] = []
            seen: dict[str, str] = {}  # the same service files are packaged once per Region
            for slug, tree in trees.items():
                for service in course.services:
                    service_dir = tree / service
                    config = service_dir / "serverless.yml"
                    if not config.is_file():
                        continue
                    text = config.read_text(encoding="utf-8")
                    key = _fingerprint(service_dir)
                    if key in seen:
                        continue
                    seen[key] = slug
                    _seed_ssm(info.endpoint, text, region, stage)
                    template, failure = _package(osls, service_dir, scratch / f"pkg-{region}-{slug}-{service}", region, stage, env)
                    if template is None:
                        problems.append(f"{slug} {service}: osls package failed: {failure}")
                        continue
                    problems += [f"{slug} {service}: {line}" for line in lint_template(template, region)]
            name = f"every checkpoint's templates pass cfn-lint (stage {stage}, the longest allowed in {region})"
            items.append((name, not problems, "\n".join(problems)))
    finally:
        emulator.stop(state_dir)
    return items


def _fingerprint(service_dir: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(p for p in service_dir.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(service_dir)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _seed_ssm(endpoint: str, serverless_yml: str, region: str, stage: str) -> None:
    import boto3

    names = ssm_names(serverless_yml, stage)
    if not names:
        return
    ssm = boto3.client("ssm", endpoint_url=endpoint, region_name=region, aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    for name in names:
        ssm.put_parameter(Name=name, Value=_placeholder(name, region, stage), Type="String", Overwrite=True)
