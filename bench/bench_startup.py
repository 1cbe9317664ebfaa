"""Cold start of `workshop status` against the floor of any Typer + Rich CLI that prints a table.

Baseline (named): `python -c "import typer, rich.console, rich.table"`. Both run side by side, interleaved, in fresh
interpreters, in a real workspace. Target: ratio <= 1.25. Prints medians and the ratio.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "25"))
PY = sys.executable
WORKSHOP = str(Path(PY).with_name("workshop"))


def timed(argv: list[str], cwd: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "HOME": tmp, "WORKSHOP_HOME": tmp, "NO_COLOR": "1", "COLUMNS": "120"}
        env.pop("WORKSHOP_COURSE_DIR", None)
        ws = Path(tmp) / "ws"
        subprocess.run([WORKSHOP, "init", str(ws)], env=env, check=True, capture_output=True)
        baseline_cmd = [PY, "-c", "import typer, rich.console, rich.table"]
        status_cmd = [WORKSHOP, "status"]
        for _ in range(3):  # warm the OS file cache for both
            timed(baseline_cmd, str(ws), env)
            timed(status_cmd, str(ws), env)
        base, ours = [], []
        for _ in range(ROUNDS):
            base.append(timed(baseline_cmd, str(ws), env))
            ours.append(timed(status_cmd, str(ws), env))
    b, o = statistics.median(base), statistics.median(ours)
    print(f"{'command':<52} {'median':>9}")
    print(f"{'baseline: python -c import typer, rich.console, rich.table':<52} {b * 1000:8.1f}ms")
    print(f"{'workshop status':<52} {o * 1000:8.1f}ms")
    print(f"ratio workshop status / baseline: {o / b:.2f}x (target <= 1.25x, {ROUNDS} rounds each, interleaved)")


if __name__ == "__main__":
    main()
