"""Benchmark: lookback through the API on the demo data (budget: under 100 ms at 10^6 events).

Loads the demo at the given scale (scale 100 is about 10^5 custody events) into a migrated
database, temporary SQLite unless `--database-url` names an empty one, then times
GET /api/v1/lookback with a QA token (token auth, the queries, the JSON out) from every donor,
lot, reagent or vector lot and recipient (or an evenly spread sample of each), and prints
median, 95th percentile and maximum per starting point, with the largest answer seen.

    python -m tests.benchmarks.lookback_latency --scale 100 [--sample 200] [--database-url URL]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time

from sqlalchemy import func, select

from custody.extensions import db
from custody.models import BatchMaterial, CustodyEvent, Donor, Lot, Recipient
from custody.services.core.accounts import issue_token
from custody.services.demo import load_demo
from tests.benchmarks import migrated_app

URL = "/api/v1/lookback"
WARM_UP = 5


def starting_points(sample: int | None) -> dict[str, list[str]]:
    """Every identifier of each scope, or `sample` of them spread evenly over the list."""
    columns = {
        "donor": Donor.donor_code,
        "lot": Lot.lot_number,
        "reagent_lot": BatchMaterial.lot_number,
        "recipient": Recipient.subject_id,
    }
    found = {}
    for scope, column in columns.items():
        values = db.session.scalars(select(column).distinct().order_by(column)).all()
        if sample and len(values) > sample:
            step = len(values) / sample
            values = [values[int(n * step)] for n in range(sample)]
        found[scope] = list(values)
    return found


def time_lookbacks(app, token: str, scope: str, values: list[str]) -> tuple[list, list, int]:
    """Milliseconds per request, wall clock and this process's CPU (which, on a busy machine,
    leaves out the time spent waiting for a core), and the most bags one answer held."""
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for value in values[:WARM_UP]:
        client.get(URL, query_string={scope: value}, headers=headers)
    wall, cpu, widest = [], [], 0
    for value in values:
        started, used = time.perf_counter(), time.process_time()
        response = client.get(URL, query_string={scope: value}, headers=headers)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - used) * 1000)
        answer = response.get_json()
        assert response.status_code == 200, answer
        widest = max(widest, len(answer["bags"]))
    return wall, cpu, widest


def report(name: str, wall: list[float], cpu: list[float], widest: int) -> None:
    print(
        f"{name}: {_figures(wall)}; process CPU {_figures(cpu)}; "
        f"over {len(wall)} lookbacks (up to {widest} bags)"
    )


def _figures(samples: list[float]) -> str:
    p95 = statistics.quantiles(samples, n=20)[-1] if len(samples) >= 2 else samples[0]
    return (
        f"median {statistics.median(samples):.1f} ms, p95 {p95:.1f} ms, max {max(samples):.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100)
    parser.add_argument("--sample", type=int, help="at most this many starting points a scope")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with migrated_app(args.database_url) as app:
        with app.app_context():
            started = time.perf_counter()
            load_demo(scale=args.scale)
            events = db.session.scalar(select(func.count()).select_from(CustodyEvent))
            print(
                f"demo at scale {args.scale} ({events} custody events) loaded in "
                f"{time.perf_counter() - started:.1f} s"
            )
            token = issue_token("system:bench", "qa")
            db.session.commit()
            points = starting_points(args.sample)
        # What loading the demo left in this process (a server never holds it) is moved out of
        # the garbage collector's sight: otherwise its full collections, 100-200 ms over
        # ~230,000 objects at scale 10, land on whichever lookback happens to run then.
        gc.collect()
        gc.freeze()
        for scope, values in points.items():
            report(f"lookback from {scope}", *time_lookbacks(app, token, scope, values))


if __name__ == "__main__":
    main()
