"""Benchmark: a custody scan through the API (budget: under 20 ms median, flat in history size).

Builds a migrated database holding N custody events spread over many bags, then times
alternating store/retrieve scans of random bags through POST /api/v1/scans (token auth, JSON in
and out, audit entries written) and a bag lookup, and prints median and 95th percentile.

    python -m tests.benchmarks.scan_latency --events 1000000 [--scans 400] [--database-url URL]
"""

from __future__ import annotations

import argparse
import random
import time

from sqlalchemy import insert, select

from custody.extensions import db
from custody.models import Bag, Donation, Donor, LocationKind, Lot, StorageLocation
from custody.models.base import utcnow
from custody.services.core import accounts
from custody.services.core.audit_trail import acting_as
from tests.benchmarks import insert_history, migrated_app, report

BAGS = 2_000
BATCH = 50_000


def build(events: int) -> tuple[str, list[str], list[str]]:
    """Quarantined bags with `events` custody events of history: token, bag codes, positions."""
    user = accounts.create_user(
        "system:bench", "bench", "Bench Tech", "technician", "correct horse battery"
    )
    token = accounts.issue_token("system:bench", "bench")
    with acting_as("system:bench", reason="benchmark setup"):
        donor = Donor(
            donor_code="DNR-BENCH", sex="F", birth_date=utcnow().date(), eligibility="eligible"
        )
        donation = Donation(
            din="W999926999999",
            donor=donor,
            collected_at=utcnow(),
            collection_timezone="UTC",
            facility="bench",
            volume_ml=200.0,
        )
        lot = Lot(lot_number="L-BENCH", din="W999926999999", product_description_code="D0001")
        lot.donations.append(donation)
        db.session.add(lot)
        box = StorageLocation(code="LOC-BENCH-BOX", name="Bench box", kind=LocationKind.BOX)
        positions = [
            StorageLocation(
                code=f"LOC-BENCH-P{n:04d}", name=f"P{n}", kind=LocationKind.POSITION, parent=box
            )
            for n in range(BAGS)
        ]
        db.session.add_all(positions)
        db.session.flush()
    lot_id, user_id = lot.id, user.id
    codes = [f"W999926{n:06d}-D0001V{chr(65 + n % 26)}{n // 26 % 10}" for n in range(BAGS)]
    db.session.execute(
        insert(Bag.__table__),
        [
            {
                "code": c,
                "lot_id": lot_id,
                "din": c[:13],
                "product_code": c[14:],
                "volume_ml": 20.0,
                "total_cells": 1e9,
                "viable_car_nk_cells": 9e8,
                "status": "quarantined",
                "created_at": utcnow(),
                "version": 1,
            }
            for c in codes
        ],
    )
    bag_ids = db.session.scalars(select(Bag.id)).all()
    insert_history(bag_ids, user_id, events, "quarantine", ("filled", "quarantined"))
    return token, codes, [p.code for p in positions]


def time_scans(app, token: str, codes: list[str], positions: list[str], scans: int):
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(1)
    chosen = rng.sample(range(len(codes)), scans // 2)
    scan_ms, lookup_ms = [], []
    for n in chosen:
        for body in (
            {"action": "store", "bag": codes[n], "location": positions[n]},
            {"action": "retrieve", "bag": codes[n]},
        ):
            started = time.perf_counter()
            response = client.post("/api/v1/scans", json=body, headers=headers)
            scan_ms.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 201, response.get_json()
        started = time.perf_counter()
        response = client.get(f"/api/v1/bags/{codes[n]}", headers=headers)
        lookup_ms.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return scan_ms, lookup_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--scans", type=int, default=400)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with migrated_app(args.database_url) as app:
        with app.app_context():
            started = time.perf_counter()
            token, codes, positions = build(args.events)
            print(f"built {args.events} custody events in {time.perf_counter() - started:.1f} s")
        scan_ms, lookup_ms = time_scans(app, token, codes, positions, args.scans)
        report(f"scan at {args.events} events", scan_ms)
        report(f"bag detail at {args.events} events", lookup_ms)


if __name__ == "__main__":
    main()
