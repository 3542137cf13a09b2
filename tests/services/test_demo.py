"""The demo data set: every state and disposition, histories the rules allow, same seed same data.

The demo is loaded once for the module into its own database (loading takes about a second);
the determinism test loads it a second time into the test's fresh database and compares.
"""

from __future__ import annotations

import hashlib
import shutil
from collections import defaultdict
from itertools import pairwise

import pytest
from sqlalchemy import func, make_url, select

from custody import create_app
from custody.domain import isbt128
from custody.domain.bag_lifecycle import RELEASED_DISPOSITIONS, TRANSITIONS
from custody.extensions import db
from custody.models import (
    Allocation,
    Bag,
    BagStatus,
    Base,
    BatchMaterial,
    BatchStep,
    CustodyEvent,
    Disposition,
    Donation,
    Donor,
    Eligibility,
    Infusion,
    LocationKind,
    Lot,
    MaterialKind,
    Shipment,
    ShipmentDiscrepancy,
    ShipmentItem,
    ShipmentStatus,
    ShipmentTemperature,
    StorageLocation,
)
from custody.services.audit_verify import verify_trail
from custody.services.demo import load_demo
from tests.conftest import PG_URL, _drop_pg_database, _migrate, _recreate_pg_database, _worker

# Everything the demo writes except accounts (salted password hashes) and the audit trail.
DEMO_TABLES = (
    "donors",
    "donor_tests",
    "donations",
    "lots",
    "lot_donations",
    "batch_steps",
    "batch_materials",
    "bags",
    "custody_events",
    "storage_locations",
    "shipments",
    "shipment_items",
    "shipment_discrepancies",
    "shipment_temperatures",
    "recipients",
    "allocations",
    "infusions",
)
PATIENT_SIDE = {"released", "allocated", "shipped", "received", "thawed", "verified", "infused"}
ALLOCATED = {"allocated", "shipped", "received", "thawed", "verified", "infused"}


def _digest() -> str:
    digest = hashlib.sha256()
    for name in DEMO_TABLES:
        table = Base.metadata.tables[name]
        rows = db.session.execute(select(table).order_by(*table.primary_key.columns)).all()
        digest.update(repr((name, [tuple(row) for row in rows])).encode())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def demo(migrated_database, tmp_path_factory):
    """A database holding load_demo(scale=1, seed=1); yields the digest of what was loaded."""
    name = None
    if PG_URL:
        name = f"{make_url(PG_URL).database}_demo_{_worker()}"
        url = _recreate_pg_database(PG_URL, name)
        _migrate(url)
    else:
        path = tmp_path_factory.mktemp("demo") / "custody.sqlite3"
        shutil.copyfile(migrated_database, path)
        url = f"sqlite:///{path}"
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": url,
            "CUSTODY_FIN": "W9999",
        }
    )
    with app.app_context():
        load_demo(scale=1, seed=1)
        yield _digest()
        db.session.remove()
        db.engine.dispose()
    if name:
        _drop_pg_database(PG_URL, name)


def _bags_by_status() -> dict[str, list[Bag]]:
    found = defaultdict(list)
    for bag in db.session.scalars(select(Bag)):
        found[bag.status.value].append(bag)
    return found


def test_bags_are_in_every_state_and_lots_in_every_disposition(demo):
    assert set(_bags_by_status()) == {s.value for s in BagStatus}
    dispositions = set(db.session.scalars(select(Lot.disposition)))
    assert dispositions == set(Disposition)


def test_every_bag_history_follows_the_life_cycle_table(demo):
    chains = defaultdict(list)
    query = select(CustodyEvent).where(CustodyEvent.bag_id.is_not(None))
    for event in db.session.scalars(query.order_by(CustodyEvent.occurred_at, CustodyEvent.id)):
        chains[event.bag_id].append(event)
    bags = {bag.id: bag for bag in db.session.scalars(select(Bag))}
    assert set(chains) == set(bags)
    for bag_id, chain in chains.items():
        first = chain[0]
        assert (first.action, first.from_status, first.to_status) == ("fill", None, "filled")
        for before, event in pairwise(chain):
            assert event.from_status == before.to_status, (bags[bag_id].code, event.action)
            assert TRANSITIONS[event.action][event.from_status] == event.to_status
            assert event.occurred_at > before.occurred_at
        assert chain[-1].to_status == bags[bag_id].status.value


def test_lot_disposition_gates_what_its_bags_reached(demo):
    for bag in db.session.scalars(select(Bag)):
        disposition = bag.lot.disposition.value
        if bag.status.value in PATIENT_SIDE:
            assert disposition in RELEASED_DISPOSITIONS, bag.code
        if disposition == "rejected":
            assert bag.status.value in {"rejected", "discarded"}, bag.code
        if bag.status.value == "rejected":
            assert disposition == "rejected", bag.code
    towards_patient = (
        select(CustodyEvent.action, Lot.disposition)
        .join(Bag, CustodyEvent.bag_id == Bag.id)
        .join(Lot, Bag.lot_id == Lot.id)
    )
    for action, disposition in db.session.execute(
        towards_patient.where(CustodyEvent.action.in_(["release", "allocate", "pack", "infuse"]))
    ):
        assert disposition.value in RELEASED_DISPOSITIONS, action


