"""The identity spine's invariants hold in the database itself, whatever code writes."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy.exc import IntegrityError

from custody.extensions import db
from custody.models import (
    Allocation,
    Bag,
    Donation,
    Donor,
    DoseBasis,
    DoseLevel,
    LocationKind,
    Lot,
    Recipient,
    StorageLocation,
    Trial,
)
from custody.services.core.audit_trail import acting_as

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def spine(make):
    """A donor, a donation, a lot with one bag, a trial, a recipient and a storage position."""
    user = make.user("technician", username="builder")
    with acting_as("builder", reason="test set-up"):
        donor = Donor(donor_code="DNR-1", sex="F", birth_date=date(1990, 1, 1))
        donation = Donation(
            din="W999926000001",
            donor=donor,
            collected_at=NOW,
            collection_timezone="UTC",
            facility="Unit",
            volume_ml=200.0,
        )
        lot = Lot(lot_number="L1", din="W999926000001", product_description_code="D0001")
        lot.donations.append(donation)
        bag = _bag(lot, "D0001VA0")
        trial = Trial(protocol_id="P1", title="T", product_name="CD33 CAR-NK cells")
        level = DoseLevel(trial=trial, code="DL1", phase=1, basis=DoseBasis.FLAT, dose_cells=6e8)
        recipient = Recipient(
            subject_id="S-1",
            hospital_record_number="H1",
            name="A B",
            birth_date=date(1960, 1, 1),
            weight_kg=70.0,
            weight_measured_on=date(2026, 11, 1),
            site="Ward",
            phase=1,
        )
        position = StorageLocation(code="LOC-P1", name="P1", kind=LocationKind.POSITION)
        db.session.add_all([donor, donation, lot, bag, trial, level, recipient, position])
        db.session.commit()
    return {
        "user": user,
        "lot": lot,
        "bag": bag,
        "recipient": recipient,
        "position": position,
        "donor": donor,
    }


def _bag(lot: Lot, product_code: str, **extra) -> Bag:
    return Bag(
        **extra,
        lot=lot,
        din=lot.din,
        product_code=product_code,
        code=f"{lot.din}-{product_code}",
        volume_ml=20.0,
        total_cells=1e9,
        viable_car_nk_cells=8e8,
    )


def _refused(*records) -> None:
    with acting_as("builder", reason="test"), pytest.raises(IntegrityError):
        db.session.add_all(records)
        db.session.commit()
    db.session.rollback()


def test_a_din_belongs_to_one_donation(spine):
    _refused(
        Donation(
            din="W999926000001",
            donor=spine["donor"],
            collected_at=NOW,
            collection_timezone="UTC",
            facility="Unit",
            volume_ml=100.0,
        )
    )


def test_a_bag_identity_exists_once(spine):
    _refused(_bag(spine["lot"], "D0001VA0"))


def test_a_storage_position_holds_one_bag(spine):
    with acting_as("builder", reason="test"):
        spine["bag"].storage_position = spine["position"]
        db.session.commit()
    _refused(_bag(spine["lot"], "D0001VB0", storage_position_id=spine["position"].id))


def test_a_bag_has_one_active_allocation(spine):
    def allocation(active: bool = True) -> Allocation:
        return Allocation(
            bag_id=spine["bag"].id,
            recipient_id=spine["recipient"].id,
            infusion_number=1,
            allocated_by_id=spine["user"].id,
            active=active,
        )

    with acting_as("builder", reason="test"):
        db.session.add_all([allocation(active=False), allocation()])  # history + the live one
        db.session.commit()
    _refused(allocation())


@pytest.mark.parametrize(
    ("field", "value"),
    [("volume_ml", 0.0), ("din", "SHORT"), ("product_code", "D0001")],
)
def test_bag_values_are_checked(spine, field, value):
    with db.session.no_autoflush:
        bag = _bag(spine["lot"], "D0001VC0")
        setattr(bag, field, value)
    _refused(bag)


def test_a_foreign_key_must_point_somewhere(spine):
    with db.session.no_autoflush:
        bag = _bag(spine["lot"], "D0001VD0")
        bag.lot = None
        bag.lot_id = 999_999
    _refused(bag)


def test_a_donation_goes_into_one_lot(spine):
    donation = spine["lot"].donations[0]
    second = Lot(lot_number="L2", din="W999926000002", product_description_code="D0001")
    second.donations.append(donation)
    _refused(second)
