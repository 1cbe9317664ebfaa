"""`workshop verify --step 10` against the embedded emulator, side by side with a bash script making the same live checks
through the `aws` CLI (how Killercoda/Instruqt check scripts work). Target: verify at least 5x faster.

Sets up once (3 deploys: ride-record, wild-rydes with its topic, ride-record with its subscription), then runs both
interleaved, ROUNDS times each, in fresh processes. Prints the medians, the ratio and each side's peak memory (max RSS
of the process tree). Without an `aws` CLI on PATH it installs awscli into a temporary venv from PyPI.

Measured 2026-11-28 (2 cores, shared with other test runs, load ~4; aws-cli 1.45.11): one `aws` call 3.15 s;
workshop verify --step 10 median 2.48 s, 57 MiB; bash + aws CLI (14 calls) median 31.37 s, 55 MiB; 12.7x faster.

`--static` (no emulator, no deploy): `workshop verify --step 5` (a config step) and `--step 7` (a code step) against
`workshop status` in the same workspace, interleaved, each as a ratio. Target for step 5: within 2x status.
`--baseline DIR` runs the same commands with the code of another checkout (e.g. a worktree of main) side by side,
so the figures print against main's:

    .venv/bin/python bench/bench_verify.py --static [--baseline /path/to/main-checkout] [--rounds 7]

Measured 2026-11-30 against main at 2ccc06e (2 cores shared with other sessions, load 9-14; medians of 5 rounds):
verify --step 5 0.27 s vs status 0.28 s (0.99x; main 1.41 s, 7.04x: cfn-lint's YAML reader loaded sympy and networkx);
verify --step 7 4.73 s vs status 0.28 s (17.2x; main 3.21 s, 9.5x): code steps now also run the service's own tests
(issue 12 item 4), in the same pytest process as the step's behaviour test.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
WORKSHOP = str(Path(sys.executable).with_name("workshop"))

# The same live checks as step 10, one `aws` call per fact (an instructor's check script).
CHECK_SCRIPT = r"""#!/usr/bin/env bash
set -u
fail() { echo "FAIL: $*"; status=1; }
status=0
RR=wild-rydes-ride-record-dev; WR=wild-rydes-dev
aws sts get-caller-identity --query Account --output text >/dev/null || fail "credentials"
for s in $RR $WR; do
  st=$(aws cloudformation describe-stacks --stack-name $s --query 'Stacks[0].StackStatus' --output text) || fail "stack $s"
  case "$st" in *ROLLBACK*|*FAILED*|*IN_PROGRESS) fail "stack $s is $st";; esac
done
TOPIC=$(aws cloudformation list-stack-resources --stack-name $WR --query "StackResourceSummaries[?LogicalResourceId=='RidesSnsTopic'].PhysicalResourceId" --output text)
aws sns get-topic-attributes --topic-arn "$TOPIC" >/dev/null || fail "topic"
TABLE=$(aws cloudformation list-stack-resources --stack-name $RR --query "StackResourceSummaries[?LogicalResourceId=='RideRecordTable'].PhysicalResourceId" --output text)
read -r H T FN_ARN <<<"$(aws lambda get-function-configuration --function-name $RR-PutRideRecordSns --query '[Handler, Environment.Variables.DDB_TABLE_NAME, FunctionArn]' --output text)"
[ "$H" = handlers/put_ride_record.handler_sns ] || fail "sns handler $H"
[ "$T" = "$TABLE" ] || fail "table $T"
SUB=$(aws sns list-subscriptions-by-topic --topic-arn "$TOPIC" --query "Subscriptions[?Protocol=='lambda' && Endpoint=='$FN_ARN'].SubscriptionArn | [0]" --output text)
[ -n "$SUB" ] && [ "$SUB" != None ] || fail "subscription"
P=$(aws sns get-subscription-attributes --subscription-arn "$SUB" --query Attributes.PendingConfirmation --output text)
[ "$P" = false ] || fail "pending confirmation"
aws lambda get-policy --function-name $RR-PutRideRecordSns --query Policy --output text | grep -q sns.amazonaws.com || fail "invoke permission"
H=$(aws lambda get-function-configuration --function-name $RR-PutRideRecordHttp --query Handler --output text)
[ "$H" = handlers/put_ride_record.handler_http ] || fail "http handler $H"
aws lambda get-function-configuration --function-name $RR-PutRideRecord >/dev/null 2>&1 && fail "old function still there"
exit $status
"""


def aws_cli(tmp: Path) -> str:
    found = shutil.which("aws")
    if found and subprocess.run([found, "--version"], capture_output=True).returncode == 0:
        return found
    venv = tmp / "awscli-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "awscli"], check=True)
    return str(venv / "bin" / "aws")


def deploy(root: Path, service: str, env: dict) -> None:
    osls = REPO / "node_modules" / ".bin" / "osls"
    done = subprocess.run([str(osls), "deploy", "--stage", "dev"], cwd=root / service, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"deploy of {service} failed:\n{done.stdout[-2000:]}")


def setup(tmp: Path) -> tuple[Path, str]:
    from tests.checks.conftest import build_state, committed_course
    from workshop import emulator
    from workshop.course import model as course
    from workshop.course import workspace
    from workshop.deploy import targets

    source = committed_course(tmp / "course")
    root = build_state(tmp / "ws", 9, source)
    loaded = course.load()
    state = workspace.create(root, loaded.course_version, loaded.steps[0].id)
    state.current = loaded.step(10).id
    workspace.save_state(root, state)
    endpoint = emulator.ensure_running(targets.emulator_dir(root)).endpoint
    env = targets.deploy_env(targets.Target(), endpoint=endpoint, home=tmp / "home")
    deploy(build_state(tmp / "ws-02", 2, source), "wild-rydes-ride-record", env)
    deploy(build_state(tmp / "ws-05", 5, source), "wild-rydes", env)
    deploy(root, "wild-rydes-ride-record", env)
    return root, endpoint


def run(argv: list[str], cwd: Path, env: dict) -> tuple[float, int, int]:
    """Seconds, exit code and peak RSS (MiB) of one process tree."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - start, proc.returncode, usage.ru_maxrss // 1024


