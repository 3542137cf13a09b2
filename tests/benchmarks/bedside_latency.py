"""Benchmark: a bedside verification through the API (budget: under 20 ms median, flat in
history size).

Builds a migrated database with one released lot whose bags are each allocated to a recipient,
received at the site and thawed, plus N custody events of history spread over those bags; then
times POST /api/v1/bedside/verifications (token auth, JSON in and out, the sixteen checks, the
attempt row and its audit entries) in two ways:

- first nurse only (the checks run, the second verifier is still awaited): the server's own work;
- with the second nurse's credentials: the same plus one password hash check, which is slow on
  purpose (werkzeug's scrypt) and is reported on its own so the budget is read fairly.

    python -m tests.benchmarks.bedside_latency --events 1000000 [--bags 200] [--database-url URL]
"""

from __future__ import annotations

import argparse
import time

from sqlalchemy import select

from custody.domain.scan_targets import bag_code
from custody.domain.wristband import wristband_data
from custody.extensions import db
from custody.models import User
from custody.services.core.accounts import authenticate
from tests.benchmarks import insert_history, migrated_app, report
from tests.factories import PASSWORD, ClinicFactory, Factories, LotFactory, QualityFactory

BATCH = 50_000


def build(app, bags: int, events: int) -> tuple[str, list[tuple[str, str]]]:
    """Bags at the bedside with `events` events of history: a nurse's token, (wristband, bag)."""
    make = Factories(app)
    clinic = ClinicFactory(app, make, QualityFactory(app, make), LotFactory(app))
    clinic.trial(post_thaw_minutes=24 * 60)  # a window that outlasts the benchmark
    make.user("nurse", username="second", name="Second Nurse")
    token = make.token(make.user("nurse", username="first", name="First Nurse"))
    pairs = []
    for bag in clinic.released_bags(bags):
        recipient = clinic.recipient()
        allocation = clinic.allocate(bag, recipient)
        clinic.receive(bag, recipient.site)
        clinic.thaw(bag, allocation, minutes_ago=1)
        pairs.append((wristband_data(recipient.hospital_record_number, recipient.birth_date), bag))
    actor = db.session.scalar(select(User.id).order_by(User.id).limit(1))
    insert_history([bag.id for _, bag in pairs], actor, events, "move", ("released", "released"))
    return token, [(band, bag_code(bag.din, bag.product_code)) for band, bag in pairs]


def time_verifications(app, token: str, pairs, second: dict | None) -> list[float]:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    timings = []
    for band, bag in pairs:
        body = {"recipient": band, "bag": bag} | ({"second_verifier": second} if second else {})
        started = time.perf_counter()
        response = client.post("/api/v1/bedside/verifications", json=body, headers=headers)
        timings.append((time.perf_counter() - started) * 1000)
        answer = response.get_json()
        assert response.status_code == 201, answer
        assert answer["outcome"] == ("passed" if second else "incomplete"), answer["stop_reason"]
    return timings


def time_password_check(app, samples: int = 20) -> list[float]:
    timings = []
    with app.app_context():
        for _ in range(samples):
            started = time.perf_counter()
            authenticate("second", PASSWORD)
            timings.append((time.perf_counter() - started) * 1000)
            db.session.commit()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--bags", type=int, default=200)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with migrated_app(args.database_url) as app:
        with app.app_context():
            started = time.perf_counter()
            token, pairs = build(app, args.bags, args.events)
            print(
                f"built {args.bags} bags at the bedside and {args.events} custody events "
                f"in {time.perf_counter() - started:.1f} s"
            )
        first_only = time_verifications(app, token, pairs, None)
        both = time_verifications(app, token, pairs, {"username": "second", "password": PASSWORD})
        report(f"bedside verification, checks only, at {args.events} events", first_only)
        report(f"bedside verification with the second nurse, at {args.events} events", both)
        report("of which: one password check (scrypt)", time_password_check(app))


if __name__ == "__main__":
    main()
