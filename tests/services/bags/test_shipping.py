"""Shipping: numbering, courier handoff, logger data, and receipt with nothing passing silently."""

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from custody.domain.errors import Conflict, IllegalTransition, ValidationFailed
from custody.extensions import db
from custody.models import (
    CustodyEvent,
    Lot,
    Shipment,
    ShipmentDiscrepancy,
    ShipmentTemperature,
    User,
)
from custody.models.base import utcnow
from custody.services.bags import shipment_queries, shipping
from custody.services.bags.scans import ScanRequest, scan
from custody.services.core.audit_trail import acting_as
from tests.races import race

CSV = (
    "timestamp,temperature_c\n"
    "2025-03-01T08:00:00Z,-185\n"
    "2025-03-01T08:10:00Z,-140\n"
    "2025-03-01T08:20:00Z,-120.5\n"
    "2025-03-01T08:30:00Z,-180\n"
)


@pytest.fixture
def packed(tech, make_lot):
    """A shipment holding two bags of a released lot, still in the lab."""
    lot = make_lot(disposition="released", status="released", bags=2)
    shipment = shipping.create_shipment(tech, "University Hospital", courier="Cryo Couriers")
    for bag in lot.bags:
        scan(tech, ScanRequest(action="pack", bag=bag.code, shipment=shipment.code))
    return shipment, lot


@pytest.fixture
def in_transit(tech, packed):
    shipment, lot = packed
    shipping.dispatch(tech, shipment.code, "Sam Rivera", lab_name="Cell Lab")
    return shipment, lot


def _reload(shipment) -> Shipment:
    db.session.expire_all()
    return db.session.scalar(select(Shipment).where(Shipment.code == shipment.code))


def _events(action: str) -> list[CustodyEvent]:
    return list(db.session.scalars(select(CustodyEvent).where(CustodyEvent.action == action)))


def _readings() -> int:
    return db.session.query(ShipmentTemperature).count()


def _receive(user, bag, shipment):
    return scan(user, ScanRequest(action="receive", bag=bag.code, shipment=shipment.code))


def test_shipments_are_numbered_per_year(tech):
    first = shipping.create_shipment(tech, "Site A", shipper_id="DS-7", storage_limit_c=-135)
    second = shipping.create_shipment(tech, "Site B")
    year = utcnow().year
    assert (first.code, second.code) == (f"SHP-{year}-0001", f"SHP-{year}-0002")
    assert (first.status.value, first.shipper_id, first.storage_limit_c) == (
        "packing",
        "DS-7",
        -135,
    )
    assert second.storage_limit_c == -150


def test_concurrent_creates_get_distinct_numbers(app, make):
    names = [make.user("technician").username for _ in range(4)]
    codes = race(
        app, *((n, lambda user: shipping.create_shipment(user, "Site").code) for n in names)
    )
    assert all(isinstance(c, str) for c in codes), codes
    assert sorted(int(c.rsplit("-", 1)[1]) for c in codes) == [1, 2, 3, 4]


def test_dispatch_hands_every_bag_to_the_courier(tech, packed):
    shipment, lot = packed
    shipping.dispatch(tech, shipment.code, "Sam Rivera", lab_name="Cell Lab", temperature_c=-190)
    shipment = _reload(shipment)
    assert shipment.status.value == "in_transit"
    assert shipment.handed_over_to == "Cryo Couriers (Sam Rivera)"
    assert shipment.handed_over_at is not None
    events = _events("handoff")
    assert sorted(e.bag.code for e in events) == sorted(b.code for b in lot.bags)
    for event in events:
        assert (event.from_status, event.to_status) == ("shipped", "shipped")
        assert event.from_party == "Cell Lab: Tess Tech"
        assert event.to_party == "Cryo Couriers (Sam Rivera)"
        assert event.shipment_id == shipment.id and event.temperature_c == -190


def test_dispatch_of_an_empty_shipment_is_refused(tech):
    shipment = shipping.create_shipment(tech, "Site A", courier="Cryo Couriers")
    with pytest.raises(Conflict, match="empty"):
        shipping.dispatch(tech, shipment.code, "Sam Rivera")
    assert _reload(shipment).status.value == "packing"
    assert _events("handoff") == []


def test_dispatch_needs_a_courier_company(tech, make_lot):
    lot = make_lot(disposition="released", status="released", bags=1)
    shipment = shipping.create_shipment(tech, "Site A")
    scan(tech, ScanRequest(action="pack", bag=lot.bags[0].code, shipment=shipment.code))
    with pytest.raises(ValidationFailed, match="courier company"):
        shipping.dispatch(tech, shipment.code, "Sam Rivera")
    shipping.dispatch(tech, shipment.code, "Sam Rivera", courier="Polar Express")
    assert _reload(shipment).courier == "Polar Express"


