"""Benchmark: QA's release of a lot, its certificate and its quality record, through the API.

Builds lots of N bags each with every result in specification, then times, per lot: the
signed release (password check, rules, signature, certificate rendered and stored), fetching
the stored certificate, and the lot's quality record with its signature re-verified. The
release includes the deliberately slow password hash of the re-entered password.

    python -m tests.benchmarks.release_signing [--bags 100] [--lots 20] [--database-url URL]
"""

from __future__ import annotations

import argparse
import time

from custody.documents.certificate import render_certificate
from custody.extensions import db
from custody.models import Lot, ReleaseDecision
from custody.services.core import accounts
from custody.services.quality.certificates import certificate_data
from custody.services.quality.release_signature import latest_decision
from tests.benchmarks import migrated_app, report
from tests.factories import PASSWORD, Factories, LotFactory, QualityFactory


def build(app, lots: int, bags: int) -> tuple[list[str], str, str]:
    make = Factories(app)
    quality = QualityFactory(app, make)
    quality.specification()
    analyst = make.user("technician")
    numbers = []
    for _ in range(lots):
        lot = LotFactory(app)(bags=bags)
        quality.results(lot.lot_number, by=analyst)
        numbers.append(lot.lot_number)
    signer = make.user("qa")
    return numbers, signer.username, accounts.issue_token("system:bench", signer.username)


def timed(call, *args, **kwargs) -> float:
    started = time.perf_counter()
    call(*args, **kwargs)
    return (time.perf_counter() - started) * 1000


def measure(app, numbers: list[str], username: str, token: str) -> dict[str, list[float]]:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    body = {"action": "release", "username": username, "password": PASSWORD}
    found: dict[str, list[float]] = {"release": [], "certificate": [], "quality": [], "render": []}
    for number in numbers:
        base = f"/api/v1/lots/{number}"
        found["release"].append(timed(_post, client, f"{base}/disposition", body, headers))
        found["certificate"].append(timed(_get, client, f"{base}/certificate.pdf", headers))
        found["quality"].append(timed(_get, client, f"{base}/quality", headers))
        found["render"].append(_render_again(app, number))
    return found


def _render_again(app, number: str) -> float:
    """The certificate's rendering alone, as it ran inside the release."""
    with app.app_context():
        lot = db.session.query(Lot).filter_by(lot_number=number).one()
        decision: ReleaseDecision = latest_decision(lot)
        data = certificate_data(decision, lot)
        return timed(render_certificate, data)


def _post(client, url: str, body: dict, headers: dict) -> None:
    _ok(client.post(url, json=body, headers=headers))


def _get(client, url: str, headers: dict) -> None:
    _ok(client.get(url, headers=headers))


def _ok(response) -> None:
    if response.status_code >= 400:
        raise SystemExit(f"benchmark request failed: {response.status_code} {response.data!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bags", type=int, default=100)
    parser.add_argument("--lots", type=int, default=20)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with migrated_app(args.database_url) as app:
        with app.app_context():
            numbers, username, token = build(app, args.lots, args.bags)
        found = measure(app, numbers, username, token)
    for name, values in found.items():
        report(f"{name} ({args.bags} bags)", values)


if __name__ == "__main__":
    main()
