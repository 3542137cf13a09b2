"""What the scan station's browser tests share: the bags, boxes and shipments a lab has, and
the steps a technician takes at the station, driven the way a keyboard-wedge scanner drives it.

Every scan is typed with the keyboard into whatever has focus, then the scanner's end key
(Enter unless told): if the page ever lost focus from its scan field, the scan would go
nowhere and the test would fail.
"""

from __future__ import annotations

from dataclasses import dataclass

from playwright.sync_api import Page, expect
from sqlalchemy import select

from custody.domain.isbt128 import check_character
from custody.domain.scan_targets import bag_scan_data
from custody.extensions import db
from custody.models import Bag, CustodyEvent
from tests.web.conftest import browser_sign_in, release_db

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

    @property
    def words(self) -> str:
        """DIN, check character K and product code, as the station writes a bag."""
        return f"{self.eye_readable} {check_character(self.din)} {self.product_code}"

    @property
    def din_barcode(self) -> str:
        """The label's DIN Code 128 as a scanner types it (flags 00)."""
        return f"={self.din}00"

    @property
    def product_barcode(self) -> str:
        """The label's product code Code 128 as a scanner types it."""
        return f"=<{self.product_code}"


@dataclass(frozen=True)
class Lab:
    released: tuple[BagRef, BagRef]
    quarantined: BagRef
    box: str
    positions: tuple[str, ...]
    shipment: str


def bag_ref(bag: Bag) -> BagRef:
    scan = bag_scan_data(bag.din, bag.product_code, bag.expires_at)
    return BagRef(bag.code, bag.din, bag.product_code, scan)


def set_up_lab(make_lot) -> Lab:
    """Two released bags, a quarantined one, a box of three positions and a shipment being
    packed; the test's transaction is ended so the live server can write."""
    released = make_lot(disposition="released", status="released", bags=2)
    quarantined = make_lot(bags=1)
    positions = make_lot.positions(3)
    shipment = make_lot.shipment()
    found = Lab(
        released=tuple(bag_ref(b) for b in released.bags),
        quarantined=bag_ref(quarantined.bags[0]),
        box=positions[0].parent.code,
        positions=tuple(p.code for p in positions),
        shipment=shipment.code,
    )
    release_db()
    return found


def sign_up_technician(make) -> str:
    username = make.user("technician", username="tess.tech", name="Tess Okafor").username
    release_db()
    return username


def sign_in_to_station(page: Page, live_server: str, username: str) -> None:
    browser_sign_in(page, live_server, username, "/scan")
    expect(page.get_by_role("heading", name="Scan station")).to_be_visible()


def scan(page: Page, data: str, end: str = "Enter") -> None:
    """What a keyboard-wedge scanner does: type the data into the focused field, then `end`."""
    expect(page.locator("#scan-input")).to_be_focused()
    page.keyboard.type(data)
    if end:
        page.keyboard.press(end)


def ok(page: Page):
    return page.get_by_test_id("feedback-ok")


def refused(page: Page):
    return page.get_by_test_id("feedback-error")


def next_scan(page: Page):
    """The large words saying what the next scan will do."""
    return page.get_by_test_id("mode-title")


def custody_events() -> list[tuple[str, str]]:
    """(bag code, action) of every custody event so far, oldest first; ends the read."""
    events = db.session.scalars(select(CustodyEvent).order_by(CustodyEvent.id)).all()
    found = [(e.bag.code, e.action) for e in events]
    release_db()
    return found
