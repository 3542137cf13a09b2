"""The scan station in a real browser, driven the way a keyboard-wedge scanner drives it.

Every scan is typed with the keyboard into whatever has focus, then Enter, exactly as a
scanner does: if the page ever lost focus from its scan field, the scan would go nowhere and
the test would fail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from custody.config import settings
from custody.domain.isbt128 import ALPHABET, check_character
from custody.domain.scan_targets import bag_scan_data
from custody.extensions import db
from custody.models import Bag, CustodyEvent, Donation, Donor, ShipmentItem, User
from custody.models.base import utcnow
from custody.services.core.audit_trail import acting_as
from custody.services.core.identifiers import take_dins
from tests.web.conftest import browser_sign_in, release_db

MIN_TARGET_PX = 44
STATION = "Lab scan station"


@dataclass(frozen=True)
class BagRef:
    code: str
    din: str
    product_code: str
    scan: str

    @property
    def eye_readable(self) -> str:
        return f"{self.din[:5]} {self.din[5:7]} {self.din[7:]}"


@dataclass(frozen=True)
class Lab:
    released: tuple[BagRef, BagRef]
    quarantined: BagRef
    box: str
    positions: tuple[str, ...]
    shipment: str


def _ref(bag: Bag) -> BagRef:
    scan = bag_scan_data(bag.din, bag.product_code, bag.expires_at)
    return BagRef(bag.code, bag.din, bag.product_code, scan)


@pytest.fixture
def technician(make, live_server) -> str:
    user = make.user("technician", username="tess.tech", name="Tess Okafor")
    username = user.username
    release_db()
    return username


@pytest.fixture
def lab(make_lot, live_server) -> Lab:
    released = make_lot(disposition="released", status="released", bags=2)
    quarantined = make_lot(bags=1)
    positions = make_lot.positions(3)
    shipment = make_lot.shipment()
    found = Lab(
        released=tuple(_ref(b) for b in released.bags),
        quarantined=_ref(quarantined.bags[0]),
        box=positions[0].parent.code,
        positions=tuple(p.code for p in positions),
        shipment=shipment.code,
    )
    release_db()  # the live server writes next: no transaction may stay open here
    return found


def _sign_in_to_station(page: Page, live_server: str, username: str) -> None:
    browser_sign_in(page, live_server, username, "/scan")
    expect(page.get_by_role("heading", name="Scan station")).to_be_visible()


def _scan(page: Page, data: str) -> None:
    """What a keyboard-wedge scanner does: type the data into the focused field, then Enter."""
    expect(page.locator("#scan-input")).to_be_focused()
    page.keyboard.type(data)
    page.keyboard.press("Enter")


def _ok(page: Page):
    return page.get_by_test_id("feedback-ok")


def _refused(page: Page):
    return page.get_by_test_id("feedback-error")


def test_technician_stores_bags_packs_one_and_a_quarantined_bag_is_refused(
    page, live_server, technician, lab
):
    _sign_in_to_station(page, live_server, technician)
    first, second = lab.released

    # Single scan: the bag shows its identity, state and the actions that would succeed.
    _scan(page, first.scan)
    card = page.get_by_test_id("scanned-bag")
    expect(card).to_contain_text(first.eye_readable)
    expect(card.locator(".k-box")).to_have_text(check_character(first.din))
    expect(card).to_contain_text(first.product_code)
    expect(card.get_by_test_id("bag-state")).to_have_text("RELEASED")
    expect(card.get_by_test_id("lot-status")).to_have_text("RELEASED")
    expect(_ok(page)).to_contain_text("RELEASED")
    for not_a_scan in ("Allocate", "Handoff", "Infuse", "Verify"):
        expect(card.get_by_role("button", name=not_a_scan, exact=True)).to_have_count(0)

    # Store needs a second scan: the position, typed into the same field.
    card.get_by_role("button", name="Store", exact=True).click()
    expect(page.get_by_test_id("scan-prompt")).to_contain_text("Scan the position")
    _scan(page, lab.positions[0])
    expect(_ok(page)).to_contain_text("Stored")
    expect(_ok(page)).to_contain_text("Position 1")
    expect(_refused(page)).to_be_empty()
    expect(card.get_by_test_id("bag-location")).to_contain_text("Position 1")

    # Clicking anywhere hands focus back to the scan field.
    page.get_by_role("heading", name="Scan station").click()
    expect(page.locator("#scan-input")).to_be_focused()

    # Batch: scan the box, then the bag; it goes into the box's next empty position.
    page.get_by_role("button", name="Store into box").click()
    _scan(page, lab.box)
    expect(page.get_by_test_id("batch-target")).to_contain_text("Storing into Box")
    _scan(page, second.scan)
    expect(_ok(page)).to_contain_text("Stored")
    expect(_ok(page)).to_contain_text("Position 2")
    # The same bag read twice stays where it is.
    _scan(page, second.scan)
    expect(_refused(page)).to_contain_text("is already in Position 2 of this box")

    # Batch: scan the shipment, then bags; each is packed.
    page.get_by_role("button", name="Pack into shipment").click()
    _scan(page, lab.shipment)
    expect(page.get_by_test_id("batch-target")).to_contain_text(f"Packing into {lab.shipment}")
    _scan(page, first.scan)
    expect(_ok(page)).to_contain_text("Packed")
    expect(_ok(page)).to_contain_text("RELEASED → SHIPPED")

    # A quarantined bag may not be packed: red, in the server's words, with the state named.
    _scan(page, lab.quarantined.scan)
    expect(page.get_by_role("alert")).to_contain_text(
        "This bag is QUARANTINED: it cannot be packed into a shipment"
    )
    expect(_refused(page)).to_contain_text("Allowed now:")
    expect(_ok(page)).to_be_empty()
    expect(page.get_by_test_id("scan-station")).to_have_attribute("data-sound", "error")

    lines = page.get_by_test_id("scan-log").locator("li")
    # The running list, newest first: each line green or red with its message.
    expect(lines).to_have_count(5)
    results = ["error", "ok", "error", "ok", "ok"]
    for n, result in enumerate(results):
        expect(lines.nth(n)).to_have_attribute("data-result", result)
    expect(lines.nth(0)).to_contain_text("QUARANTINED")

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


def test_technician_receives_a_collection_by_scanning_its_din(page, live_server, technician, app):
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

    _sign_in_to_station(page, live_server, technician)
    _scan(page, f"={din}00")
    card = page.get_by_test_id("scanned-donation")
    expect(card).to_contain_text(f"{din[:5]} {din[5:7]} {din[7:]}")
    expect(card.locator(".k-box")).to_have_text(check_character(din))
    expect(card.get_by_test_id("donation-received")).to_have_text("not yet")

    card.get_by_label("Condition on arrival").select_option("intact")
    card.get_by_label("Temperature on arrival (°C)").fill("4.5")
    card.get_by_role("button", name="Receive collection").click()

    expect(_ok(page)).to_contain_text("received")
    expect(_refused(page)).to_be_empty()
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
    _sign_in_to_station(page, live_server, technician)

    _scan(page, f"{bag.din}{wrong} {bag.product_code}")
    expect(page.get_by_role("alert")).to_contain_text("check character")
    expect(page.get_by_test_id("scan-station")).to_have_attribute("data-sound", "error")
    expect(page.get_by_test_id("scanned-bag")).to_have_count(0)

    _scan(page, f"{bag.din}{right} {bag.product_code}")
    expect(_refused(page)).to_be_empty()
    expect(page.get_by_test_id("scanned-bag")).to_contain_text(bag.eye_readable)
    expect(page.get_by_test_id("scan-station")).to_have_attribute("data-sound", "ok")


def test_a_discard_asks_for_the_reason_and_records_it(page, live_server, technician, lab):
    bag = lab.quarantined
    _sign_in_to_station(page, live_server, technician)
    _scan(page, bag.scan)
    page.get_by_test_id("scanned-bag").get_by_role("button", name="Discard").click()
    reason = page.get_by_label(re.compile("Reason to discard"))
    expect(reason).to_be_focused()
    reason.fill("Bag punctured during handling")
    page.get_by_role("button", name="Confirm").click()
    expect(_ok(page)).to_contain_text("Discarded")
    expect(page.get_by_test_id("scanned-bag").get_by_test_id("bag-state")).to_have_text("DISCARDED")
    expect(page.locator("#scan-input")).to_be_focused()

    event = db.session.scalar(select(CustodyEvent))
    assert (event.action, event.notes) == ("discard", "Bag punctured during handling")


@pytest.mark.parametrize(
    "viewport",
    [{"width": 1024, "height": 768}, {"width": 768, "height": 1024}],
    ids=["desktop-1024x768", "tablet-768x1024"],
)
def test_station_fits_the_screen_with_glove_sized_targets(
    page, live_server, technician, make_lot, viewport
):
    lot = make_lot(bags=1, eligibility="incomplete")
    bag = _ref(lot.bags[0])
    release_db()
    page.set_viewport_size(viewport)
    _sign_in_to_station(page, live_server, technician)
    _scan(page, bag.scan)
    warnings = page.get_by_test_id("eligibility-warnings")
    expect(warnings).to_contain_text("NOT EVALUATED FOR INFECTIOUS SUBSTANCES")

    field = page.locator("#scan-input")
    expect(field).to_be_in_viewport()
    assert field.bounding_box()["height"] >= MIN_TARGET_PX
    buttons = page.get_by_role("button").filter(has_not_text="Sign out")
    assert buttons.count() >= 5
    for n in range(buttons.count()):
        button = buttons.nth(n)
        if button.is_visible():
            box = button.bounding_box()
            assert box["height"] >= MIN_TARGET_PX and box["width"] >= MIN_TARGET_PX, (
                button.inner_text(),
                box,
            )
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # The bag page the station links to fits as well.
    page.get_by_role("link", name="Bag page and custody history").click()
    expect(page.get_by_test_id("bag-page")).to_be_visible()
    expect(page.get_by_test_id("eligibility-warnings")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
