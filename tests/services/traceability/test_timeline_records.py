"""What each kind of record adds to a bag's timeline: deviations on their manufacturing step, a
division's parent, release signatures that no longer hold and conditional releases, records
written without their custody event, unknown bags; all read in a fixed number of queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select

from custody.domain.errors import NotFound
from custody.domain.scan_targets import bag_scan_data
from custody.domain.wristband import wristband_data
from custody.extensions import db
from custody.models import Bag
from custody.models.base import utcnow
from custody.services.bags.scans import ScanRequest, scan
from custody.services.clinic.bedside import VerificationRequest, verify
from custody.services.core.facility import site_zone
from custody.services.manufacturing import batch_record
from custody.services.manufacturing import divisions as div
from custody.services.quality.results import ResultRequest, correct_result
from custody.services.traceability.timeline import custody_report
from tests.services.traceability.custody_journey import flags_of, timeline_of


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

    timeline = timeline_of(lot.bags[0].code)

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

    timeline = timeline_of(child)

    assert timeline.parent == parent
    roles = [(link.role, link.value) for link in timeline.identity]
    assert roles[-3:] == [("parent", parent), ("bag", child), ("recipient", "none")]
    custody = [(s.action, s.bag) for s in timeline.steps if s.custody]
    assert custody == [("store", parent), ("retrieve", parent), ("divide", None)]
    divided = timeline.steps[-1]
    assert divided.title == "Divided from its parent bag"
    assert ("Notes", f"divided from {parent}") in divided.details
    # The parent's own timeline ends with its discard, naming its children.
    parent_steps = timeline_of(parent).steps
    assert parent_steps[-1].action == "discard" and child[-8:] in parent_steps[-1].details[-1][1]


def test_a_release_signature_that_no_longer_holds_is_flagged(make, make_lot, quality):
    lot = quality.released_lot(make_lot, bags=1)
    code = lot.bags[0].code
    correct_result(
        make.user("technician"), lot.lot_number, ResultRequest("potency", 55.0), "re-read"
    )

    timeline = timeline_of(code)

    ((step, flag),) = flags_of(timeline, "signature")
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

    ((step, flag),) = flags_of(timeline_of(lot.bags[0].code), "conditional_release")

    assert step.title == "Conditionally released by QA" and "sterility" in flag.words


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

    timeline = timeline_of(bag.code)

    by = {s.action: s for s in timeline.steps}
    assert {"allocate", "pack", "receive", "thaw_start", "thaw"} <= set(by)
    assert by["allocate"].kind == "allocation"
    assert by["allocate"].details == [
        ("Recipient", f"{recipient.subject_id}, infusion 1, 20 mL to infuse")
    ]
    assert (by["receive"].place, by["receive"].custody) == (recipient.site, True)
    assert by["thaw"].kind == "thaw" and any(label == "Use by" for label, _ in by["thaw"].details)
    (step, flag) = flags_of(timeline, "verification")[0]
    assert step.action == "verification_stopped" and step.person.startswith("Nora First")
    # The timeline is the product's record: the recipient by subject ID, identifiers withheld.
    assert flag.words.startswith(f"STOP: this bag is for [withheld] ({recipient.subject_id})")
    for identifier in (
        recipient.name,
        recipient.hospital_record_number,
        other.hospital_record_number,
    ):
        assert identifier not in flag.words
    assert str(recipient.birth_date) not in flag.words
    # The trip is over and no logger file was imported: the temperature is not known.
    assert [s.action for s, _ in flags_of(timeline, "no_logger")] == ["receive"]


def test_the_custody_report_of_an_unknown_bag_is_not_found(make):
    with pytest.raises(NotFound, match="No bag with DIN"):
        custody_report("W999926999999-D0001VA0", make.user("nurse"))


def test_a_bag_lookup_by_code_is_what_the_timeline_reads(make_lot):
    code = make_lot(bags=1).bags[0].code
    timeline = timeline_of(code)
    bag = db.session.scalar(select(Bag).where(Bag.code == code))
    assert (timeline.bag, timeline.din, timeline.lot) == (bag.code, bag.din, bag.lot.lot_number)
    assert [s.kind for s in timeline.steps] == ["collection"] and not timeline.has_custody


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
        timeline, statements = _counted(lambda c=code: timeline_of(c))
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
