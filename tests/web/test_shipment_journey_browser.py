"""Shipments end to end in Chromium, with no API call by the test: a technician creates a
shipment, packs it by scanning, hands it to the courier with a signature, imports the logger
file and sees its excursion, scans the bags in at the site, records a missing and an unexpected
bag, resolves the missing one, and completes the receipt. Also: a malformed logger file is
refused naming its line and stores nothing, and what the page does not offer the server refuses.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from custody.extensions import db
from custody.models import (
    DiscrepancyResolution,
    Shipment,
    ShipmentDiscrepancy,
    ShipmentTemperature,
    Signature,
)
from tests.factories import PASSWORD
from tests.web.conftest import browser_sign_in, release_db
from tests.web.scan_station_steps import bag_ref
from tests.web.shipment_steps import (
    BAD_CSV,
    GOOD_CSV,
    fill_note,
    logger_file,
    note_dialog,
    scan_into_page,
    scan_ok,
    shipment_in_transit,
)
from tests.web.tablet import PORTRAIT, fits_width, small_targets


def _status(page):
    return page.get_by_test_id("shipment-status")


def _line(page, bag_code: str):
    return page.locator(f'[data-testid="manifest-line"][data-bag="{bag_code}"]')


def test_a_technician_ships_and_receives_a_shipment_in_the_browser(
    page, live_server, technician, make_lot, tmp_path
):
    first, second = (bag_ref(b) for b in make_lot(disposition="released", status="released").bags)
    stranger = bag_ref(make_lot(disposition="released", status="released", bags=1).bags[0])
    release_db()
    browser_sign_in(page, live_server, technician, "/shipments")

    # Create: the list leads to the form, the form to the new shipment's page.
    expect(page.get_by_test_id("shipments")).to_contain_text("No shipment has been created yet")
    page.get_by_role("link", name="New shipment").click()
    page.get_by_label("Destination site").fill("University Hospital")
    page.get_by_label("Courier company").fill("Cryo Couriers")
    page.get_by_label("Dry shipper ID").fill("DS-7")
    page.get_by_label("Temperature logger ID").fill("TL-0042")
    page.get_by_role("button", name="Create shipment").click()
    expect(page).to_have_url(re.compile(r"/shipments/SHP-\d{4}-0001$"))
    code = page.url.rsplit("/", 1)[1]
    expect(_status(page)).to_have_text("packing")
    expect(page.get_by_test_id("logger-id")).to_have_text("TL-0042")
    # Empty: no dispatch is offered, and the page says why.
    expect(page.get_by_test_id("dispatch-form")).to_have_count(0)
    expect(page.get_by_test_id("dispatch-blocked")).to_contain_text(f"Shipment {code} is empty")

    # Pack by scanning: the manifest grows with each scan; a bag can be taken out again.
    scan_into_page(page, first.scan)
    expect(scan_ok(page)).to_contain_text(f"Packed: {first.code}")
    expect(page.get_by_test_id("manifest-line")).to_have_count(1)
    scan_into_page(page, second.scan)
    expect(page.get_by_test_id("manifest-line")).to_have_count(2)
    _line(page, second.code).get_by_role("button", name="Unpack…").click()
    fill_note(page, "Label smudged: relabel first", "Unpack")
    expect(page.get_by_test_id("manifest-line")).to_have_count(1)
    scan_into_page(page, second.scan)
    expect(page.get_by_test_id("manifest-line")).to_have_count(2)

    # Dispatch with the courier handoff, signed with user ID and password.
    form = page.get_by_test_id("dispatch-form")
    form.get_by_label("Courier's person taking the shipper").fill("Sam Rivera")
    form.get_by_label("Condition of the shipper").fill("intact, sealed")
    form.get_by_label("Shipper temperature at handoff, °C").fill("-190")
    form.get_by_label("User ID").fill(technician)
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Sign and dispatch").click()
    expect(_status(page)).to_have_text("in transit")
    expect(page.get_by_test_id("handoff")).to_contain_text("Cryo Couriers (Sam Rivera)")
    expect(page.get_by_test_id("handoff-signature")).to_contain_text("Signed by Tess Okafor")

    # The logger file: chosen, read by the page, imported; its excursion is drawn.
    page.get_by_label("Logger file (CSV)").set_input_files(logger_file(tmp_path, GOOD_CSV))
    page.get_by_role("button", name="Import logger file").click()
    expect(page.get_by_test_id("temperature-chart")).to_be_visible()
    expect(page.get_by_test_id("excursion-summary")).to_contain_text("1 excursion above -150 °C")
    expect(page.get_by_test_id("import-blocked")).to_contain_text("already imported")

    # Receive by scanning: the counts follow each scan; receipt waits for the second bag.
    expect(page.get_by_test_id("expected-count")).to_have_text("2")
    scan_into_page(page, first.scan)
    expect(scan_ok(page)).to_contain_text(f"Scanned in: {first.code}")
    expect(page.get_by_test_id("received-count")).to_have_text("1")
    expect(page.get_by_test_id("unaccounted-count")).to_have_text("1")
    expect(page.get_by_test_id("complete-receipt")).to_have_count(0)
    expect(page.get_by_test_id("complete-receipt-blocked")).to_contain_text(second.code)

    # A bag of another shipment in this shipper: set apart, then recorded as unexpected.
    scan_into_page(page, stranger.scan)
    expect(page.get_by_test_id("scan-error")).to_contain_text("not on the manifest")
    unexpected = page.get_by_test_id("unexpected-scan")
    expect(unexpected).to_have_count(1)
    unexpected.get_by_role("button", name="Record as unexpected…").click()
    fill_note(page, "Found in the shipper, set apart in quarantine", "Record unexpected")
    expect(page.get_by_test_id("unexpected-scans")).to_be_hidden()

    # The second bag is not there: recorded missing, then receipt may be completed.
    _line(page, second.code).get_by_role("button", name="Record missing…").click()
    fill_note(page, "Not in the shipper at opening", "Record missing")
    expect(page.get_by_test_id("missing-count")).to_have_text("1")
    expect(page.get_by_test_id("unaccounted-count")).to_have_text("0")
    expect(page.get_by_test_id("discrepancy-counts")).to_have_text("2 open · 0 resolved")

    # Resolved as a record: "found and received" is not offered for a bag never scanned in.
    missing_row = page.locator('[data-testid="discrepancy"][data-number="2"]')
    missing_row.get_by_role("button", name="Resolve…").click()
    outcome = note_dialog(page).get_by_label("Outcome")
    expect(outcome.locator('option[value="found_and_received"]')).to_be_disabled()
    outcome.select_option("confirmed_lost")
    fill_note(page, "Courier confirmed the bag was never loaded", "Record resolution")
    expect(missing_row.get_by_test_id("resolution")).to_contain_text("Resolved: confirmed lost")
    expect(page.get_by_test_id("discrepancy-counts")).to_have_text("1 open · 1 resolved")

    page.get_by_role("button", name="Complete receipt").click()
    expect(_status(page)).to_have_text("received")
    expect(page.get_by_test_id("receive-card")).to_have_count(0)

    shipment = db.session.scalar(select(Shipment).where(Shipment.code == code))
    assert (shipment.status.value, shipment.logger_id, shipment.shipper_id) == (
        "received",
        "TL-0042",
        "DS-7",
    )
    kinds = db.session.scalars(
        select(ShipmentDiscrepancy.kind).where(ShipmentDiscrepancy.shipment_id == shipment.id)
    ).all()
    assert sorted(k.value for k in kinds) == ["missing", "unexpected"]
    (resolution,) = db.session.scalars(select(DiscrepancyResolution)).all()
    assert resolution.outcome.value == "confirmed_lost"
    assert resolution.reason == "Courier confirmed the bag was never loaded"
    signature = db.session.scalar(select(Signature).where(Signature.record_type == "shipment"))
    assert signature.printed_name == "Tess Okafor" and signature.record_id == shipment.id
    assert db.session.query(ShipmentTemperature).count() == 3
    release_db()


def test_a_malformed_logger_file_is_refused_with_its_line_and_nothing_is_stored(
    page, live_server, technician, make, make_lot, tmp_path
):
    code, _ = shipment_in_transit(make, make_lot, bags=1)
    browser_sign_in(page, live_server, technician, f"/shipments/{code}")

    page.get_by_label("Logger file (CSV)").set_input_files(logger_file(tmp_path, BAD_CSV))
    page.get_by_role("button", name="Import logger file").click()
    error = page.get_by_test_id("logger-error")
    expect(error).to_contain_text("nothing was stored")
    expect(error).to_contain_text("Line 3 of the logger file is not valid")
    expect(error).to_contain_text("temperature 'warm' is not a number")
    # Still offered: the corrected file may go in; no reading was kept.
    expect(page.get_by_role("button", name="Import logger file")).to_be_enabled()
    expect(page.get_by_test_id("temperature-chart")).to_have_count(0)
    assert db.session.query(ShipmentTemperature).count() == 0
    release_db()


def test_what_the_page_does_not_offer_the_server_refuses(page, live_server, make, make_lot):
    code, bags = shipment_in_transit(make, make_lot, bags=2)
    nurse = make.user("nurse", username="nia.site", name="Nia Site").username
    release_db()
    browser_sign_in(page, live_server, nurse, f"/shipments/{code}")

    # A nurse at the site may scan bags in, not import the lab's logger file.
    expect(page.get_by_test_id("receive-card").locator("#shipment-scan")).to_be_focused()
    expect(page.get_by_test_id("logger-form")).to_have_count(0)
    expect(page.get_by_test_id("import-blocked")).to_contain_text(
        "Only admin or technician may import a logger file; you are signed in as nurse."
    )
    # Receipt is not offered while bags are unaccounted for; the page names them.
    expect(page.get_by_role("button", name="Complete receipt")).to_have_count(0)
    blocked = page.get_by_test_id("complete-receipt-blocked")
    expect(blocked).to_contain_text(f"{bags[0].code}, {bags[1].code}")

    # The server refuses both, in the words the page showed.
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    headers = {"X-CSRFToken": csrf}
    receipt = page.request.post(f"{live_server}/api/v1/shipments/{code}/receipt", headers=headers)
    assert receipt.status == 409
    expect(blocked).to_contain_text(receipt.json()["error"]["message"])
    logger = page.request.post(
        f"{live_server}/api/v1/shipments/{code}/temperatures",
        headers={**headers, "Content-Type": "text/csv"},
        data=GOOD_CSV,
    )
    assert logger.status == 403

    # At the site on a portrait tablet: fingertip targets, nothing past the screen's edge.
    page.set_viewport_size(PORTRAIT)
    for path in (f"/shipments/{code}", "/shipments"):
        page.goto(f"{live_server}{path}")
        assert small_targets(page, "main") == [], path
        assert fits_width(page), path