@pytest.mark.parametrize(
    ("disposition", "words"), [("rejected", "rejected"), ("quarantine", "quarantine")]
)
def test_a_bag_whose_lot_lost_its_release_stops_the_dispatch(tech, packed, disposition, words):
    shipment, lot = packed
    with acting_as("qa:test", reason="test: lot disposition changed after packing"):
        db.session.get(Lot, lot.id).disposition = disposition
        db.session.commit()
    with pytest.raises(IllegalTransition) as refused:
        shipping.dispatch(tech, shipment.code, "Sam Rivera")
    assert words in refused.value.message and "Unpack" in refused.value.message
    assert set(refused.value.details["refused_bags"]) == {b.code for b in lot.bags}
    assert _reload(shipment).status.value == "packing"
    assert _events("handoff") == []


def test_a_shipment_is_dispatched_once_and_then_takes_no_more_bags(tech, in_transit, make_lot):
    shipment, _ = in_transit
    with pytest.raises(Conflict, match="already handed to Cryo Couriers"):
        shipping.dispatch(tech, shipment.code, "Someone Else")
    extra = make_lot(disposition="released", status="released", bags=1).bags[0]
    with pytest.raises(Conflict, match="has left the lab"):
        scan(tech, ScanRequest(action="pack", bag=extra.code, shipment=shipment.code))
    assert len(_events("handoff")) == 2
    assert _reload(shipment).handed_over_to == "Cryo Couriers (Sam Rivera)"


def test_logger_csv_is_imported_and_its_excursion_found(tech, in_transit):
    shipment, _ = in_transit
    assert shipping.import_temperatures(tech, shipment.code, CSV) == 4
    report = shipment_queries.temperature_report(_reload(shipment), None)
    assert len(report["readings"]) == 4
    (excursion,) = report["excursions"]
    assert excursion.peak_c == -120.5 and excursion.readings == 2
    assert excursion.start.isoformat() == "2025-03-01T08:10:00+00:00"
    assert excursion.end.isoformat() == "2025-03-01T08:30:00+00:00"
    assert report["gaps"] == []


def test_gaps_follow_the_setting(tech, in_transit):
    shipment, _ = in_transit
    shipping.import_temperatures(tech, shipment.code, CSV)
    report = shipment_queries.temperature_report(_reload(shipment), timedelta(minutes=5))
    assert len(report["gaps"]) == 3


def test_a_csv_with_a_bad_line_is_refused_and_nothing_is_stored(tech, in_transit):
    shipment, _ = in_transit
    bad = CSV + "2025-03-01T08:40:00,-181\n"
    with pytest.raises(ValidationFailed, match=r"Line 6 .*no time zone"):
        shipping.import_temperatures(tech, shipment.code, bad)
    assert _readings() == 0
    shipping.import_temperatures(tech, shipment.code, CSV)  # the corrected file goes in
    assert _readings() == 4


def test_logger_data_is_imported_once_and_only_after_dispatch(tech, packed):
    shipment, _ = packed
    with pytest.raises(Conflict, match="not left the lab"):
        shipping.import_temperatures(tech, shipment.code, CSV)
    shipping.dispatch(tech, shipment.code, "Sam Rivera")
    shipping.import_temperatures(tech, shipment.code, CSV)
    with pytest.raises(Conflict, match="already imported"):
        shipping.import_temperatures(tech, shipment.code, CSV.replace("-185", "-100"))
    assert _readings() == 4


def test_receipt_with_a_missing_bag_is_refused_until_a_discrepancy_is_recorded(make, in_transit):
    shipment, lot = in_transit
    nurse = make.user("nurse")
    arrived, lost = lot.bags
    _receive(nurse, arrived, shipment)
    with pytest.raises(Conflict) as refused:
        shipping.complete_receipt(nurse, shipment.code)
    assert lost.code in refused.value.message and arrived.code not in refused.value.message
    assert refused.value.details["unaccounted_bags"] == [lost.code]
    assert _reload(shipment).status.value == "in_transit"

    shipping.record_discrepancy(nurse, shipment.code, "missing", "Not in the shipper", lost.code)
    done = shipping.complete_receipt(nurse, shipment.code)
    shipment = _reload(done)
    assert shipment.status.value == "received"
    assert shipment.received_by_id == nurse.id and shipment.received_at is not None
    detail = shipment_queries.shipment_detail(shipment.code)
    assert [(m["bag"], m["received"], m["missing"]) for m in detail["manifest"]] == [
        (arrived.code, True, False),
        (lost.code, False, True),
    ]


