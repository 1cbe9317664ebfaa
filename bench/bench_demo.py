"""The whole instructor demo with --yes on the embedded emulator: wall time, peak memory, and the runner's overhead
against the sum of its deploy commands' own times measured in the same run (the named baseline).

Target: the whole module in under 60 s on a 2-core machine. Memory is sampled from /proc over the demo's whole
process tree (runner, emulator, osls, functions) every 0.2 s.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def tree_rss_mb(root_pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            status = (entry / "status").read_text()
        except OSError:
            continue
        pid, ppid = int(entry.name), int(stat[1])
        children.setdefault(ppid, []).append(pid)
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        rss[pid] = int(match.group(1)) if match else 0
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total / 1024


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "HOME": tmp, "WORKSHOP_HOME": tmp, "NO_COLOR": "1", "COLUMNS": "160"}
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "workshop", "demo", "--yes"], cwd=tmp, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True)
        peak = [0.0]

        def sample() -> None:
            while proc.poll() is None:
                peak[0] = max(peak[0], tree_rss_mb(proc.pid))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        out, err = proc.communicate()
        wall = time.perf_counter() - started
        sampler.join()
    if proc.returncode != 0:
        print(out[-3000:], err[-2000:], sep="\n")
        print(f"demo failed (exit {proc.returncode}) after {wall:.1f}s")
    deploys = sum(float(x) for x in re.findall(r"│\s+([\d.]+)s\s+│\s*$", out, re.MULTILINE))
    print(f"{'measure':<48} {'value':>10}")
    print(f"{'whole demo --yes (wall)':<48} {wall:9.1f}s   (target < 60 s on 2 cores)")
    print(f"{'baseline: sum of its osls deploys':<48} {deploys:9.1f}s")
    print(f"{'runner overhead (solve, verify, rides, render)':<48} {wall - deploys:9.1f}s   ratio wall/deploys {wall / deploys if deploys else float('nan'):.2f}x")
    print(f"{'peak memory of the whole process tree':<48} {peak[0]:9.0f} MB")


if __name__ == "__main__":
    main()
