"""The station's modes in a real browser: nothing changes mode but a tap or a printed command,
single scans only look up, each mode does what its large words say, and the day's log is the
server's (it survives a reload and shows on another device with the same station name)."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from custody.extensions import db
from custody.models import Bag, CustodyEvent, ShipmentItem, StorageLocation
from custody.services.core.audit_trail import acting_as
from tests.web.conftest import release_db
from tests.web.scan_station_steps import (
    STATION,
    BagRef,
    bag_ref,
    custody_events,
    next_scan,
    ok,
    refused,
    scan,
    sign_in_to_station,
)


def _stored_in(bag: BagRef, position: str) -> None:
    """Test set-up: `bag` sits in `position` (as a store scan would leave it)."""
    with acting_as("system:test", reason="test setup"):
        record = db.session.scalar(select(Bag).where(Bag.code == bag.code))
        record.storage_position = db.session.scalar(
            select(StorageLocation).where(StorageLocation.code == position)
        )
        db.session.commit()
    release_db()


def _position_of(code: str) -> str | None:
    bag = db.session.scalar(select(Bag).where(Bag.code == code))
    found = bag.storage_position.code if bag.storage_position else None
    release_db()
    return found


def test_single_scans_show_a_location_or_a_shipment_and_never_change_mode(
    page, live_server, technician, lab
):
    held, loose = lab.released
    _stored_in(held, lab.positions[0])
    sign_in_to_station(page, live_server, technician)

    # A position: its path and the bag it holds. The station stays in single scans.
    scan(page, lab.positions[0])
    card = page.get_by_test_id("scanned-location")
    expect(card).to_contain_text("Site ")
    expect(card).to_contain_text("› Box ")
    expect(card.get_by_test_id("position-bag")).to_contain_text(held.eye_readable)
    expect(ok(page)).to_contain_text("shown only, nothing changed")
    expect(next_scan(page)).to_have_text("Look up")
    expect(page.get_by_role("button", name="Single scans")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(page.get_by_test_id("batch-target")).to_be_hidden()

    # The next bag is only looked up: it does not go into the position or the box.
    scan(page, loose.scan)
    expect(page.get_by_test_id("scanned-bag")).to_contain_text(loose.eye_readable)
    expect(ok(page)).to_contain_text(f"Bag {loose.eye_readable}")

    # A freezer: each box below it, each position and the bag in it.
    freezer = lab.box.replace("-BOX", "-FREEZER")
    scan(page, freezer)
    card = page.get_by_test_id("scanned-location")
    expect(card).to_contain_text(freezer)
    positions = card.locator("[data-position]")
    expect(positions).to_have_count(3)
    expect(positions.nth(0)).to_contain_text(held.eye_readable)
    expect(positions.nth(1)).to_contain_text("empty")

    # A shipment: code, status, destination and how many bags it holds; nothing is packed.
    scan(page, lab.shipment)
    shipment = page.get_by_test_id("scanned-shipment")
    expect(shipment).to_contain_text(f"Shipment {lab.shipment}")
    expect(shipment.get_by_test_id("shipment-status")).to_have_text("PACKING")
    expect(shipment.get_by_test_id("shipment-destination")).to_have_text("University Hospital")
    expect(shipment.get_by_test_id("shipment-bags")).to_have_text("0")
    scan(page, loose.scan)
    expect(page.get_by_test_id("scanned-bag")).to_contain_text("RELEASED")
    expect(next_scan(page)).to_have_text("Look up")
    expect(refused(page)).to_be_empty()

    assert custody_events() == []
    assert _position_of(loose.code) is None
    assert db.session.scalars(select(ShipmentItem)).all() == []


def test_printed_commands_switch_the_mode_and_done_returns_to_single_scans(
    page, live_server, technician, lab
):
    bag, other = lab.released
    sign_in_to_station(page, live_server, technician)
    station = page.get_by_test_id("scan-station")

    scan(page, "CMD-STORE")
    expect(next_scan(page)).to_have_text("Store into box: scan the box")
    expect(station).to_have_attribute("data-sound", "mode")
    expect(page.get_by_role("button", name="Store / move into box")).to_have_attribute(
        "aria-pressed", "true"
    )
    scan(page, lab.box)
    expect(next_scan(page)).to_have_text("Next bag → stored in Position 1")
    scan(page, bag.scan)
    expect(ok(page)).to_contain_text("Stored")

    scan(page, "cmd-move")  # a scanner in lower case names the same command
    scan(page, lab.positions[2])
    expect(next_scan(page)).to_have_text("Next bag → stored in Position 3")
    scan(page, bag.scan)
    expect(ok(page)).to_contain_text("Moved")
    expect(ok(page)).to_contain_text("Position 3")

    scan(page, "CMD-RETRIEVE")
    expect(next_scan(page)).to_have_text("Next bag → retrieved")
    scan(page, bag.scan)
    expect(ok(page)).to_contain_text("Retrieved")

    scan(page, "CMD-PACK")
    expect(next_scan(page)).to_have_text("Pack: scan the shipment")
    # A box is not what packing takes: refused in words, nothing done.
    scan(page, lab.box)
    expect(refused(page)).to_contain_text("That is a location: in pack into shipment")
    scan(page, lab.shipment)
    expect(next_scan(page)).to_have_text(f"Next bag → packed into {lab.shipment}")
    scan(page, bag.scan)
    expect(ok(page)).to_contain_text("Packed")

    scan(page, "CMD-DONE")
    expect(next_scan(page)).to_have_text("Look up")
    expect(page.get_by_role("button", name="Single scans")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(page.get_by_test_id("batch-target")).to_be_hidden()
    scan(page, other.scan)
    expect(page.get_by_test_id("scanned-bag")).to_contain_text(other.eye_readable)
    expect(ok(page)).to_contain_text("RELEASED")

    assert custody_events() == [
        (bag.code, "store"),
        (bag.code, "move"),
        (bag.code, "retrieve"),
        (bag.code, "pack"),
    ]


def _in_transit(make_lot, make) -> tuple[BagRef, str]:
    """Test set-up: a bag packed into a shipment the courier has taken."""
    lot = make_lot(disposition="released", status="shipped", bags=1)
    shipment = make_lot.shipment(status="in_transit")
    packer = make.user("technician", username="pat.packer")
    with acting_as("system:test", reason="test setup"):
        bag = lot.bags[0]
        db.session.add(
            ShipmentItem(
                shipment=shipment, bag=bag, packed_by_id=packer.id, status_before="released"
            )
        )
        db.session.commit()
        found = (bag_ref(bag), shipment.code)
    release_db()
    return found


def test_receive_mode_refuses_a_shipment_still_being_packed_before_any_bag(
    page, live_server, technician, lab, make_lot, make
):
    arrived, in_transit = _in_transit(make_lot, make)
    sign_in_to_station(page, live_server, technician)

    page.get_by_role("button", name="Receive from shipment").click()
    expect(next_scan(page)).to_have_text("Receive: scan the shipment")
    scan(page, lab.shipment)
    expect(refused(page)).to_contain_text(
        f"Shipment {lab.shipment} is still being packed: it has not left the lab, so no bag "
        "can be received from it."
    )
    expect(page.get_by_test_id("batch-target")).to_be_hidden()
    # Without a shipment the bag is not received.
    scan(page, arrived.scan)
    expect(refused(page)).to_contain_text("Scan the shipment (SHP-…) first")

    scan(page, in_transit)
    expect(next_scan(page)).to_have_text(f"Next bag → received from {in_transit}")
    scan(page, arrived.scan)
    expect(ok(page)).to_contain_text("Received")
    expect(ok(page)).to_contain_text("SHIPPED → RECEIVED")
    assert custody_events() == [(arrived.code, "receive")]


def test_discard_mode_asks_the_reason_once_then_discards_each_bag_scanned(
    page, live_server, technician, lab
):
    first, second = lab.released
    sign_in_to_station(page, live_server, technician)

    page.get_by_role("button", name="Discard").click()
    expect(next_scan(page)).to_have_text("Discard: type the reason")
    reason = page.get_by_label(re.compile("Reason to discard the bags scanned next"))
    expect(reason).to_be_focused()
    # A bag scanned into the reason is not taken as one: nothing is discarded without it.
    page.keyboard.type(first.scan)
    page.keyboard.press("Enter")
    expect(refused(page)).to_contain_text("That was a scan, not a reason")
    expect(reason).to_be_focused()
    reason.fill("Bags dropped in transport")
    reason.press("Enter")
    expect(next_scan(page)).to_have_text("Next bag → discarded")
    expect(reason).to_be_hidden()

    scan(page, first.scan)
    expect(ok(page)).to_contain_text(f"Discarded: {first.words}")
    scan(page, second.scan)
    expect(ok(page)).to_contain_text(f"Discarded: {second.words}")
    expect(reason).to_be_hidden()

    events = db.session.scalars(select(CustodyEvent).order_by(CustodyEvent.id)).all()
    assert [(e.bag.code, e.action, e.notes) for e in events] == [
        (first.code, "discard", "Bags dropped in transport"),
        (second.code, "discard", "Bags dropped in transport"),
    ]
    release_db()


def test_the_days_log_is_the_servers_after_a_reload_and_on_another_device(
    page, browser, live_server, technician, lab
):
    bag = lab.released[0]
    sign_in_to_station(page, live_server, technician)
    expect(page.get_by_test_id("scan-log-status")).to_have_text(
        f"Nothing done at {STATION} today yet."
    )
    scan(page, "CMD-STORE")
    scan(page, lab.box)
    scan(page, bag.scan)
    expect(ok(page)).to_contain_text("Stored")
    scan(page, bag.scan)  # refused: stays in the feedback panel, never in the log
    expect(refused(page)).to_contain_text("is already in Position 1")

    line = page.get_by_test_id("scan-log").locator("li")
    expect(line).to_have_count(1)
    expect(line).to_contain_text(f"Stored {bag.eye_readable}")
    expect(line).to_contain_text("› Position 1")

    page.reload()
    expect(line).to_have_count(1)
    expect(line).to_contain_text(f"Stored {bag.eye_readable}")
    expect(line.get_by_test_id("k-box")).to_be_visible()

    # Another device with the same station name sees the same day; another name, its own.
    other = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        tablet = other.new_page()
        sign_in_to_station(tablet, live_server, technician)
        expect(tablet.get_by_test_id("scan-log").locator("li")).to_contain_text(
            f"Stored {bag.eye_readable}"
        )
        name = tablet.get_by_label("Station")
        name.fill("Bench 2")
        name.press("Enter")
        expect(tablet.get_by_test_id("scan-log-status")).to_have_text(
            "Nothing done at Bench 2 today yet."
        )
        expect(tablet.get_by_test_id("scan-log").locator("li")).to_have_count(0)
    finally:
        other.close()