def test_stored_bags_hold_one_position_each_and_time_out_of_storage_is_recorded(demo):
    bags = list(db.session.scalars(select(Bag)))
    in_storage = [bag for bag in bags if bag.storage_position_id is not None]
    assert all(b.storage_position_id for b in bags if b.status is BagStatus.STORED)
    assert len({b.storage_position_id for b in in_storage}) == len(in_storage)
    assert {b.storage_position.kind for b in in_storage} == {LocationKind.POSITION}
    assert not any(
        b.storage_position_id for b in bags if b.status.value in {"shipped", "infused", "thawed"}
    )
    for bag in in_storage:  # the bag is where its last storage scan put it
        last = db.session.scalar(
            select(CustodyEvent)
            .where(CustodyEvent.bag_id == bag.id, CustodyEvent.location_id.is_not(None))
            .order_by(CustodyEvent.occurred_at.desc())
            .limit(1)
        )
        assert last.action in {"store", "move"} and last.location_id == bag.storage_position_id
    assert any(b.removed_from_storage_at for b in bags if b.storage_position_id is None)
    restored = select(CustodyEvent).where(
        CustodyEvent.action == "store", CustodyEvent.out_of_storage_s > 0
    )
    assert db.session.scalars(restored).first() is not None


def test_collections_were_received_at_the_lab_by_scan(demo):
    donations = list(db.session.scalars(select(Donation)))
    assert donations
    for donation in donations:
        assert donation.received_at and donation.received_by_id and donation.received_condition
        assert donation.nk_cells and donation.viability_pct and donation.collection_timezone
        (event,) = db.session.scalars(
            select(CustodyEvent).where(CustodyEvent.donation_id == donation.id)
        )
        assert (event.bag_id, event.action, event.from_status, event.to_status) == (
            None,
            "receive_collection",
            "collected",
            "received",
        )
        assert event.raw_scan == isbt128.encode_din(donation.din)
        assert event.to_party == "cell lab" and event.occurred_at == donation.received_at
    donors = list(db.session.scalars(select(Donor)))
    assert {d.eligibility for d in donors} == {
        Eligibility.ELIGIBLE,
        Eligibility.INCOMPLETE,
        Eligibility.INELIGIBLE,
    }
    assert all(d.tests and d.eligibility_determined_by_id for d in donors)


def test_every_lot_has_a_batch_record_with_materials_and_deviations_have_reasons(demo):
    for lot in db.session.scalars(select(Lot)):
        assert len(lot.steps) >= 5 and lot.donations
        assert all(s.operator_id and s.equipment and s.ended_at > s.started_at for s in lot.steps)
        assert lot.steps[-1].step == "Fill and cryopreservation"
    kinds = set(db.session.scalars(select(BatchMaterial.kind)))
    assert kinds == {MaterialKind.REAGENT, MaterialKind.VECTOR}
    deviations = list(db.session.scalars(select(BatchStep).where(BatchStep.deviation)))
    assert deviations and all(step.deviation_reason for step in deviations)


def test_shipments_in_transit_and_received_with_logger_readings_and_a_missing_bag(demo):
    shipments = list(db.session.scalars(select(Shipment)))
    assert {s.status for s in shipments} == {ShipmentStatus.IN_TRANSIT, ShipmentStatus.RECEIVED}
    excursions = 0
    for shipment in shipments:
        assert shipment.destination_site == "University Hospital"
        assert shipment.courier and shipment.shipper_id and shipment.handed_over_to
        assert (shipment.received_at is not None) == (shipment.status is ShipmentStatus.RECEIVED)
        readings = list(
            db.session.scalars(
                select(ShipmentTemperature)
                .where(ShipmentTemperature.shipment_id == shipment.id)
                .order_by(ShipmentTemperature.recorded_at)
            )
        )
        assert readings[0].recorded_at == shipment.handed_over_at
        assert {(b.recorded_at - a.recorded_at).seconds for a, b in pairwise(readings)} == {600}
        excursions += any(r.temperature_c > shipment.storage_limit_c for r in readings)
        for item in shipment.items:
            if shipment.status is ShipmentStatus.IN_TRANSIT:
                assert item.bag.status is BagStatus.SHIPPED and item.received_at is None
    assert excursions == 1
    (missing,) = db.session.scalars(select(ShipmentDiscrepancy))
    assert missing.kind.value == "missing" and missing.note
    item = db.session.scalar(
        select(ShipmentItem).where(
            ShipmentItem.shipment_id == missing.shipment_id, ShipmentItem.bag_id == missing.bag_id
        )
    )
    assert item.received_at is None and missing.shipment.status is ShipmentStatus.RECEIVED


def test_allocated_bags_have_an_active_allocation_and_infused_bags_an_infusion(demo):
    for status, bags in _bags_by_status().items():
        for bag in bags:
            active = db.session.scalars(
                select(Allocation).where(Allocation.bag_id == bag.id, Allocation.active)
            ).all()
            assert len(active) == (1 if status in ALLOCATED else 0), (bag.code, status)
    infused = _bags_by_status()["infused"]
    infusions = db.session.scalar(select(func.count()).select_from(Infusion))
    assert infusions == len(infused)


def test_audit_trail_verifies_after_loading(demo):
    report = verify_trail(db.session.connection())
    assert report.ok and report.entries > 2000
    positions = select(func.count()).where(StorageLocation.kind == LocationKind.POSITION)
    assert db.session.scalar(positions) >= 200


def test_same_seed_gives_the_same_data(demo, app):
    load_demo(scale=1, seed=1)
    assert _digest() == demo
