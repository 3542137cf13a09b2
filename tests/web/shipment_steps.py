"""What the shipment pages' browser tests share: the steps a technician takes on a shipment's
page, scanning the way a keyboard-wedge scanner does (the data typed into the focused field,
then Enter), and shipments built as starting data through the services."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from custody.services.bags import shipping
from custody.services.bags.scans import ScanRequest, scan
from tests.factories import PASSWORD
from tests.web.conftest import release_db
from tests.web.scan_station_steps import BagRef, bag_ref

# A logger's export: one reading above -150 °C at 08:10 is an excursion.
GOOD_CSV = (
    "timestamp,temperature_c\n"
    "2025-03-01T08:00:00Z,-185\n"
    "2025-03-01T08:10:00Z,-140\n"
    "2025-03-01T08:20:00Z,-181\n"
)
# Line 3 holds a word where the temperature goes.
BAD_CSV = "timestamp,temperature_c\n2025-03-01T08:00:00Z,-185\n2025-03-01T08:10:00Z,warm\n"


def scan_into_page(page: Page, data: str) -> None:
    """A keyboard-wedge scan into the page's scan field, which must have the focus."""
    field = page.locator("#shipment-scan")
    expect(field).to_be_focused()
    page.keyboard.type(data)
    page.keyboard.press("Enter")


def scan_ok(page: Page):
    return page.get_by_test_id("scan-ok")


def note_dialog(page: Page):
    return page.get_by_test_id("note-dialog")


def fill_note(page: Page, text: str, confirm: str) -> None:
    dialog = note_dialog(page)
    expect(dialog).to_be_visible()
    dialog.locator("textarea").fill(text)
    dialog.get_by_role("button", name=confirm).click()
    expect(dialog).to_be_hidden()


def logger_file(tmp_path: Path, text: str, name: str = "logger.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def shipment_in_transit(make, make_lot, bags: int = 2) -> tuple[str, tuple[BagRef, ...]]:
    """Starting data: a shipment packed with `bags` released bags and handed to the courier."""
    packer = make.user("technician", username="pat.packer", name="Pat Packer")
    lot = make_lot(disposition="released", status="released", bags=bags)
    created = shipping.create_shipment(
        packer, "University Hospital", courier="Cryo Couriers", logger_id="TL-7"
    )
    for bag in lot.bags:
        scan(packer, ScanRequest(action="pack", bag=bag.code, shipment=created.code))
    shipping.dispatch(
        packer, created.code, "Sam Rivera", username=packer.username, password=PASSWORD
    )
    found = (created.code, tuple(bag_ref(b) for b in lot.bags))
    release_db()
    return found
