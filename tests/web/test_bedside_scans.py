"""How the bedside reads what is scanned, on a touch tablet either way up: two linear barcodes
read one at a time are one label, a failed read is read again (the wristband kept, on this
screen, for two minutes at most), and a true mismatch is a stop that fits the screen and says
each failed check once.

Countdowns run on Playwright's clock (installed before the page loads), never on sleeps.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from custody.domain.isbt128 import check_character
from custody.domain.wristband import wristband_data
from custody.extensions import db
from custody.models import BedsideVerification
from tests.web.bedside_steps import bedside_of, check, scan, sign_in_at_bedside
from tests.web.conftest import release_db
from tests.web.tablet import LANDSCAPE, PORTRAIT, tablet, within_viewport

VIEWPORTS = pytest.mark.parametrize(
    "viewport", [PORTRAIT, LANDSCAPE], ids=["portrait", "landscape"]
)


def _attempts() -> int:
    count = db.session.scalar(select(func.count()).select_from(BedsideVerification))
    release_db()
    return count


@pytest.fixture
def at_bed(clinic, live_server):
    bag, recipient, _ = clinic.at_bedside()
    found = bedside_of(bag, recipient)
    release_db()
    return found


@pytest.mark.parametrize("din_first", [True, False], ids=["din-then-product", "product-then-din"])
def test_the_din_and_product_barcodes_read_one_at_a_time_are_one_label(
    browser, live_server, at_bed, nurses, din_first
):
    page = tablet(browser, PORTRAIT)
    try:
        sign_in_at_bedside(page, live_server, nurses[0].username)
        scan(page, "wristband-input", at_bed.wristband)
        first, then = (
            (at_bed.din_read, at_bed.product_read)
            if din_first
            else (at_bed.product_read, at_bed.din_read)
        )
        scan(page, "bag-input", first)

        # One half is no label: no check runs, nothing stops, the page asks for the other.
        pairing = page.get_by_test_id("bag-pairing")
        expect(pairing).to_contain_text(
            "now scan the product code (20 s)" if din_first else "now scan the DIN (20 s)"
        )
        expect(page.get_by_test_id("stop-overlay")).to_be_hidden()
        expect(page.get_by_test_id("verification")).to_be_hidden()
        assert _attempts() == 0

        scan(page, "bag-input", then)
        expect(pairing).to_be_hidden()
        expect(check(page, "recipient_identity")).to_have_attribute("data-state", "passed")
        expect(check(page, "bag_label")).to_have_attribute("data-state", "passed")
        expect(page.get_by_test_id("second-verifier")).to_be_visible()
        expect(page.get_by_test_id("stop-overlay")).to_be_hidden()
        # The DIN with its check character and the division, large, to match the bag in hand.
        expect(page.get_by_test_id("bag-read")).to_have_text(
            f"DIN {at_bed.din_words} [{at_bed.k}] · product {at_bed.product_code[:6]}"
            f" · division {at_bed.product_code[6:]}"
        )
    finally:
        page.context.close()
    assert _attempts() == 1


def test_a_read_between_the_halves_or_too_late_a_half_is_no_label(
    browser, live_server, at_bed, nurses
):
    page = tablet(browser, LANDSCAPE)
    try:
        page.clock.install()
        sign_in_at_bedside(page, live_server, nurses[0].username)
        scan(page, "wristband-input", at_bed.wristband)
        pairing = page.get_by_test_id("bag-pairing")

        # The DIN, then something else, then the product code: not one label's pair.
        scan(page, "bag-input", at_bed.din_read)
        scan(page, "bag-input", "SOMETHING-ELSE")
        expect(pairing).to_have_text(
            f"The DIN {at_bed.din_words} was not followed by the product code: scan the DIN "
            "and the product code again."
        )
        expect(page.get_by_test_id("rescan")).to_be_visible()  # the odd read, read again
        scan(page, "bag-input", at_bed.product_read)
        expect(pairing).to_contain_text("now scan the DIN (20 s)")
        expect(page.get_by_test_id("verification")).to_be_hidden()

        # The product code alone, and the DIN 21 seconds later: dropped, said, no stop.
        page.clock.fast_forward(12_000)
        expect(pairing).to_contain_text("(8 s)")
        page.clock.fast_forward(9_000)
        expect(pairing).to_contain_text(
            "No DIN was scanned within 20 s: scan the DIN and the product code again."
        )
        scan(page, "bag-input", at_bed.din_read)
        expect(pairing).to_contain_text("now scan the product code")
        expect(page.get_by_test_id("stop-overlay")).to_be_hidden()
        expect(page.get_by_test_id("second-verifier")).to_be_hidden()
    finally:
        page.context.close()


def test_a_garbled_bag_read_keeps_the_wristband_on_this_screen_for_two_minutes_only(
    browser, live_server, at_bed, nurses
):
    page = tablet(browser, PORTRAIT)
    try:
        page.clock.install()
        sign_in_at_bedside(page, live_server, nurses[0].username)
        # Time stands still but for the test's own steps: the two minutes are exact.
        paused = datetime.fromtimestamp(page.evaluate("Date.now()") / 1000 + 1, tz=UTC)
        page.clock.pause_at(paused)
        scan(page, "wristband-input", at_bed.wristband)
        scan(page, "bag-input", "=W99%%garbled")

        # Visible, not merely present: the panel's words are in the page before any answer.
        expect(page.get_by_test_id("rescan")).to_be_visible()
        expect(page.get_by_test_id("rescan-words")).to_contain_text("could not be read")
        expect(page.get_by_test_id("stop-overlay")).to_be_hidden()
        expect(page.get_by_test_id("wristband-read")).to_contain_text(at_bed.record_number)
        expect(page.locator("#bag-input")).to_be_focused()

        page.clock.run_for(119_999)
        expect(page.get_by_test_id("wristband-read")).to_contain_text(at_bed.record_number)
        page.clock.run_for(1)
        expect(page.get_by_test_id("wristband-read")).to_be_empty()
        expect(page.get_by_test_id("verify-error")).to_have_text(
            "The wristband was cleared after 2 minutes: scan the patient's wristband again."
        )
        expect(page.locator("#wristband-input")).to_be_focused()
    finally:
        page.context.close()

    # Never carried to another device: a fresh tablet starts with nothing read.
    other = tablet(browser, PORTRAIT)
    try:
        sign_in_at_bedside(other, live_server, nurses[1].username)
        expect(other.get_by_test_id("wristband-read")).to_be_empty()
    finally:
        other.context.close()


@VIEWPORTS
def test_a_wrong_patient_stop_fits_the_screen_and_says_each_failure_once(
    browser, live_server, clinic, nurses, viewport
):
    bag, recipient, _ = clinic.at_bedside()
    other = clinic.recipient(name="Other Patient")
    bedside = bedside_of(bag, recipient)
    other_band = wristband_data(other.hospital_record_number, other.birth_date)
    release_db()
    page = tablet(browser, viewport)
    try:
        sign_in_at_bedside(page, live_server, nurses[0].username)
        scan(page, "wristband-input", other_band)
        scan(page, "bag-input", bedside.bag_scan)

        overlay = page.get_by_test_id("stop-overlay")
        expect(overlay).to_be_visible()
        assert within_viewport(page, overlay.get_by_role("heading", name="STOP"))
        assert within_viewport(page, overlay.get_by_role("button", name="Start again"))
        reason = page.get_by_test_id("stop-reason").inner_text()
        lines = page.get_by_test_id("stop-checks").locator("li").all_inner_texts()
        assert "the wristband is for another patient" in reason
        assert len(lines) == len(set(lines)) and reason not in lines
        assert not any("Not checked" in line for line in lines)
    finally:
        page.context.close()


def test_an_unknown_but_well_formed_din_is_a_stop_not_a_read_to_do_again(
    browser, live_server, at_bed, nurses
):
    unknown = "W999926999999"
    page = tablet(browser, LANDSCAPE)
    try:
        sign_in_at_bedside(page, live_server, nurses[0].username)
        scan(page, "wristband-input", at_bed.wristband)
        scan(page, "bag-input", f"={unknown}00=<{at_bed.product_code}")

        overlay = page.get_by_test_id("stop-overlay")
        expect(overlay).to_be_visible()
        expect(page.get_by_test_id("rescan")).to_be_hidden()
        expect(page.get_by_test_id("stop-reason")).to_contain_text(
            re.compile(r"W9999 ?26 ?999999|no bag", re.I)
        )
        overlay.get_by_role("button", name="Start again").click()
        # A true mismatch restarts everything: the wristband too.
        expect(page.get_by_test_id("wristband-read")).to_be_empty()
        expect(page.locator("#wristband-input")).to_be_focused()
    finally:
        page.context.close()
    assert check_character(unknown)  # a DIN the standard accepts, just not ours


@VIEWPORTS
def test_the_countdown_and_the_patient_stay_in_view_while_the_second_nurse_signs(
    browser, live_server, at_bed, nurses, viewport
):
    page = tablet(browser, viewport)
    try:
        sign_in_at_bedside(page, live_server, nurses[0].username)
        scan(page, "wristband-input", at_bed.wristband)
        scan(page, "bag-input", at_bed.bag_scan)
        panel = page.get_by_test_id("second-verifier")
        password = panel.get_by_label("Password")
        password.focus()
        password.scroll_into_view_if_needed()
        assert within_viewport(page, password)
        assert within_viewport(page, page.get_by_test_id("countdown"))
        assert within_viewport(page, page.get_by_test_id("identity"))
        expect(page.get_by_test_id("identity")).to_contain_text(at_bed.recipient_name)
    finally:
        page.context.close()
