"""The demo's guided walk leads somewhere: each journey's strings, pasted as the walk says, do
what the walk promises under today's clock — the station finds the stored bag and its
position, the named QA account releases the lot, two nurses thaw and pass the bedside check
and start the infusion. The README's quick start carries the same strings.

The demo is loaded once for the module into its own database (scale 1, seed 1); the tests
that change it (release, bedside) each change a different record, after the ones that read.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from custody.extensions import db
from custody.models import Bag, BagStatus, DemoMark, Disposition, Infusion, Lot, User
from custody.services.bags.scan_station import describe_scan
from custody.services.bags.scans import ScanRequest, scan
from custody.services.clinic.bedside import VerificationRequest, verify
from custody.services.clinic.infusions import start_infusion
from custody.services.demo import load_demo
from custody.services.demo.walk import guided_walk, is_demo_database
from custody.services.quality.disposition import DispositionRequest, sign_disposition
from tests.services.demo.demo_database import loaded_demo

README = Path(__file__).resolve().parents[3] / "README.md"
DEMO_PASSWORD = "demo-password-2026"


@pytest.fixture(scope="module")
def demo(migrated_database, tmp_path_factory):
    with loaded_demo(migrated_database, tmp_path_factory, "demowalk", ()) as digest:
        yield digest


def _user(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def test_a_demo_loaded_into_an_empty_database_marks_it(demo):
    (mark,) = db.session.scalars(select(DemoMark)).all()
    assert (mark.scale, mark.seed) == (1, 1)
    assert is_demo_database() is True


def test_the_readme_quick_start_carries_the_walks_strings(demo):
    walk = guided_walk()
    readme = README.read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    for text in (
        walk.password,
        walk.station.bag_scan,
        walk.release.lot,
        walk.bedside.wristband,
        walk.bedside.bag_scan,
        *(username for username, _, _ in walk.accounts),
    ):
        assert text in quick_start, text


def test_the_walk_names_one_account_per_role_and_the_shared_password(demo):
    walk = guided_walk()
    assert walk.password == DEMO_PASSWORD
    roles = {role for _, role, _ in walk.accounts}
    assert roles == {"technician", "qa", "nurse", "admin"}


def test_the_station_string_finds_the_stored_bag_and_its_position(demo):
    station = guided_walk().station
    found = describe_scan(station.bag_scan)
    assert found["kind"] == "bag"
    assert found["bag"]["code"] == station.bag_code
    assert found["bag"]["status"] == "stored"
    assert station.position.endswith("Position 24")


def test_the_named_qa_account_releases_the_named_lot(demo):
    release = guided_walk().release
    assert (release.lot, release.signer) == ("L26-0000-03", "qa")
    signer = _user(release.signer)
    sign_disposition(
        signer,
        release.lot,
        DispositionRequest(
            action="release",
            username=release.signer,
            password=DEMO_PASSWORD,
            statements_acknowledged=release.statements_to_acknowledge,
        ),
    )
    lot = db.session.scalar(select(Lot).where(Lot.lot_number == release.lot))
    assert lot.disposition is Disposition.RELEASED


def test_two_nurses_thaw_check_and_infuse_the_walks_bag(demo):
    bedside = guided_walk().bedside
    nurse = _user("nurse")
    for action in ("thaw_start", "thaw"):
        scan(nurse, ScanRequest(action=action, bag=bedside.bag_scan))
    result = verify(
        nurse,
        VerificationRequest(
            recipient=bedside.wristband,
            bag=bedside.bag_scan,
            second_verifier={"username": "nurse2", "password": DEMO_PASSWORD},
        ),
    )
    assert result.passed, result.stop_reason
    start_infusion(nurse, result.uid)
    bag = db.session.scalar(select(Bag).where(Bag.code == bedside.bag_code))
    assert bag.status is BagStatus.INFUSED
    (infusion,) = db.session.scalars(select(Infusion).where(Infusion.bag_id == bag.id)).all()
    assert infusion.recipient.subject_id == bedside.subject_id


def test_a_demo_loaded_beside_existing_data_does_not_mark_the_database(app, make):
    make.user("qa", username="realqa")
    load_demo(scale=1, seed=1)
    assert db.session.scalars(select(DemoMark)).all() == []
    assert is_demo_database() is False
