"""Benchmarks of the design's budgets (`make bench`): each builds a migrated database of its
own, temporary SQLite unless `--database-url` names an empty one, and prints its figures."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask

from custody import create_app


@contextmanager
def migrated_app(database_url: str | None) -> Iterator[Flask]:
    """An app on a freshly migrated database. Setup runs in `app.app_context()`; timed
    requests run outside it, each in its own context as in production."""
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        app = create_app({"CUSTODY_DATABASE_URL": url, "CUSTODY_SECRET_KEY": "bench-secret-" * 3})
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
        yield app


def insert_history(bag_ids: list[int], actor_id: int, events: int, action: str, states) -> None:
    """`events` custody events spread over the bags, a second apart over the past year,
    inserted in batches: the history a budget must stay flat against."""
    from datetime import timedelta

    from sqlalchemy import insert
    from sqlalchemy import text as sql_text

    from custody.extensions import db
    from custody.models import CustodyEvent
    from custody.models.base import utcnow

    before, after = states
    start = utcnow() - timedelta(days=365)
    if db.engine.dialect.name == "postgresql":
        # Written as the application writes (not as a direct change the tripwire records).
        db.session.execute(sql_text("SELECT set_config('custody.actor', 'benchmark', true)"))
    rows = []
    for n in range(events):
        rows.append(
            {
                "bag_id": bag_ids[n % len(bag_ids)],
                "action": action,
                "from_status": before,
                "to_status": after,
                "occurred_at": start + timedelta(seconds=n),
                "actor_id": actor_id,
                "notes": "",
            }
        )
        if len(rows) == HISTORY_BATCH:
            db.session.execute(insert(CustodyEvent.__table__), rows)
            rows.clear()
    if rows:
        db.session.execute(insert(CustodyEvent.__table__), rows)
    db.session.commit()


HISTORY_BATCH = 50_000


def report(name: str, samples: list[float]) -> None:
    """Median and 95th percentile of timings in milliseconds."""
    p95 = statistics.quantiles(samples, n=20)[-1] if len(samples) >= 2 else samples[0]
    print(
        f"{name}: median {statistics.median(samples):.1f} ms, p95 {p95:.1f} ms "
        f"over {len(samples)} samples"
    )


def command_environment(folder: Path) -> dict[str, str]:
    """Settings for a `custody` command run as a subprocess, everything it writes in `folder`:
    the database in a folder of its own (the audit key only in the environment: it may not sit
    beside the database), bytecode cached as an installed tracker would have it (a checkout
    may say not to write it), and no CUSTODY_* setting of the caller's."""
    for sub in ("database", "audit"):
        (folder / sub).mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODY_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    from custody.services.core.audit_keys import new_secret

    return env | {
        "CUSTODY_DATABASE_URL": f"sqlite:///{folder / 'database' / 'custody.sqlite3'}",
        "CUSTODY_SECRET_KEY": "bench-secret-" * 3,
        "CUSTODY_AUDIT_KEY": new_secret(),
        "CUSTODY_AUDIT_CHECKPOINT_LOG": str(folder / "audit" / "checkpoints.jsonl"),
        "PYTHONPYCACHEPREFIX": str(folder / "bytecode"),
    }


def run_custody(env: dict[str, str], *args: str) -> str:
    """Run `custody ARGS` as the installed command does; its output, or the run stops."""
    command = [sys.executable, "-m", "custody.cli", *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"`custody {' '.join(args)}` failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def children_cpu() -> float:
    """CPU seconds used so far by the subprocesses that ended."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
