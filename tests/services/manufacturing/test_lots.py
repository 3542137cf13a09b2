"""Lots from received collections, the batch record, filling bags and dividing them."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from custody.domain import eligibility
from custody.domain.errors import Conflict, IllegalTransition, NotFound, ValidationFailed
from custody.extensions import db
from custody.models import (
    Bag,
    BatchMaterial,
    CustodyEvent,
    DoseBasis,
    DoseLevel,
    Lot,
    Trial,
)
from custody.models.base import utcnow
from custody.services.bags.queries import bag_detail, lot_detail
from custody.services.bags.scans import ScanRequest, scan
from custody.services.collection import donations as coll
from custody.services.collection import donors
from custody.services.core.audit_trail import acting_as
from custody.services.manufacturing import batch_record
from custody.services.manufacturing import divisions as div
from custody.services.manufacturing import lots as mfg
from tests.races import race

_donors = iter(range(1, 10_000))


def _received(tech, qa=None, determination: str | None = None) -> str:
    """A collection from a new donor, received at the lab; its DIN."""
    code = f"DNR-M{next(_donors)}"
    donors.register_donor(tech, code, "M", date(1988, 3, 2))
    if determination:
        donors.determine_eligibility(qa, code, determination, "urgent medical need", ())
    request = coll.CollectionRequest(
        donor_code=code,
        collected_at=utcnow() - timedelta(hours=5),
        collection_timezone="Europe/Berlin",
        facility="Apheresis unit",
        volume_ml=240.0,
    )
    din = coll.record_collection(tech, request, "W9999").din
    coll.receive_collection(tech, coll.ReceiptRequest(f"={din}00", "intact", 7.0))
    return din


def _lot(tech, *dins, **kw) -> Lot:
    request = mfg.LotRequest(
        donations=list(dins) or [_received(tech)],
        product_description_code="D0001",
        expires_at=utcnow() + timedelta(days=300),
        **kw,
    )
    return mfg.create_lot(tech, request, "W9999")


def _spec(**kw) -> div.BagSpec:
    return div.BagSpec(
        **({"volume_ml": 20.0, "total_cells": 1.5e9, "viable_car_nk_cells": 1.2e9} | kw)
    )


def _dose_level(code: str = "DL2") -> DoseLevel:
    with acting_as("system:test", reason="test setup"):
        trial = Trial(protocol_id="CAR33-T", title="Test trial", product_name="CD33 CAR-NK")
        level = DoseLevel(trial=trial, code=code, phase=1, basis=DoseBasis.FLAT, dose_cells=1.2e9)
        db.session.add(level)
        db.session.commit()
    return level


def test_a_single_donation_lot_carries_its_din_and_numbers_itself(make):
    tech = make.user("technician")
    din = _received(tech)
    lot = _lot(tech, din)
    year = utcnow().year % 100
    assert lot.lot_number == f"L{year:02d}-0001"
    assert lot.din == din
    assert [d.din for d in lot.donations] == [din]
    assert _lot(tech).lot_number == f"L{year:02d}-0002"
    assert coll.donation_detail(din)["lot"] == lot.lot_number


def test_a_pooled_lot_gets_a_new_din_and_keeps_its_genealogy(make):
    tech = make.user("technician")
    first, second = _received(tech), _received(tech)
    lot = _lot(tech, first, second, lot_number="pool-1")
    assert lot.lot_number == "POOL-1"
    assert lot.din not in (first, second) and lot.din.startswith("W9999")
    assert lot_detail("POOL-1")["dins"] == sorted([first, second])


def test_a_lot_is_made_only_from_received_collections(make):
    tech = make.user("technician")
    donors.register_donor(tech, "DNR-X", "F", date(1990, 1, 1))
    request = coll.CollectionRequest(
        "DNR-X", utcnow() - timedelta(hours=1), "UTC", "Apheresis unit", 200.0
    )
    din = coll.record_collection(tech, request, "W9999").din
    with pytest.raises(IllegalTransition, match="not been received"):
        _lot(tech, din)
    assert db.session.query(Lot).count() == 0


def test_a_collection_goes_into_one_lot_only(make):
    tech = make.user("technician")
    din = _received(tech)
    lot = _lot(tech, din)
    with pytest.raises(Conflict, match=f"{din} is in lot {lot.lot_number}"):
        _lot(tech, _received(tech), din)
    with pytest.raises(ValidationFailed, match="listed twice"):
        _lot(tech, din, din)
    with pytest.raises(NotFound):
        _lot(tech, "W999926999999")
    with pytest.raises(Conflict, match="already exists"):
        _lot(tech, _received(tech), lot_number=lot.lot_number)


def test_a_lot_from_an_incomplete_donor_is_flagged(make):
    tech = make.user("technician")
    lot = _lot(tech, _received(tech), _received(tech, make.user("qa"), "incomplete"))
    detail = lot_detail(lot.lot_number)
    assert detail["donor_eligibility"] == "incomplete"
    assert eligibility.NOT_EVALUATED in detail["warnings"]


def test_batch_steps_are_numbered_with_operator_and_materials(make):
    tech = make.user("technician")
    operator = make.user("technician", name="Olga Operator")
    lot = _lot(tech)
    start = utcnow() - timedelta(hours=4)
    first = batch_record.record_step(
        tech,
        lot.lot_number,
        batch_record.StepRequest(
            step="NK isolation",
            started_at=start,
            ended_at=start + timedelta(hours=1),
            operator=operator.username,
            equipment="CliniMACS Prodigy #2",
            materials=(
                batch_record.MaterialRequest("reagent", "CD56 beads", "R-1001"),
                batch_record.MaterialRequest("vector", "CD33 CAR lentivirus", "V-77"),
            ),
        ),
    )
    second = batch_record.record_step(
        tech,
        lot.lot_number,
        batch_record.StepRequest(
            step="Transduction",
            started_at=start + timedelta(hours=2),
            deviation=True,
            deviation_reason="Incubator door opened for 2 min",
        ),
    )
    assert (first.sequence, second.sequence) == (1, 2)
    steps = batch_record.step_summary(first), batch_record.step_summary(second)
    assert steps[0]["operator"] == "Olga Operator"
    assert steps[1]["operator_username"] == tech.username
    assert {m["lot_number"] for m in steps[0]["materials"]} == {"R-1001", "V-77"}
    assert steps[1]["deviation_reason"] == "Incubator door opened for 2 min"
    vector = db.session.scalar(select(BatchMaterial).where(BatchMaterial.lot_number == "V-77"))
    assert vector.step.lot.lot_number == lot.lot_number  # a recall finds the lot


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"deviation": True}, "deviation needs its reason"),
        ({"deviation_reason": "forgot the flag"}, "without 'deviation: true'"),
        ({"ended_at_offset": -1}, "end must come after its start"),
        ({"ended_at_offset": 0}, "end must come after its start"),
        ({"operator": "nobody"}, "No active user"),
        ({"materials": (batch_record.MaterialRequest("reagent", "beads", " "),)}, "lot number"),
        ({"step": "  "}, "Name the step"),
    ],
)
def test_a_step_that_cannot_be_right_is_refused(make, changes, words):
    tech = make.user("technician")
    lot = _lot(tech)
    start = utcnow() - timedelta(hours=3)
    offset = changes.pop("ended_at_offset", None)
    if offset is not None:
        changes["ended_at"] = start + timedelta(minutes=offset)
    request = batch_record.StepRequest(**({"step": "Expansion", "started_at": start} | changes))
    with pytest.raises(ValidationFailed, match=words):
        batch_record.record_step(tech, lot.lot_number, request)
    assert lot_detail(lot.lot_number)["steps"] == []


def test_a_nurse_is_not_a_manufacturing_operator(make):
    tech, nurse = make.user("technician"), make.user("nurse")
    lot = _lot(tech)
    request = batch_record.StepRequest(
        "Expansion", utcnow() - timedelta(hours=1), operator=nurse.username
    )
    with pytest.raises(ValidationFailed, match="technician"):
        batch_record.record_step(tech, lot.lot_number, request)


def test_filled_bags_get_their_identity_and_a_fill_event(make):
    tech = make.user("technician")
    level = _dose_level("DL2")
    lot = _lot(tech)
    bags = div.fill_bags(tech, lot.lot_number, [_spec(dose_level="DL2"), _spec()])
    assert [b.product_code for b in bags] == ["D0001VA0", "D0001VB0"]
    assert [b.code for b in bags] == [f"{lot.din}-D0001VA0", f"{lot.din}-D0001VB0"]
    assert bags[0].dose_level_id == level.id and bags[1].dose_level_id is None
    detail = bag_detail(bags[0].code)
    assert detail["status"] == "filled" and detail["division"] == "A0"
    assert detail["expires_at"] == lot.expires_at
    (fill,) = detail["history"]
    assert (fill["action"], fill["from_status"], fill["to_status"]) == ("fill", None, "filled")
    assert lot_detail(lot.lot_number)["manufactured_at"] is not None
    # The next fill continues with the next division; a filled bag goes into quarantine by scan.
    (third,) = div.fill_bags(tech, lot.lot_number, [_spec()])
    assert third.product_code == "D0001VC0"
    event = scan(tech, ScanRequest(action="quarantine", bag=bags[0].code))
    assert (event.from_status, event.to_status) == ("filled", "quarantined")


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"dose_level": "DL9"}, "No dose level 'DL9'"),
        ({"viable_car_nk_cells": 2e9}, "cannot exceed the total"),
        ({"volume_ml": 0}, "above 0"),
        ({"expires_at_days": -1}, "already past"),
        ({"expires_at_days": 400}, "after its lot"),
    ],
)
def test_a_bag_that_cannot_be_right_is_not_filled(make, spec, words):
    tech = make.user("technician")
    lot = _lot(tech)
    days = spec.pop("expires_at_days", None)
    if days is not None:
        spec["expires_at"] = utcnow() + timedelta(days=days)
    with pytest.raises(ValidationFailed, match=words):
        div.fill_bags(tech, lot.lot_number, [_spec(), _spec(**spec)])
    assert db.session.query(Bag).count() == 0


def test_bags_are_filled_only_into_a_lot_in_quarantine(make):
    tech = make.user("technician")
    lot = _lot(tech)
    with acting_as("system:test", reason="test setup"):
        lot.disposition = "released"
        db.session.commit()
    with pytest.raises(IllegalTransition, match="is released"):
        div.fill_bags(tech, lot.lot_number, [_spec()])
    with pytest.raises(IllegalTransition, match="is released"):
        batch_record.record_step(tech, lot.lot_number, batch_record.StepRequest("Late", utcnow()))


def test_a_lot_holds_26_first_level_divisions(make):
    tech = make.user("technician")
    lot = _lot(tech)
    div.fill_bags(tech, lot.lot_number, [_spec()] * 25)
    with pytest.raises(ValidationFailed, match="room for 1 more"):
        div.fill_bags(tech, lot.lot_number, [_spec()] * 2)
    (last,) = div.fill_bags(tech, lot.lot_number, [_spec()])
    assert last.product_code == "D0001VZ0"


def test_a_split_shares_out_the_bag_and_keeps_the_genealogy(make):
    tech = make.user("technician")
    lot = _lot(tech)
    parent, _ = div.fill_bags(tech, lot.lot_number, [_spec(), _spec()])
    scan(tech, ScanRequest(action="quarantine", bag=parent.code))
    children = div.split_bag(
        tech, lot.lot_number, "D0001VA0", div.SplitRequest(volumes_ml=[15.0, 5.0])
    )
    assert [c.product_code for c in children] == ["D0001VAa", "D0001VAb"]
    assert [c.volume_ml for c in children] == [15.0, 5.0]
    assert [c.viable_car_nk_cells for c in children] == pytest.approx([0.9e9, 0.3e9])
    assert [c.total_cells for c in children] == pytest.approx([1.125e9, 0.375e9])
    for child in children:
        detail = bag_detail(child.code)
        assert detail["status"] == "quarantined" and detail["parent"] == parent.code
        assert detail["history"][0]["action"] == "divide"
    parent_detail = bag_detail(parent.code)
    assert parent_detail["status"] == "discarded"
    last = parent_detail["history"][-1]
    assert (last["action"], last["from_status"], last["to_status"]) == (
        "discard",
        "quarantined",
        "discarded",
    )
    assert last["notes"] == "divided into D0001VAa, D0001VAb"
    codes = [b["code"] for b in lot_detail(lot.lot_number)["bags"]]
    assert f"{lot.din}-D0001VAa" in codes and f"{lot.din}-D0001VB0" in codes


def test_equal_parts_and_refusals_of_a_split(make):
    tech = make.user("technician")
    lot = _lot(tech)
    (bag,) = div.fill_bags(tech, lot.lot_number, [_spec()])
    with pytest.raises(ValidationFailed, match="at most the bag's 20 mL"):
        div.split_bag(tech, lot.lot_number, bag.code, div.SplitRequest(volumes_ml=[15, 6]))
    children = div.split_bag(tech, lot.lot_number, bag.code, div.SplitRequest(parts=4))
    assert [c.volume_ml for c in children] == [5.0] * 4
    assert children[0].status.value == "filled"
    with pytest.raises(IllegalTransition, match="DISCARDED"):
        div.split_bag(tech, lot.lot_number, bag.code, div.SplitRequest(parts=2))
    with pytest.raises(IllegalTransition, match="not a first-level division"):
        div.split_bag(tech, lot.lot_number, children[0].code, div.SplitRequest(parts=2))
    with pytest.raises(NotFound):
        div.split_bag(tech, lot.lot_number, "D0001VQ0", div.SplitRequest(parts=2))


def test_a_bag_in_storage_or_released_is_not_divided(make, make_lot):
    tech = make.user("technician")
    lot = make_lot(bags=1)
    (position,) = make_lot.positions(1)
    scan(tech, ScanRequest(action="store", bag=lot.bags[0].code, location=position.code))
    with pytest.raises(IllegalTransition, match="retrieve it"):
        div.split_bag(tech, lot.lot_number, lot.bags[0].code, div.SplitRequest(parts=2))
    released = make_lot(disposition="released", status="released", bags=1)
    with pytest.raises(IllegalTransition, match="is released"):
        div.split_bag(tech, released.lot_number, released.bags[0].code, div.SplitRequest(parts=2))
    assert db.session.query(Bag).count() == 2


def test_two_lots_racing_for_one_collection_one_wins(app, make):
    tech1, tech2 = make.user("technician"), make.user("technician")
    din = _received(tech1)
    outcomes = race(
        app,
        (tech1.username, lambda user: _lot(user, din).lot_number),
        (tech2.username, lambda user: _lot(user, din).lot_number),
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "str"], outcomes
    assert db.session.query(Lot).count() == 1


def test_two_fills_at_once_take_distinct_divisions(app, make):
    tech1, tech2 = make.user("technician"), make.user("technician")
    lot_number = _lot(tech1).lot_number

    def fill(user):
        return [b.product_code for b in div.fill_bags(user, lot_number, [_spec(), _spec()])]

    outcomes = race(app, (tech1.username, fill), (tech2.username, fill))
    assert all(isinstance(o, list) for o in outcomes), outcomes
    assert sorted(outcomes[0] + outcomes[1]) == [f"D0001V{c}0" for c in "ABCD"]
    fills = db.session.scalars(select(CustodyEvent).where(CustodyEvent.action == "fill")).all()
    assert len(fills) == 4


def test_lots_numbered_at_once_get_distinct_numbers(app, make):
    tech1, tech2 = make.user("technician"), make.user("technician")
    dins = [_received(tech1), _received(tech1)]
    outcomes = race(
        app,
        (tech1.username, lambda user: _lot(user, dins[0]).lot_number),
        (tech2.username, lambda user: _lot(user, dins[1]).lot_number),
    )
    year = utcnow().year % 100
    assert sorted(outcomes) == [f"L{year:02d}-0001", f"L{year:02d}-0002"], outcomes


def test_a_duplicate_bag_identity_reaching_the_database_is_a_conflict(make, make_lot):
    tech = make.user("technician")
    taken = make_lot(bags=1)  # its bag is <DIN>-D0001VA0
    with acting_as("system:test", reason="test setup"):
        twin = Lot(lot_number="TWIN", din=taken.din, product_description_code="D0001")
        twin.expires_at = utcnow() + timedelta(days=30)
        db.session.add(twin)
        db.session.commit()
    with pytest.raises(Conflict, match="Fill again"):
        div.fill_bags(tech, "TWIN", [_spec()])
    assert db.session.query(Bag).count() == 1
    assert lot_detail("TWIN")["manufactured_at"] is None
