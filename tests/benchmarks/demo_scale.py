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
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from custody.services.core.audit_keys import new_secret

EVENTS = re.compile(r"(\d+) custody events")


def environment(folder: Path) -> dict[str, str]:
    """The command's settings: everything it writes lives in `folder` (the key only in the
    environment: it may not sit in the database's folder)."""
    return os.environ | {
        "CUSTODY_DATABASE_URL": f"sqlite:///{folder / 'demo.sqlite3'}",
        "CUSTODY_SECRET_KEY": "bench-secret-" * 3,
        "CUSTODY_AUDIT_KEY": new_secret(),
        "CUSTODY_AUDIT_CHECKPOINT_LOG": str(folder / "checkpoints" / "checkpoints.jsonl"),
    }


def custody(env: dict[str, str], *args: str) -> str:
    """Run `custody ARGS` as the installed command does; its output, or the run stops."""
    command = [sys.executable, "-m", "custody.cli", *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"`custody {' '.join(args)}` failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "checkpoints").mkdir()
        env = environment(folder)
        custody(env, "db", "upgrade")
        cpu, started = children_cpu(), time.perf_counter()
        output = custody(env, "demo", "--scale", str(args.scale), "--seed", str(args.seed))
        wall, cpu = time.perf_counter() - started, children_cpu() - cpu
    found = EVENTS.search(output)
    events = int(found.group(1)) if found else 0
    print(
        f"custody demo --scale {args.scale}: {wall:.1f} s wall, {cpu:.1f} s CPU, "
        f"{events} custody events loaded ({events / wall:,.0f} events/s)"
    )


if __name__ == "__main__":
    main()
