"""The scan station in a real browser: looking bags up, acting on them from the bag card and in
a mode, collections, typed DINs, and the page at the sizes it is used.

Scans are typed the way a keyboard-wedge scanner types them (tests/web/scan_station_steps.py).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from custody.config import settings
from custody.domain.isbt128 import ALPHABET, check_character
from custody.extensions import db
from custody.models import Bag, CustodyEvent, Donation, Donor, ShipmentItem, User
from custody.models.base import utcnow
from custody.services.core.audit_trail import acting_as
from custody.services.core.identifiers import take_dins
from tests.web.conftest import TIMEOUT_MS, release_db
from tests.web.scan_station_steps import (
    STATION,
    bag_ref,
    ok,
    refused,
    scan,
    sign_in_to_station,
)
from tests.web.tablet import fits_width, small_targets


def test_technician_stores_bags_packs_one_and_a_quarantined_bag_is_refused(
    page, live_server, technician, lab
):
    sign_in_to_station(page, live_server, technician)
    first, second = lab.released

    # Single scan: the bag shows its identity, state and the actions that would succeed.
    scan(page, first.scan)
    card = page.get_by_test_id("scanned-bag")
    expect(card).to_contain_text(first.eye_readable)
    expect(card.locator(".k-box")).to_have_text(check_character(first.din))
    expect(card).to_contain_text(first.product_code)
    expect(card.get_by_test_id("bag-state")).to_have_text("RELEASED")
    expect(card.get_by_test_id("lot-status")).to_have_text("RELEASED")
    expect(ok(page)).to_contain_text("RELEASED")
    for not_a_scan in ("Allocate", "Handoff", "Infuse", "Verify"):
        expect(card.get_by_role("button", name=not_a_scan, exact=True)).to_have_count(0)

    # Store needs a second scan: the position, typed into the same field.
    card.get_by_role("button", name="Store", exact=True).click()
    expect(page.get_by_test_id("scan-prompt")).to_contain_text("Scan the position")
    scan(page, lab.positions[0])
    expect(ok(page)).to_contain_text("Stored")
    expect(ok(page)).to_contain_text("Position 1")
    expect(refused(page)).to_be_empty()
    expect(card.get_by_test_id("bag-location")).to_contain_text("Position 1")

    # Clicking anywhere hands focus back to the scan field.
    page.get_by_role("heading", name="Scan station").click()
    expect(page.locator("#scan-input")).to_be_focused()

    # Batch: scan the box, then the bag; it goes into the box's next empty position.
    page.get_by_role("button", name="Store / move into box").click()
    scan(page, lab.box)
    expect(page.get_by_test_id("batch-target")).to_contain_text("Storing into Box")
    scan(page, second.scan)
    expect(ok(page)).to_contain_text("Stored")
    expect(ok(page)).to_contain_text("Position 2")
    # The same bag read twice stays where it is.
    scan(page, second.scan)
    expect(refused(page)).to_contain_text("is already in Position 2 of this box")

    # Batch: scan the shipment, then bags; each is packed.
    page.get_by_role("button", name="Pack into shipment").click()
    scan(page, lab.shipment)
    expect(page.get_by_test_id("batch-target")).to_contain_text(f"Packing into {lab.shipment}")
    scan(page, first.scan)
    expect(ok(page)).to_contain_text("Packed")
    expect(ok(page)).to_contain_text("RELEASED → SHIPPED")

    # A quarantined bag may not be packed: red, in the server's words, with the state named.
    scan(page, lab.quarantined.scan)
    expect(page.get_by_role("alert")).to_contain_text(
        "This bag is QUARANTINED: it cannot be packed into a shipment"
    )
    expect(refused(page)).to_contain_text("Allowed now:")
    expect(ok(page)).to_be_empty()
    expect(page.get_by_test_id("scan-station")).to_have_attribute("data-sound", "error")

    # The day's log is the server's, newest first: what was done, not what was refused.
    lines = page.get_by_test_id("scan-log").locator("li")
    expect(lines).to_have_count(3)
    for n, (action, bag) in enumerate([("pack", first), ("store", second), ("store", first)]):
        expect(lines.nth(n)).to_have_attribute("data-action", action)
        expect(lines.nth(n)).to_contain_text(bag.eye_readable)
    expect(lines.nth(0)).to_contain_text(f"RELEASED → SHIPPED shipment {lab.shipment}")
    expect(lines.nth(0)).to_contain_text("Tess Okafor")

    # What the server committed matches what the page said.
    bags = {b.code: b for b in db.session.scalars(select(Bag))}
    assert bags[first.code].status.value == "shipped"
    assert bags[first.code].storage_position is None
    assert bags[second.code].storage_position.code == lab.positions[1]
    assert bags[lab.quarantined.code].status.value == "quarantined"
    packed = db.session.scalars(select(ShipmentItem)).all()
    assert [item.bag.code for item in packed] == [first.code]
    events = db.session.scalars(select(CustodyEvent).order_by(CustodyEvent.id)).all()
    assert [(e.bag.code, e.action) for e in events] == [
        (first.code, "store"),
        (second.code, "store"),
        (first.code, "pack"),
    ]
    assert {e.station for e in events} == {STATION}
    assert {e.actor.username for e in events} == {technician}
    assert events[0].raw_scan == first.scan


def test_a_collections_din_alone_is_looked_up_only_on_purpose_and_received(
    page, live_server, technician, app
):
    with acting_as("system:test", reason="test setup"):
        (din,) = take_dins(settings().fin, 26, 1)
        donor = Donor(donor_code="DNR-RCPT", sex="F", birth_date=utcnow().date().replace(year=1988))
        donor.eligibility = "eligible"
        db.session.add(
            Donation(
                din=din,
                donor=donor,
                collected_at=utcnow() - timedelta(hours=3),
                collection_timezone="America/Chicago",
                facility="Apheresis unit 2",
                volume_ml=240.0,
            )
        )
        db.session.commit()
    release_db()

    sign_in_to_station(page, live_server, technician)
    # A DIN read alone waits for a product code; a collection has none, which a person says.
    scan(page, f"={din}00")
    expect(page.get_by_test_id("pair-status")).to_contain_text("now scan the product code")
    expect(page.get_by_test_id("scanned-donation")).to_have_count(0)
    page.get_by_role("button", name="No product code: look up the collection").click()
    card = page.get_by_test_id("scanned-donation")
    expect(card).to_contain_text(f"{din[:5]} {din[5:7]} {din[7:]}")
    expect(card.locator(".k-box")).to_have_text(check_character(din))
    expect(card.get_by_test_id("donation-received")).to_have_text("not yet")

    card.get_by_label("Condition on arrival").select_option("intact")
    card.get_by_label("Temperature on arrival (°C)").fill("4.5")
    card.get_by_role("button", name="Receive collection").click()

    expect(ok(page)).to_contain_text("received")
    expect(refused(page)).to_be_empty()
    expect(card.get_by_role("button", name="Receive collection")).to_have_count(0)
    expect(page.locator("#scan-input")).to_be_focused()

    donation = db.session.scalar(select(Donation).where(Donation.din == din))
    assert donation.received_at is not None
    assert donation.received_condition == "intact"
    assert donation.received_temperature_c == 4.5
    assert db.session.get(User, donation.received_by_id).username == technician


def test_typed_din_with_its_check_character_is_accepted_and_a_wrong_one_refused(
    page, live_server, technician, lab
):
    bag = lab.released[0]
    right = check_character(bag.din)
    wrong = next(c for c in ALPHABET if c != right)
    sign_in_to_station(page, live_server, technician)

    scan(page, f"{bag.din}{wrong} {bag.product_code}")
    expect(page.get_by_role("alert")).to_contain_text("check character")
    expect(page.get_by_test_id("scan-station")).to_have_attribute("data-sound", "error")
    expect(page.get_by_test_id("scanned-bag")).to_have_count(0)

    scan(page, f"{bag.din}{right} {bag.product_code}")
    expect(refused(page)).to_be_empty()
    expect(page.get_by_test_id("scanned-bag")).to_contain_text(bag.eye_readable)
    expect(page.get_by_test_id("scan-station")).to_have_attribute("data-sound", "ok")


def test_a_discard_asks_for_the_reason_and_records_it(page, live_server, technician, lab):
    bag = lab.quarantined
    sign_in_to_station(page, live_server, technician)
    scan(page, bag.scan)
    page.get_by_test_id("scanned-bag").get_by_role("button", name="Discard").click()
    reason = page.get_by_label(re.compile("Reason to discard"))
    expect(reason).to_be_focused()
    reason.fill("Bag punctured during handling")
    page.get_by_role("button", name="Confirm").click()
    expect(ok(page)).to_contain_text("Discarded")
    expect(page.get_by_test_id("scanned-bag").get_by_test_id("bag-state")).to_have_text("DISCARDED")
    expect(page.locator("#scan-input")).to_be_focused()

    event = db.session.scalar(select(CustodyEvent))
    assert (event.action, event.notes) == ("discard", "Bag punctured during handling")


@pytest.mark.parametrize(
    ("viewport", "touch"),
    [({"width": 1280, "height": 800}, False), ({"width": 768, "height": 1024}, True)],
    ids=["bench-1280x800", "tablet-768x1024-touch"],
)
def test_every_button_and_link_is_a_gloved_fingertip_and_nothing_is_cut_off(
    browser, live_server, technician, lab, make_lot, viewport, touch
):
    warned = bag_ref(make_lot(bags=1, eligibility="incomplete").bags[0])
    release_db()
    context = browser.new_context(viewport=viewport, has_touch=touch)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        sign_in_to_station(page, live_server, technician)
        field = page.locator("#scan-input")

        # A bag with warnings, its actions and the link to its page; a half read waiting.
        scan(page, warned.scan)
        expect(page.get_by_test_id("eligibility-warnings")).to_contain_text(
            "NOT EVALUATED FOR INFECTIOUS SUBSTANCES"
        )
        scan(page, lab.released[0].din_barcode)
        expect(
            page.get_by_role("button", name="No product code: look up the collection")
        ).to_be_visible()
        expect(field).to_be_in_viewport()
        assert field.bounding_box()["height"] >= 44
        assert small_targets(page) == [] and fits_width(page)

        # A box being filled, the day's log, Cancel; then discard mode asking its reason.
        scan(page, "CMD-STORE")
        scan(page, lab.box)
        scan(page, lab.released[0].scan)
        expect(ok(page)).to_contain_text("Stored")
        expect(page.get_by_role("button", name="Cancel")).to_be_visible()
        assert small_targets(page) == [] and fits_width(page)
        page.get_by_role("button", name="Discard").click()
        expect(page.get_by_role("button", name="Confirm")).to_be_visible()
        assert small_targets(page) == [] and fits_width(page)

        # The freezer's boxes, positions and bags, and the sheet of command barcodes.
        page.get_by_role("button", name="Cancel").nth(0).click()
        scan(page, lab.box.replace("-BOX", "-FREEZER"))
        expect(page.get_by_test_id("scanned-location")).to_contain_text("Position 1")
        assert small_targets(page) == [] and fits_width(page)
        page.get_by_role("link", name="Command barcodes").click()
        expect(page.get_by_test_id("command")).to_have_count(7)
        assert small_targets(page) == [] and fits_width(page)
    finally:
        context.close()
