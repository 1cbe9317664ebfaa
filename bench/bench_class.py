"""`workshop class status` over a class of 30 learner stages on the embedded emulator, side by side with the named
baseline: 30 sequential `workshop verify --step N --stage S` runs of the same stages (an instructor checking each
learner in turn). Targets: class status at least 5x faster; at most 15 API calls per stage.

Sets up once: one workspace built by `workshop init`'s code, one emulator, and 30 stages deployed at the steps with
live checks (0, 3, 6, 10, 12, 13; five stages each) by replaying the checkpoint exports in the module's order
(tests/instructor/class_world.py, through workshop/deploy/replay.py and rollout). Then ROUNDS rounds, interleaved: one
`class status --json` process, then the 30 verify processes. Prints the medians, the ratio and the API calls per stage;
exits non-zero if class status places a stage anywhere but at its step.

`verify --step N` also runs step N's behaviour checks (a test ride at steps 0 and 12, a poison ride at 13), which class
status never runs; the figures therefore also show the baseline over the stages at steps 3, 6 and 10 only, whose verify
runs are live checks alone (plus step-free static checks none of these steps has).

Measured 2026-11-30 (2 cores shared with seven other helpers' builds and tests, load ~13; 30 stages, 3 rounds; set-up
1001 s for 135 deploys): class status median 3.94 s (387 API calls, 2 shared); 30 x verify --step N median 127.05 s:
32.2x faster; against verify runs without behaviour checks (2.26 s each at steps 3, 6, 10): 17.2x faster. API calls per
stage: mean 12.8, at most 21 (a stage that finished: step 0: 5, 3: 7, 6: 10, 10: 17, 12: 17, 13: 21); every stage
placed at its step.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
STAGES = int(os.environ.get("BENCH_STAGES", "30"))
STEPS = (0, 3, 6, 10, 12, 13)  # every step with live checks
WORKSHOP = str(Path(sys.executable).with_name("workshop"))


def run(argv: list[str], cwd: Path, env: dict) -> tuple[float, int, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - start, done.returncode, done.stdout


def setup(tmp: Path) -> tuple[Path, dict[str, int]]:
    from tests.instructor.class_world import class_workspace, deploy_at

    root = tmp / "ws"
    loaded = class_workspace(root)
    stages = {f"learner-{i + 1:02d}": STEPS[i % len(STEPS)] for i in range(STAGES)}
    started = time.monotonic()
    for number, (stage, step) in enumerate(stages.items(), 1):
        seconds = deploy_at(root, loaded, stage, step)
        print(f"  {number:2d}/{len(stages)} {stage} at step {step}: {seconds:.0f} s", flush=True)
    print(f"set up in {time.monotonic() - started:.0f} s", flush=True)
    return root, stages


def main() -> None:
    from workshop import emulator
    from workshop.deploy import targets

    with tempfile.TemporaryDirectory(prefix="bench-class-") as name:
        tmp = Path(name)
        print(f"setting up {STAGES} stages...", flush=True)
        root, stages = setup(tmp)
        try:
            env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
                   "HOME": str(tmp / "home"), "NO_COLOR": "1", "COLUMNS": "120"}
            ours: list[float] = []
            theirs: list[float] = []
            live_only: list[float] = []  # the baseline's runs of stages at steps 3, 6 and 10
            report = None
            for _ in range(ROUNDS):
                seconds, code, out = run([WORKSHOP, "class", "status", "--json", "--workspace", str(root)], root, env)
                if code != 0:
                    sys.exit(f"class status failed (exit {code})")
                ours.append(seconds)
                report = json.loads(out)
                total = 0.0
                for stage, step in stages.items():
                    took, _code, _out = run([WORKSHOP, "verify", "--step", str(step), "--stage", stage, "--json",
                                             "--workspace", str(root)], root, env)
                    total += took
                    if step in (3, 6, 10):
                        live_only.append(took)
                theirs.append(total)
            placed = {s["stage"]: s["step"] for s in report["stages"]}
            wrong = {s: (step, placed.get(s)) for s, step in stages.items() if placed.get(s) != step}
            per_stage = [s["calls"] for s in report["stages"]]
            by_step: dict[int, list[int]] = {}
            for s in report["stages"]:
                by_step.setdefault(s["step"], []).append(s["calls"])
            a, b = statistics.median(ours), statistics.median(theirs)
            per_verify = statistics.median(live_only) if live_only else float("nan")
            print(f"class status over {len(stages)} stages: median {a:.2f} s over {ROUNDS} "
                  f"({report['stats']['calls']} API calls, {report['stats']['shared_calls']} shared)")
            print(f"{len(stages)} x workshop verify --step N --stage S: median {b:.2f} s over {ROUNDS}")
            print(f"ratio: {b / a:.1f}x faster (target >= 5x) -> {'met' if b / a >= 5 else 'NOT met'}")
            print(f"without behaviour checks (verify of the stages at steps 3, 6, 10: median {per_verify:.2f} s each, "
                  f"x {len(stages)}): {per_verify * len(stages) / a:.1f}x faster")
            print(f"API calls per stage: at most {max(per_stage)}, mean {statistics.mean(per_stage):.1f} "
                  f"(target <= 15) -> {'met' if max(per_stage) <= 15 else 'NOT met at the maximum'}; "
                  + ", ".join(f"step {k}: {max(v)}" for k, v in sorted(by_step.items(), key=lambda kv: kv[0] if kv[0] is not None else -1)))
            if wrong:
                sys.exit(f"class status misplaced stages (deployed step, placed step): {wrong}")
            print(f"every stage placed at its step ({len(stages)} of {len(stages)})")
        finally:
            emulator.stop(targets.emulator_dir(root))


if __name__ == "__main__":
    main()
