"""Deploy of one service on the embedded emulator: `workshop deploy` against `osls deploy` run directly with the
same environment (the named baseline), side by side and interleaved; then `deploy all` at step 12 on an empty stage.

Target: the runner's overhead <= 10% of the direct osls deploy. Prints medians, the ratio and the overhead.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
WORKSHOP = str(Path(sys.executable).with_name("workshop"))
SERVICE = "wild-rydes-ride-record"


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(argv)}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return time.perf_counter() - start


def main() -> None:
    from workshop import emulator
    from workshop.course import paths
    from workshop.deploy import targets, tools
    from workshop.deploy.targets import Target

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "HOME": tmp, "WORKSHOP_HOME": tmp, "NO_COLOR": "1"}
        ws = Path(tmp) / "ws"
        subprocess.run([WORKSHOP, "init", str(ws)], env=env, check=True, capture_output=True)
        try:
            timed([WORKSHOP, "deploy", SERVICE], ws, env)  # warm-up: starts the emulator, first deploy creates the stack
            endpoint = targets.endpoint_for(ws, Target("local"))
            home = paths.osls_home(ws)
            direct_env = targets.deploy_env(Target("local"), endpoint=endpoint, home=home)
            direct = [*tools.osls_command(), "deploy", "--stage", "dev", "--region", "us-east-1", "--verbose"]
            ours, base = [], []
            handler = ws / SERVICE / "handlers" / "put_ride_record.py"
            runs = (lambda: base.append(timed(direct, ws / SERVICE, direct_env)),
                    lambda: ours.append(timed([WORKSHOP, "deploy", SERVICE], ws, env)))
            for number in range(ROUNDS):
                # Change the code before every deploy so each really updates the stack; alternate who goes first.
                for index, run in enumerate(runs if number % 2 == 0 else runs[::-1]):
                    handler.write_text(handler.read_text() + f"\n# bench round {number}.{index}\n")
                    run()
            subprocess.run(["git", "checkout", "--", "."], cwd=ws, check=True, capture_output=True)
            subprocess.run([WORKSHOP, "reset", "--step", "13"], cwd=ws, env=env, check=True, capture_output=True)
            all_time = timed([WORKSHOP, "deploy", "all", "--stage", "bench12"], ws, env)
        finally:
            emulator.stop(targets.emulator_dir(ws))
    b, o = statistics.median(base), statistics.median(ours)
    print(f"{'command':<58} {'median':>8}")
    print(f"{'baseline: osls deploy (same env, direct)':<58} {b:7.2f}s")
    print(f"{'workshop deploy ' + SERVICE:<58} {o:7.2f}s")
    print(f"ratio {o / b:.2f}x, runner overhead {100 * (o - b) / b:+.1f}% (target <= +10%), {ROUNDS} rounds each, interleaved")
    print(f"workshop deploy all at step 12 on an empty stage: {all_time:.2f}s")


if __name__ == "__main__":
    main()
