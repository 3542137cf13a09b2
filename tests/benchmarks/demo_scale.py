"""Benchmark: `custody demo --scale N` (budget: scale 100, about 10^5 custody events, in under
a minute).

Runs the command as a user would, in a subprocess, on a freshly migrated temporary SQLite
database with an audit key and checkpoint log of its own (the migration is not timed), and
prints the wall-clock seconds, the CPU seconds of the subprocess (which, on a busy machine,
leaves out the time spent waiting for a core) and how many custody events it loaded.

    python -m tests.benchmarks.demo_scale [--scale 100] [--seed 1]
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

from tests.benchmarks import children_cpu, command_environment, run_custody

EVENTS = re.compile(r"(\d+) custody events")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = command_environment(Path(tmp))
        run_custody(env, "db", "upgrade")
        cpu, started = children_cpu(), time.perf_counter()
        output = run_custody(env, "demo", "--scale", str(args.scale), "--seed", str(args.seed))
        wall, cpu = time.perf_counter() - started, children_cpu() - cpu
    found = EVENTS.search(output)
    events = int(found.group(1)) if found else 0
    print(
        f"custody demo --scale {args.scale}: {wall:.1f} s wall, {cpu:.1f} s CPU, "
        f"{events} custody events loaded ({events / wall:,.0f} events/s)"
    )


if __name__ == "__main__":
    main()