def test_a_received_bag_cannot_be_recorded_missing(make, in_transit):
    shipment, lot = in_transit
    nurse = make.user("nurse")
    _receive(nurse, lot.bags[0], shipment)
    with pytest.raises(Conflict, match="was scanned in"):
        shipping.record_discrepancy(nurse, shipment.code, "missing", "?", lot.bags[0].code)


def test_an_unexpected_bag_is_recorded_against_the_shipment(make, make_lot, tech, in_transit):
    shipment, lot = in_transit
    nurse = make.user("nurse")
    # A bag of another shipment, put into the wrong shipper.
    stranger = make_lot(disposition="released", status="released", bags=1).bags[0]
    other = shipping.create_shipment(tech, "Other Hospital", courier="Cryo Couriers")
    scan(tech, ScanRequest(action="pack", bag=stranger.code, shipment=other.code))
    shipping.dispatch(tech, other.code, "Sam Rivera")
    with pytest.raises(Conflict, match="unexpected-bag discrepancy"):
        _receive(nurse, stranger, shipment)
    record = shipping.record_discrepancy(
        nurse, shipment.code, "unexpected", "Found in the shipper, set apart", stranger.code
    )
    assert record.bag_id == stranger.id and record.kind.value == "unexpected"
    unknown = shipping.record_discrepancy(
        nurse, shipment.code, "unexpected", "Unlabelled bag", "HANDWRITTEN 42"
    )
    assert unknown.bag_id is None and unknown.raw_scan == "HANDWRITTEN 42"
    lines = shipment_queries.shipment_detail(shipment.code)["discrepancies"]
    assert [(d["kind"], d["bag"]) for d in lines] == [
        ("unexpected", stranger.code),
        ("unexpected", None),
    ]
    # An unexpected bag does not stand in for the manifest: those still need receiving.
    with pytest.raises(Conflict, match=re.escape(lot.bags[0].code)):
        shipping.complete_receipt(nurse, shipment.code)


def test_a_manifest_bag_is_received_not_recorded_unexpected(make, in_transit):
    shipment, lot = in_transit
    nurse = make.user("nurse")
    with pytest.raises(Conflict, match="on the manifest"):
        shipping.record_discrepancy(nurse, shipment.code, "unexpected", "?", lot.bags[0].code)
    assert db.session.query(ShipmentDiscrepancy).count() == 0


def test_a_discrepancy_needs_a_note_and_a_shipment_in_transit(make, packed):
    shipment, lot = packed
    nurse = make.user("nurse")
    with pytest.raises(ValidationFailed, match="note"):
        shipping.record_discrepancy(nurse, shipment.code, "missing", "  ", lot.bags[0].code)
    with pytest.raises(Conflict, match="packing"):
        shipping.record_discrepancy(nurse, shipment.code, "missing", "lost", lot.bags[0].code)
    assert db.session.query(ShipmentDiscrepancy).count() == 0


def test_packing_racing_the_dispatch_never_leaves_a_bag_without_its_handoff(
    app, tech, packed, make_lot
):
    shipment, _ = packed
    late = make_lot(disposition="released", status="released", bags=1).bags[0].code
    tech_id, code = tech.id, shipment.code
    db.session.remove()
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def run(name: str, action) -> None:
        with app.app_context():
            try:
                user = db.session.get(User, tech_id)
                db.session.commit()
                barrier.wait(timeout=30)
                action(user)
                outcomes[name] = "done"
            except (Conflict, IllegalTransition) as refused:
                outcomes[name] = refused.message
            except BaseException as error:  # surfaced below
                outcomes[name] = f"crash: {error!r}"
            finally:
                db.session.remove()

    def pack(user):
        scan(user, ScanRequest(action="pack", bag=late, shipment=code))

    def send(user):
        shipping.dispatch(user, code, "Sam Rivera")

    threads = [threading.Thread(target=run, args=a) for a in (("pack", pack), ("send", send))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not any(o.startswith("crash") for o in outcomes.values()), outcomes
    assert "done" in outcomes.values(), outcomes
    shipment = _reload(shipment)
    packed_bags = {i.bag.code for i in shipment.items}
    handed = {e.bag.code for e in _events("handoff")}
    if shipment.status.value == "in_transit":
        assert handed == packed_bags
    else:
        assert handed == set() and late in packed_bags
