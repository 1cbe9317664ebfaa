"""Benchmark: `workshop reset --step N` against plain `git checkout` of the same trees, side by side.

Builds a workspace of the real course in a temporary folder (isolated HOME and git config), then alternates between the
start of two steps, timing: the core function (operations.reset_to_step, backup included), the CLI in a subprocess
(Python start-up included), and `git checkout` switching a copy of the workspace between the same two trees.
Prints the medians and the ratios (target: core <= 3x git checkout).

Then the whole commands, interleaved in the same workspace: `workshop reset --step N` (alternating the two steps) against
`workshop status`, each a fresh CLI process. Target: reset within 1.5x status (issue 11).

    .venv/bin/python bench/bench_reset.py [--reps 15] [--steps 1 12] [--code DIR]

`--code DIR` runs the runner found in DIR (a checkout of another commit, e.g. main) for the baseline. The CLI processes
run with bytecode caching on and one warm-up each, as an installed runner does ($PYTHONDONTWRITEBYTECODE is dropped).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run_cpu(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run a command: (wall seconds, CPU seconds of it and its children). CPU time hardly moves when other work loads
    the machine, so its ratio is the steadier figure on a shared machine."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed with exit {proc.returncode}")
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--steps", type=int, nargs=2, default=(1, 12), help="the two steps whose starts to alternate")
    parser.add_argument("--code", type=Path, default=REPO, help="the checkout whose runner to time (default: this one)")
    args = parser.parse_args()
    code = args.code.resolve()
    scratch = Path(tempfile.mkdtemp(prefix="bench-reset-"))
    os.environ.update({"HOME": str(scratch), "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
                       "WORKSHOP_HOME": str(scratch / "wh")})
    sys.path.insert(0, str(code))
    from workshop.checkpoints import build as checkpoints
    from workshop.checkpoints import operations
    from workshop.checkpoints import repo as gitrepo
    from workshop.course import model as course
    from workshop.course import workspace

    loaded = course.load()
    a, b = (loaded.step(n) for n in args.steps)
    root = scratch / "ws"
    workspace.create(root, loaded.course_version, loaded.steps[0].id)
    checkpoints.init_repo(root, loaded)
    plain = scratch / "plain"
    shutil.copytree(root, plain)
    ref_a = f"checkpoint/{loaded.steps[a.number - 1].slug}" if a.number else "main"
    ref_b = f"checkpoint/{loaded.steps[b.number - 1].slug}"
    files = len(list((root / "wild-rydes").rglob("*"))) + len(list((root / "wild-rydes-ride-record").rglob("*")))

    core, cli, git, spawned = [], [], [], []
    env = {**os.environ, "WORKSHOP_COURSE_DIR": str(loaded.root), "PYTHONPATH": str(code)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    print(f"runner: {code}")
    real_call = gitrepo.Repo.call  # counts the git subprocesses a reset runs (each costs ~5-10 ms)
    gitrepo.Repo.call = lambda self, *argv, **kw: spawned.append(argv[0]) or real_call(self, *argv, **kw)
    for _ in range(args.reps):
        for step, ref in ((b, ref_b), (a, ref_a)):
            core.append(timed(lambda step=step: operations.reset_to_step(root, loaded, step)))
            git.append(timed(lambda ref=ref: subprocess.run(["git", "checkout", "-q", "--detach", ref], cwd=plain, check=True)))
    gitrepo.Repo.call = real_call
    status_cli, status_cpu, reset_cpu = [], [], []
    status = [sys.executable, "-m", "workshop", "-w", str(root), "status"]
    for warm in (status, [sys.executable, "-m", "workshop", "-w", str(root), "reset", "--step", str(a.number)]):
        subprocess.run(warm, env=env, check=True, capture_output=True)  # writes the bytecode caches
    for _ in range(max(3, args.reps)):
        for step in (b, a):  # interleaved: status, reset, status, reset ... so both see the same machine load
            wall, cpu = run_cpu(status, env)
            status_cli.append(wall)
            status_cpu.append(cpu)
            wall, cpu = run_cpu([sys.executable, "-m", "workshop", "-w", str(root), "reset", "--step", str(step.number)], env)
            cli.append(wall)
            reset_cpu.append(cpu)

    med = {name: statistics.median(values) * 1000
           for name, values in (("core", core), ("cli", cli), ("git", git), ("status", status_cli),
                                ("status_cpu", status_cpu), ("reset_cpu", reset_cpu))}
    print(f"workspace: {files} paths in the two services; alternating the starts of steps {a.number} and {b.number}; "
          f"{len(core)} resets (core), {len(cli)} (CLI), {len(git)} checkouts")
    print(f"{'':34}{'median ms':>10}{'ratio':>8}")
    print(f"{'git checkout (same trees)':34}{med['git']:10.1f}{1.0:8.1f}")
    print(f"{'workshop reset, core function':34}{med['core']:10.1f}{med['core'] / med['git']:8.1f}")
    print(f"{'workshop reset, CLI subprocess':34}{med['cli']:10.1f}{med['cli'] / med['git']:8.1f}")
    print(f"git subprocesses per reset (core): {len(spawned) / len(core):.1f} ({', '.join(sorted(set(spawned)))})")
    print("target: core <= 3.0x git checkout")
    print()
    print(f"whole commands, interleaved ({len(cli)} of each){'median ms':>17}{'ratio':>8}{'CPU ms':>9}{'ratio':>8}")
    print(f"{'workshop status':34}{med['status']:10.1f}{1.0:8.1f}{med['status_cpu']:9.1f}{1.0:8.1f}")
    print(f"{'workshop reset --step N':34}{med['cli']:10.1f}{med['cli'] / med['status']:8.2f}"
          f"{med['reset_cpu']:9.1f}{med['reset_cpu'] / med['status_cpu']:8.2f}")
    print("target: reset <= 1.5x status")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
