"""Gaps in a bag's custody on its timeline: out of storage without a record for longer than the
limit, left out until now, and a trip's temperature logger that fell silent or was never read."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from custody.extensions import db
from custody.models import Shipment
from custody.models.base import utcnow
from custody.services.bags import shipping
from custody.services.bags.scans import ScanRequest, scan
from custody.services.core.audit_trail import acting_as
from tests.services.traceability.custody_journey import flags_of, timeline_of


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

    timeline = timeline_of(code)

    ((step, gap),) = flags_of(timeline, "gap")
    assert step.action == "store" and step.at == t0 + timedelta(hours=4, minutes=10)
    assert (gap.start, gap.end, gap.severity) == (t0 + timedelta(hours=3), step.at, "warning")
    assert "No custody record for 1 h 10 min" in gap.words
    assert "'Taken out of storage'" in gap.words
    assert step.since_previous == timedelta(hours=1, minutes=10)

    # A stricter site setting finds the 25 minutes too.
    stricter = timeline_of(code, limit=timedelta(minutes=20))
    assert [s.at - t0 for s, _ in flags_of(stricter, "gap")] == [
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

    timeline = timeline_of(code, now=now)

    ((step, gap),) = flags_of(timeline, "gap")
    assert step.action == "retrieve" and (gap.start, gap.end) == (out, now)
    assert "No custody record for 2 h 00 min since 'Taken out of storage'" in gap.words
    assert "neither in storage nor in a shipment" in gap.words
    # Stored again in time, nothing is open.
    assert flags_of(timeline_of(code, now=out + timedelta(minutes=20)), "gap") == []


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

    timeline = timeline_of(code, now=received + timedelta(minutes=10))

    assert flags_of(timeline, "gap") == [] and flags_of(timeline, "excursion") == []
    ((step, logger_gap),) = flags_of(timeline, "logger_gap")
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

    ((step, flag),) = flags_of(timeline_of(code), "no_logger")

    assert step.action == "receive" and shipment in flag.words
