"""The vein-to-vein timeline of a bag: every step in order with its people, places and
temperatures, the chain of identity, and the flags (gaps, excursions, deviations, signatures).

`infused_journey` takes a bag from a donor's collection to its infusion through the services
themselves (collection, receipt, manufacturing with a deviation, filling, storage, QA release,
allocation, shipping with a logger that saw an excursion, receipt, thaw, two-person bedside
verification, infusion), so the timeline is read from records exactly as the tracker writes
them. The page, report and browser tests use it too.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import event, select

from custody.domain.errors import NotFound
from custody.domain.isbt128 import check_character, eye_readable_din
from custody.domain.scan_targets import bag_scan_data
from custody.domain.wristband import wristband_data
from custody.extensions import db
from custody.models import Bag, Shipment, ShipmentItem
from custody.models.base import utcnow
from custody.services.bags import shipping
from custody.services.bags.lookup import bag_by_code
from custody.services.bags.scans import ScanRequest, scan
from custody.services.clinic.allocation import AllocationRequest, allocate
from custody.services.clinic.bedside import VerificationRequest, verify
from custody.services.clinic.infusions import complete_infusion, start_infusion
from custody.services.collection import donations as coll
from custody.services.collection import donors
from custody.services.core.audit_trail import acting_as
from custody.services.core.facility import site_zone
from custody.services.manufacturing import batch_record
from custody.services.manufacturing import divisions as div
from custody.services.manufacturing import lots as mfg
from custody.services.quality.results import ResultRequest, correct_result
from custody.services.traceability.timeline import custody_report, vein_to_vein
from tests.factories import PASSWORD

_numbers = itertools.count(1)
FACILITY = "Apheresis Unit, Test Hospital"
DEVIATION = "Incubator door alarm: 4 min above 37.5 °C; QA informed"
PEAK_C = -141.5


@dataclass(frozen=True)
class Journey:
    """What the journey recorded, as the timeline must tell it."""

    code: str
    din: str
    lot: str
    donor: str
    subject_id: str
    site: str
    shipment: str
    position: str  # the storage position's path
    tech: str  # "Full Name (username)", as steps name people
    allocator: str
    signer: str
    nurse: str
    second_nurse: str


def _named(user) -> str:
    return f"{user.full_name} ({user.username})"


def infused_journey(make, quality, clinic, make_lot) -> Journey:
    """A bag from collection to infusion, every step through the services."""
    n = next(_numbers)
    tech = make.user("technician", name="Tess Okafor")
    allocator = make.user("qa", name="Grace Okafor")
    signer = make.user("qa", name="Lukas Meyer")
    nurse, second = make.user("nurse", name="Nora First"), make.user("nurse", name="Sam Second")
    clinic.trial()
    if quality.specification_missing():
        quality.specification()

    donor = f"DNR-V2V{n}"
    donors.register_donor(tech, donor, "F", date(1990, 5, 1))
    donors.determine_eligibility(allocator, donor, "eligible", "", ())
    collected = utcnow().replace(microsecond=0) - timedelta(hours=30)
    din = coll.record_collection(
        tech, coll.CollectionRequest(donor, collected, "Europe/Berlin", FACILITY, 240.0), "W9999"
    ).din
    coll.receive_collection(
        tech, coll.ReceiptRequest(f"={din}00", "intact, cool box sealed", 6.5, "Receipt bench")
    )
    lot = mfg.create_lot(
        tech, mfg.LotRequest([din], "D0001", expires_at=utcnow() + timedelta(days=300)), "W9999"
    ).lot_number
    reagent = batch_record.MaterialRequest("reagent", "IL-2", "IL2-2604")
    batch_record.record_step(
        tech,
        lot,
        batch_record.StepRequest(
            "NK expansion start", utcnow(), equipment="BSC-02 cabinet", materials=[reagent]
        ),
    )
    batch_record.record_step(
        tech,
        lot,
        batch_record.StepRequest(
            "CAR transduction", utcnow(), deviation=True, deviation_reason=DEVIATION
        ),
    )
    (bag,) = div.fill_bags(tech, lot, [div.BagSpec(20.0, 1.5e9, 1.2e9, dose_level="DL2")])
    code = bag.code
    (position,) = make_lot.positions(1)
    scan(tech, ScanRequest("quarantine", code, temperature_c=4.0, station="Fill bench"))
    scan(tech, ScanRequest("store", code, location=position.code, temperature_c=-185.0))

    quality.results(lot)
    quality.sign(lot, signer=signer)
    scan(tech, ScanRequest("release", code))
    recipient = clinic.recipient(dose_level="DL2")
    allocate(allocator, AllocationRequest(recipient.subject_id, 1, [code]))

    shipment = shipping.create_shipment(tech, recipient.site, courier="Cryo Couriers").code
    scan(tech, ScanRequest("pack", code, shipment=shipment, temperature_c=-186.0))
    shipping.dispatch(tech, shipment, "Sam Rivera", lab_name="Cell lab", temperature_c=-190.0)
    scan(
        nurse,
        ScanRequest(
            "receive", code, shipment=shipment, temperature_c=-184.0, station="Ward 7 bench"
        ),
    )
    _logger_saw_an_excursion(tech, shipment, bag.id)

    scan(nurse, ScanRequest("thaw_start", code, station="Ward 7 bench"))
    scan(nurse, ScanRequest("thaw", code, temperature_c=37.0, condition="no leaks"))
    bag = bag_by_code(code)
    checked = verify(
        nurse,
        VerificationRequest(
            recipient=wristband_data(recipient.hospital_record_number, recipient.birth_date),
            bag=bag_scan_data(bag.din, bag.product_code, bag.expires_at, site_zone()),
            second_verifier={"username": second.username, "password": PASSWORD},
        ),
    )
    assert checked.passed, checked.checks
    start_infusion(nurse, checked.uid)
    complete_infusion(nurse, code, None, 19.5, "none")
    return Journey(
        code=code,
        din=din,
        lot=lot,
        donor=donor,
        subject_id=recipient.subject_id,
        site=recipient.site,
        shipment=shipment,
        position=f"Site {position.code.split('-')[1]}",
        tech=_named(tech),
        allocator=_named(allocator),
        signer=_named(signer),
        nurse=_named(nurse),
        second_nurse=_named(second),
    )


def _logger_saw_an_excursion(tech, shipment_code: str, bag_id: int) -> None:
    """The shipper's log: cold before the courier took it, above -150 °C while with the
    courier, cold again when the site scanned the bag in."""
    shipment = db.session.scalar(select(Shipment).where(Shipment.code == shipment_code))
    item = db.session.scalar(select(ShipmentItem).where(ShipmentItem.bag_id == bag_id))
    handed, received = shipment.handed_over_at, item.received_at
    middle = handed + (received - handed) / 2
    rows = [(handed - timedelta(minutes=20), -190.0), (middle, PEAK_C), (received, -187.0)]
    csv = "timestamp,temperature_c\n" + "".join(f"{t.isoformat()},{c}\n" for t, c in rows)
    shipping.import_temperatures(tech, shipment_code, csv)


def _timeline(code: str, **kw):
    db.session.expire_all()
    return vein_to_vein(bag_by_code(code), **kw)


def _flags(timeline, kind: str):
    return [(step, flag) for step, flag in timeline.flags if flag.kind == kind]


# --- an infused bag, every step -----------------------------------------------------------------


EXPECTED_ACTIONS = [
    "collect",
    "receive_collection",
    "batch_step",
    "batch_step",
    "fill",
    "quarantine",
    "store",
    "released",  # QA's signed decision on the lot
    "release",  # the bag's release scan
    "allocate",
    "pack",
    "handoff",
    "receive",
    "thaw_start",
    "thaw",
    "verify",
    "infuse",
]


def test_an_infused_bag_has_every_step_in_order_with_people_places_and_temperatures(
    make, quality, clinic, make_lot
):
    journey = infused_journey(make, quality, clinic, make_lot)

    timeline = _timeline(journey.code)

    steps = timeline.steps
    assert [s.action for s in steps] == EXPECTED_ACTIONS
    assert [s.at for s in steps] == sorted(s.at for s in steps)
    by = {s.action: s for s in steps}
    assert (by["collect"].place, by["collect"].zone) == (FACILITY, "Europe/Berlin")
    assert ("DIN", f"{eye_readable_din(journey.din)} [{check_character(journey.din)}]") in by[
        "collect"
    ].details
    receipt = by["receive_collection"]
    assert (receipt.person, receipt.temperature_c) == (journey.tech, 6.5)
    assert ("Condition", "intact, cool box sealed") in receipt.details
    first, second = (s for s in steps if s.action == "batch_step")
    assert first.title == "Manufacturing step 1: NK expansion start"
    assert first.person == journey.tech and ("Equipment", "BSC-02 cabinet") in first.details
    assert ("Materials", "reagent IL-2 lot IL2-2604") in first.details
    assert second.title == "Manufacturing step 2: CAR transduction" and first.flags == []
    assert (by["quarantine"].temperature_c, by["store"].temperature_c) == (4.0, -185.0)
    assert by["store"].place.startswith(journey.position)
    assert by["store"].place.endswith("Position 1")
    # Scans that leave the bag where it lies place it in its storage position.
    assert by["release"].place == by["allocate"].place == by["store"].place
    assert by["released"].person == journey.signer
    assert ("Meaning", "Approved for release") in by["released"].details
    assert by["allocate"].person == journey.allocator
    assert by["allocate"].details[0][1].startswith(f"{journey.subject_id}, infusion 1")
    assert by["pack"].temperature_c == -186.0
    assert by["pack"].place == f"Shipment {journey.shipment} to {journey.site}"
    handoff = by["handoff"]
    assert (handoff.temperature_c, handoff.person) == (-190.0, journey.tech)
    assert ("Hand-over", "Cell lab: Tess Okafor → Cryo Couriers (Sam Rivera)") in handoff.details
    assert (by["receive"].place, by["receive"].person) == (journey.site, journey.nurse)
    assert by["receive"].temperature_c == -184.0
    assert by["thaw"].temperature_c == 37.0
    assert any(label == "Use by" for label, _ in by["thaw"].details)
    both = f"{journey.nurse} and {journey.second_nurse}"
    assert by["verify"].person == both and by["infuse"].person == both
    assert ("Volume infused", "19.5 mL") in by["infuse"].details
    assert ("Recipient", f"{journey.subject_id}, infusion 1") in by["infuse"].details
    assert by["infuse"].place.startswith(journey.site)
    # The intervals between steps, and which steps say where the bag itself was.
    assert steps[0].since_previous is None
    assert all(s.since_previous >= timedelta(0) for s in steps[1:])
    assert [s.custody for s in steps].count(True) == 12  # from filling to infusion


def test_the_chain_of_identity_runs_from_donor_to_recipient(make, quality, clinic, make_lot):
    journey = infused_journey(make, quality, clinic, make_lot)

    timeline = _timeline(journey.code)

    chain = [(link.role, link.value) for link in timeline.identity]
    din = f"{eye_readable_din(journey.din)} [{check_character(journey.din)}]"
    assert chain == [
        ("donor", journey.donor),
        ("donation", din),
        ("lot", journey.lot),
        ("bag", journey.code),
        ("recipient", journey.subject_id),
    ]
    assert timeline.identity[-1].note.startswith("infused: infusion 1")
    assert (timeline.recipient, timeline.status, timeline.disposition) == (
        journey.subject_id,
        "infused",
        "released",
    )
    assert timeline.release["signature"]["printed_name"] == "Lukas Meyer"
    assert timeline.release["signature_valid"] is True


def test_the_excursion_and_the_deviation_are_flagged_on_their_steps(
    make, quality, clinic, make_lot
):
    journey = infused_journey(make, quality, clinic, make_lot)

    timeline = _timeline(journey.code)

    ((step, excursion),) = _flags(timeline, "excursion")
    assert (step.action, step.shipment, excursion.severity) == (
        "receive",
        journey.shipment,
        "alert",
    )
    assert f"Shipment {journey.shipment} was above -150 °C" in excursion.words
    assert f"peak {PEAK_C:.1f} °C in 1 reading" in excursion.words
    assert any(label == "Logger" and "2 readings" in value for label, value in step.details)
    ((step, deviation),) = _flags(timeline, "deviation")
    assert (step.title, deviation.words) == ("Manufacturing step 2: CAR transduction", DEVIATION)
    assert deviation.label == "DEVIATION" and deviation.severity == "warning"
    # Nothing else: the bag never sat unrecorded, and QA's signature holds.
    assert {flag.kind for _, flag in timeline.flags} == {"excursion", "deviation"}


def test_the_query_count_does_not_grow_with_the_history(app, make, make_lot):
    tech = make.user("technician")
    bags = make_lot(bags=2).bags
    codes = [b.code for b in bags]
    first, second, *_ = make_lot.positions(4)
    for code, moves in zip(codes, (2, 40), strict=True):
        start = utcnow() - timedelta(hours=1)
        scan(tech, ScanRequest("store", code, location=first.code, occurred_at=start))
        for m in range(moves):
            to = (second, first)[m % 2]
            when = start + timedelta(seconds=m + 1)
            scan(tech, ScanRequest("move", code, location=to.code, occurred_at=when))
        scan(tech, ScanRequest("retrieve", code, occurred_at=start + timedelta(minutes=5)))
    counts = []
    for code in codes:
        timeline, statements = _counted(lambda c=code: _timeline(c))
        counts.append(statements)
        assert len([s for s in timeline.steps if s.custody]) in (4, 42)
    assert counts[0] == counts[1], counts


def _counted(read):
    found = []

    def count(conn, cursor, statement, *_):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):  # not BEGIN
            found.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        result = read()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return result, len(found)


# --- gaps -----------------------------------------------------------------------------------


def test_a_bag_out_of_storage_without_a_record_for_longer_than_the_limit_is_a_gap(
    app, make, make_lot
):
    tech = make.user("technician", name="Tess Okafor")
    code = make_lot(bags=1).bags[0].code
    first, second = make_lot.positions(2)
    t0 = utcnow().replace(microsecond=0) - timedelta(hours=6)
    for action, at, where in (
        ("store", t0, first),  # then 2 h in storage: no gap
        ("retrieve", t0 + timedelta(hours=2), None),
        ("store", t0 + timedelta(hours=2, minutes=25), second),  # 25 min out: within 30 min
        ("retrieve", t0 + timedelta(hours=3), None),
        ("store", t0 + timedelta(hours=4, minutes=10), first),  # 70 min out: a gap
    ):
        scan(
            tech, ScanRequest(action, code, location=where.code if where else None, occurred_at=at)
        )

    timeline = _timeline(code)

    ((step, gap),) = _flags(timeline, "gap")
    assert step.action == "store" and step.at == t0 + timedelta(hours=4, minutes=10)
    assert (gap.start, gap.end, gap.severity) == (t0 + timedelta(hours=3), step.at, "warning")
    assert "No custody record for 1 h 10 min" in gap.words
    assert "'Taken out of storage'" in gap.words
    assert step.since_previous == timedelta(hours=1, minutes=10)

    # A stricter site setting finds the 25 minutes too.
    stricter = _timeline(code, limit=timedelta(minutes=20))
    assert [s.at - t0 for s, _ in _flags(stricter, "gap")] == [
        timedelta(hours=2, minutes=25),
        timedelta(hours=4, minutes=10),
    ]


def test_a_bag_left_out_of_storage_has_an_open_gap_until_now(app, make, make_lot):
    tech = make.user("technician")
    code = make_lot(bags=1).bags[0].code
    (position,) = make_lot.positions(1)
    out = utcnow().replace(microsecond=0) - timedelta(hours=2)
    scan(
        tech,
        ScanRequest("store", code, location=position.code, occurred_at=out - timedelta(hours=1)),
    )
    scan(tech, ScanRequest("retrieve", code, occurred_at=out))
    now = out + timedelta(hours=2)

    timeline = _timeline(code, now=now)

    ((step, gap),) = _flags(timeline, "gap")
    assert step.action == "retrieve" and (gap.start, gap.end) == (out, now)
    assert "No custody record for 2 h 00 min since 'Taken out of storage'" in gap.words
    assert "neither in storage nor in a shipment" in gap.words
    # Stored again in time, nothing is open.
    assert _flags(_timeline(code, now=out + timedelta(minutes=20)), "gap") == []


def test_a_long_trip_with_its_logger_is_no_gap_but_a_silent_logger_is(app, make, make_lot):
    tech = make.user("technician")
    code = make_lot(disposition="released", status="released", bags=1).bags[0].code
    shipment = shipping.create_shipment(tech, "University Hospital", courier="Cryo Couriers").code
    t0 = utcnow().replace(microsecond=0) - timedelta(hours=9)
    scan(tech, ScanRequest("pack", code, shipment=shipment, occurred_at=t0))
    shipping.dispatch(tech, shipment, "Sam Rivera")
    _dispatched_at(shipment, t0 + timedelta(minutes=10))
    readings = [t0 + timedelta(minutes=10 + 20 * k) for k in range(12)]
    del readings[5:8]  # 80 minutes without a reading
    csv = "timestamp,temperature_c\n" + "".join(f"{t.isoformat()},-188\n" for t in readings)
    shipping.import_temperatures(tech, shipment, csv)
    received = t0 + timedelta(hours=4)
    scan(tech, ScanRequest("receive", code, shipment=shipment, occurred_at=received))

    timeline = _timeline(code, now=received + timedelta(minutes=10))

    assert _flags(timeline, "gap") == [] and _flags(timeline, "excursion") == []
    ((step, logger_gap),) = _flags(timeline, "logger_gap")
    assert step.action == "receive"
    assert (logger_gap.start, logger_gap.end) == (readings[4], readings[5])
    assert "(1 h 20 min)" in logger_gap.words


def _dispatched_at(shipment_code: str, at) -> None:
    """Test setup: the courier took the shipper at `at` (dispatch itself records now)."""
    from custody.models import CustodyEvent

    with acting_as("system:test", reason="test setup: dispatch time"):
        shipment = db.session.scalar(select(Shipment).where(Shipment.code == shipment_code))
        shipment.handed_over_at = at
        for handoff in db.session.scalars(
            select(CustodyEvent).where(
                CustodyEvent.shipment_id == shipment.id, CustodyEvent.action == "handoff"
            )
        ):
            handoff.occurred_at = at
        db.session.commit()


def test_a_received_trip_without_a_log_is_flagged(app, make, make_lot):
    tech = make.user("technician")
    code = make_lot(disposition="released", status="released", bags=1).bags[0].code
    shipment = shipping.create_shipment(tech, "University Hospital", courier="Cryo Couriers").code
    scan(tech, ScanRequest("pack", code, shipment=shipment))
    shipping.dispatch(tech, shipment, "Sam Rivera")
    scan(tech, ScanRequest("receive", code, shipment=shipment))

    ((step, flag),) = _flags(_timeline(code), "no_logger")

    assert step.action == "receive" and shipment in flag.words


# --- deviations, divisions, signatures ------------------------------------------------------


def test_a_deviation_is_flagged_on_its_manufacturing_step(app, make, make_lot):
    tech = make.user("technician", name="Tess Okafor")
    lot = make_lot(bags=1)
    started = utcnow() - timedelta(hours=3)
    batch_record.record_step(tech, lot.lot_number, batch_record.StepRequest("Harvest", started))
    batch_record.record_step(
        tech,
        lot.lot_number,
        batch_record.StepRequest(
            "Formulation",
            started + timedelta(hours=1),
            deviation=True,
            deviation_reason="Volume <5 % & below target",
        ),
    )

    timeline = _timeline(lot.bags[0].code)

    manufacturing = [s for s in timeline.steps if s.kind == "manufacturing"]
    assert [s.title for s in manufacturing] == [
        "Manufacturing step 1: Harvest",
        "Manufacturing step 2: Formulation",
    ]
    assert manufacturing[0].flags == []
    (flag,) = manufacturing[1].flags
    assert (flag.kind, flag.words) == ("deviation", "Volume <5 % & below target")


def test_a_division_shows_its_parent_and_the_parents_custody_before_it(app, make, make_lot):
    tech = make.user("technician")
    lot = make_lot(bags=1)
    parent = lot.bags[0].code
    (position,) = make_lot.positions(1)
    t0 = utcnow() - timedelta(hours=2)
    scan(tech, ScanRequest("store", parent, location=position.code, occurred_at=t0))
    scan(tech, ScanRequest("retrieve", parent, occurred_at=t0 + timedelta(minutes=30)))
    children = div.split_bag(tech, lot.lot_number, parent, div.SplitRequest(parts=2))
    child = children[1].code

    timeline = _timeline(child)

    assert timeline.parent == parent
    roles = [(link.role, link.value) for link in timeline.identity]
    assert roles[-3:] == [("parent", parent), ("bag", child), ("recipient", "none")]
    custody = [(s.action, s.bag) for s in timeline.steps if s.custody]
    assert custody == [("store", parent), ("retrieve", parent), ("divide", None)]
    divided = timeline.steps[-1]
    assert divided.title == "Divided from its parent bag"
    assert ("Notes", f"divided from {parent}") in divided.details
    # The parent's own timeline ends with its discard, naming its children.
    parent_steps = _timeline(parent).steps
    assert parent_steps[-1].action == "discard" and child[-8:] in parent_steps[-1].details[-1][1]


def test_a_release_signature_that_no_longer_holds_is_flagged(make, make_lot, quality):
    lot = quality.released_lot(make_lot, bags=1)
    code = lot.bags[0].code
    correct_result(
        make.user("technician"), lot.lot_number, ResultRequest("potency", 55.0), "re-read"
    )

    timeline = _timeline(code)

    ((step, flag),) = _flags(timeline, "signature")
    assert step.kind == "release" and step.action == "released"
    assert flag.severity == "alert" and "potency result corrected" in flag.words
    assert timeline.release["signature_valid"] is False


def test_a_conditional_release_is_flagged_with_what_was_pending(make, make_lot, quality):
    quality.specification()
    lot = make_lot(bags=1)
    quality.results(lot.lot_number, skip=("sterility",))
    quality.sign(
        lot.lot_number,
        "conditional_release",
        pending_tests=["sterility"],
        reason="Urgent: the recipient cannot wait for the 14-day culture",
    )

    ((step, flag),) = _flags(_timeline(lot.bags[0].code), "conditional_release")

    assert step.title == "Conditionally released by QA" and "sterility" in flag.words


# --- the report and unknown bags ------------------------------------------------------------


def test_the_custody_report_of_an_unknown_bag_is_not_found(make):
    with pytest.raises(NotFound, match="No bag with DIN"):
        custody_report("W999926999999-D0001VA0", make.user("nurse"))


def test_a_bag_lookup_by_code_is_what_the_timeline_reads(make_lot):
    code = make_lot(bags=1).bags[0].code
    timeline = _timeline(code)
    bag = db.session.scalar(select(Bag).where(Bag.code == code))
    assert (timeline.bag, timeline.din, timeline.lot) == (bag.code, bag.din, bag.lot.lot_number)
    assert [s.kind for s in timeline.steps] == ["collection"] and not timeline.has_custody


# --- records written without their custody event -----------------------------------------


def test_records_without_a_custody_event_still_tell_their_step(app, make, clinic):
    """Allocation, shipping, thaw rows (as loaded from elsewhere) and a stopped bedside check."""
    bag, recipient, _ = clinic.at_bedside()
    other = clinic.recipient()
    nurse = make.user("nurse", name="Nora First")
    stopped = verify(
        nurse,
        VerificationRequest(
            recipient=wristband_data(other.hospital_record_number, other.birth_date),
            bag=bag_scan_data(bag.din, bag.product_code, bag.expires_at, site_zone()),
        ),
    )
    assert stopped.outcome == "stopped"

    timeline = _timeline(bag.code)

    by = {s.action: s for s in timeline.steps}
    assert {"allocate", "pack", "receive", "thaw_start", "thaw"} <= set(by)
    assert by["allocate"].kind == "allocation"
    assert by["allocate"].details == [
        ("Recipient", f"{recipient.subject_id}, infusion 1, 20 mL to infuse")
    ]
    assert (by["receive"].place, by["receive"].custody) == (recipient.site, True)
    assert by["thaw"].kind == "thaw" and any(label == "Use by" for label, _ in by["thaw"].details)
    (step, flag) = _flags(timeline, "verification")[0]
    assert step.action == "verification_stopped" and step.person.startswith("Nora First")
    assert flag.words.startswith(f"STOP: this bag is for {recipient.name}")
    # The trip is over and no logger file was imported: the temperature is not known.
    assert [s.action for s, _ in _flags(timeline, "no_logger")] == ["receive"]