def static_workspace(tmp: Path, after: int, current: int) -> Path:
    from tests.checks.conftest import build_state, committed_course
    from workshop.course import model as course
    from workshop.course import workspace

    source = tmp / "course"
    if not source.is_dir():
        committed_course(source)
    root = build_state(tmp / f"ws-{after:02d}", after, source)
    loaded = course.load()
    state = workspace.create(root, loaded.course_version, loaded.steps[0].id)
    state.current = loaded.step(current).id
    workspace.save_state(root, state)
    return root


def static_main(rounds: int, baseline: Path | None) -> None:
    """verify --step 5 / --step 7 (static checks only) against status, for this checkout and optionally a baseline."""
    with tempfile.TemporaryDirectory(prefix="bench-verify-static-") as name:
        tmp = Path(name)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, "HOME": str(tmp / "home"),
               "NO_COLOR": "1", "COLUMNS": "120", "GIT_CONFIG_GLOBAL": os.devnull, "WORKSHOP_HOME": str(tmp / "wh")}
        sides = {"this branch": (REPO, env)}
        if baseline is not None:
            sides["baseline"] = (baseline, {**env, "PYTHONPATH": str(baseline)})
        figures: dict[tuple[str, str], list[float]] = {}
        for step in (5, 7):
            root = static_workspace(tmp, step, step)
            commands = {"status": ["status", "--workspace", str(root)],
                        f"verify --step {step}": ["verify", "--step", str(step), "--json", "--workspace", str(root)]}
            for _ in range(rounds):
                for side, (code, side_env) in sides.items():
                    for label, argv in commands.items():
                        seconds, _code, _rss = run([sys.executable, "-m", "workshop", *argv], code, side_env)
                        figures.setdefault((side, f"{label}@{step}"), []).append(seconds)
        for side in sides:
            print(f"{side}:")
            for step in (5, 7):
                status = statistics.median(figures[(side, f"status@{step}")])
                verify = statistics.median(figures[(side, f"verify --step {step}@{step}")])
                target = " (target <= 2.0x)" if step == 5 else ""
                print(f"  step {step}: verify {verify:.2f} s, status {status:.2f} s, ratio {verify / status:.2f}x{target}")
        if baseline is not None:
            for step in (5, 7):
                ours = statistics.median(figures[("this branch", f"verify --step {step}@{step}")])
                theirs = statistics.median(figures[("baseline", f"verify --step {step}@{step}")])
                print(f"verify --step {step}: {ours:.2f} s here vs {theirs:.2f} s on the baseline ({theirs / ours:.2f}x faster)")


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--static", action="store_true", help="static checks only: verify --step 5 and 7 against status")
    parser.add_argument("--baseline", type=Path, help="a checkout of the baseline (main) to run side by side")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    if args.static:
        static_main(args.rounds, args.baseline)
        return
    live_main()


def live_main() -> None:
    from workshop import emulator
    from workshop.deploy import targets

    with tempfile.TemporaryDirectory(prefix="bench-verify-") as name:
        tmp = Path(name)
        aws = aws_cli(tmp)
        print("setting up (3 deploys)...", flush=True)
        root, endpoint = setup(tmp)
        try:
            script = tmp / "check-step-10.sh"
            script.write_text(CHECK_SCRIPT.replace("aws ", f"{aws} "))
            base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            cli_env = {**base, "HOME": str(tmp / "home"), "NO_COLOR": "1", "COLUMNS": "120"}
            aws_env = {**base, **targets.FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_PAGER": ""}
            one_call = [run([aws, "sts", "get-caller-identity"], tmp, aws_env)[0] for _ in range(3)]
            ours, theirs = [], []
            for _ in range(ROUNDS):
                ours.append(run([WORKSHOP, "verify", "--step", "10", "--json", "--workspace", str(root)], root, cli_env))
                theirs.append(run(["bash", str(script)], tmp, aws_env))
            for label, runs in (("workshop verify --step 10", ours), ("bash + aws CLI", theirs)):
                codes = {r[1] for r in runs}
                if codes != {0}:
                    sys.exit(f"{label} did not pass (exit codes {codes}); the comparison needs both to pass")
            a, b = statistics.median(r[0] for r in ours), statistics.median(r[0] for r in theirs)
            print(f"one `aws` call (sts get-caller-identity): median {statistics.median(one_call):.2f} s")
            print(f"workshop verify --step 10: median {a:.2f} s over {ROUNDS}, peak memory {max(r[2] for r in ours)} MiB")
            print(f"bash + aws CLI (14 calls):  median {b:.2f} s over {ROUNDS}, peak memory {max(r[2] for r in theirs)} MiB")
            print(f"ratio: {b / a:.1f}x faster (target >= 5x) -> {'met' if b / a >= 5 else 'NOT met'}")
        finally:
            emulator.stop(targets.emulator_dir(root))


if __name__ == "__main__":
    main()
