"""Benchmark: labels, rendered alone and printed through the API (DESIGN.md: one label under
50 ms, a lot of 100 bags as one PDF under 3 s).

Times, with every template approved and lots of N released bags:
- rendering one final product label (template → PDF bytes, no database);
- a bag's first label through the API (issued: rendered as PDF and ZPL, hashed, stored, audited);
- the same label asked for again (the stored bytes);
- a whole lot's labels as one PDF through the API, every label issued in that request.

    python -m tests.benchmarks.label_printing [--bags 100] [--lots 5] [--database-url URL]
"""

from __future__ import annotations

import argparse

from custody.extensions import db
from custody.labels.pdf import render_pdf
from custody.models import Bag, Lot
from custody.services.core import accounts
from custody.services.labelling import contents
from custody.services.labelling.templates import printable_template
from tests.benchmarks import migrated_app, report
from tests.benchmarks.release_signing import _get, timed
from tests.factories import Factories, LotFactory, QualityFactory, approve_label_templates


def build(app, lots: int, bags: int) -> tuple[list[str], str]:
    make = Factories(app)
    quality = QualityFactory(app, make)
    approve_label_templates(make)
    numbers = [quality.released_lot(LotFactory(app), bags=bags).lot_number for _ in range(lots)]
    printer = make.user("technician")
    return numbers, accounts.issue_token("system:bench", printer.username)


def render_alone(app, number: str, repeats: int = 50) -> list[float]:
    with app.app_context():
        lot = db.session.query(Lot).filter_by(lot_number=number).one()
        content = contents.bag_label(lot.bags[0])
        template = printable_template(content.purpose)
        pages = [(template, content.values)]
        return [timed(render_pdf, pages, "bench") for _ in range(repeats)]


def measure(app, numbers: list[str], token: str) -> dict[str, list[float]]:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    found: dict[str, list[float]] = {"first": [], "again": [], "lot": []}
    half = len(numbers) // 2 or 1
    for number in numbers[:half]:
        for code in _codes(app, number)[:20]:
            found["first"].append(timed(_get, client, f"/api/v1/bags/{code}/label.pdf", headers))
            found["again"].append(timed(_get, client, f"/api/v1/bags/{code}/label.pdf", headers))
    for number in numbers[half:]:
        found["lot"].append(timed(_get, client, f"/api/v1/lots/{number}/labels.pdf", headers))
    return found


def _codes(app, number: str) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                db.select(Bag.code).join(Lot).where(Lot.lot_number == number).order_by(Bag.id)
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bags", type=int, default=100)
    parser.add_argument("--lots", type=int, default=6)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with migrated_app(args.database_url) as app:
        with app.app_context():
            numbers, token = build(app, args.lots, args.bags)
        rendered = render_alone(app, numbers[0])
        found = measure(app, numbers, token)
    report("render one final label (PDF, no database)", rendered)
    report("bag label through the API, first request (issued)", found["first"])
    report("bag label through the API, asked again (stored)", found["again"])
    report(f"lot of {args.bags} bags as one PDF through the API (all issued)", found["lot"])


if __name__ == "__main__":
    main()
