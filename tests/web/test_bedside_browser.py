"""The bedside page in a real browser: two nurses, a wristband, a bag, and the infusion record.

Scans are typed with the keyboard into whatever has focus, then Enter, as a keyboard-wedge
scanner does: if the page lost the focus between the wristband and the bag, the test fails.
The data is real (a released, allocated, received and thawed bag), the API is the real one,
and the outcome is read back from the database.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from custody.domain.isbt128 import check_character
from custody.domain.wristband import wristband_data
from custody.extensions import db
from custody.models import Bag, BedsideVerification, Infusion, Thaw
from tests.factories import PASSWORD
from tests.web.bedside_steps import bedside_of, check, scan, scan_both, sign_in_at_bedside
from tests.web.conftest import release_db

MIN_TARGET_PX = 48
USE_WITHIN = re.compile(r"^Use within (\d+):(\d\d)$")


def _seconds(text: str) -> int:
    match = USE_WITHIN.match(text)
    assert match, text
    return int(match.group(1)) * 60 + int(match.group(2))


def test_two_nurses_verify_and_record_the_infusion(page, live_server, clinic, nurses):
    first, second = nurses
    bag, recipient, _ = clinic.at_bedside()
    bedside = bedside_of(bag, recipient)
    release_db()
    sign_in_at_bedside(page, live_server, first.username)

    scan_both(page, bedside)

    for name in ("wristband", "bag_label", "recipient_identity", "lot_released", "thaw_window"):
        expect(check(page, name)).to_have_attribute("data-state", "passed")
    expect(check(page, "recipient_identity")).to_contain_text("Right patient")
    expect(check(page, "lot_released")).to_contain_text("Lot released by QA")
    expect(check(page, "second_verifier")).to_have_attribute("data-state", "waiting")
    expect(page.get_by_test_id("identity")).to_contain_text(bedside.recipient_name)
    panel = page.get_by_test_id("second-verifier")
    expect(panel).to_contain_text("Second verifier — enter your own credentials")
    expect(page.get_by_role("button", name="Infusion started")).to_have_count(0)

    # A wrong password is refused in words, and the second nurse may try again.
    panel.get_by_label("Username").fill(second.username)
    panel.get_by_label("Password").fill("not-my-password")
    panel.get_by_role("button", name="Confirm as second verifier").click()
    expect(page.get_by_test_id("second-error")).to_contain_text(re.compile(r"password", re.I))
    expect(panel.get_by_label("Password")).to_have_value("")
    expect(page.get_by_role("button", name="Infusion started")).to_have_count(0)

    panel.get_by_label("Password").fill(PASSWORD)
    panel.get_by_role("button", name="Confirm as second verifier").click()

    expect(page.get_by_test_id("verified-by")).to_have_text(
        f"Verified by {first.name} and {second.name}."
    )
    expect(page.locator('[data-testid^="check-"]')).to_have_count(16)
    expect(page.locator('[data-testid^="check-"]:not([data-state="passed"])')).to_have_count(0)
    expect(panel).to_be_hidden()

    start = page.get_by_test_id("infusion-form")
    start.get_by_label("Reactions so far").fill("none")
    start.get_by_role("button", name="Infusion started").click()
    # What runs now is the server's record, shown as any tablet would show it.
    running = page.get_by_test_id("infusion-running")
    expect(running).to_be_visible()
    expect(page.get_by_test_id("running-facts")).to_contain_text(f"by {first.name}")
    expect(page.get_by_test_id("verification")).to_be_hidden()
    end = page.get_by_test_id("completion-form")
    end.get_by_label("Volume infused (mL)").fill("19.5")
    end.get_by_label("Reactions").fill("Mild chills at 10 minutes, resolved.")
    end.get_by_role("button", name="Record the end").click()
    expect(page.get_by_test_id("infusion-recorded")).to_contain_text("Infusion recorded")

    infused = db.session.scalar(select(Bag).where(Bag.code == bedside.bag_code))
    record = db.session.scalar(select(Infusion).where(Infusion.bag_id == infused.id))
    assert infused.status.value == "infused"
    assert {record.first_verifier_id, record.second_verifier_id} == {first.id, second.id}
    assert record.ended_at is not None and record.volume_ml == 19.5
    assert "Mild chills" in record.reactions


def test_wrong_patient_is_a_full_screen_stop_with_one_way_out(page, live_server, clinic, nurses):
    bag, recipient, _ = clinic.at_bedside()
    other = clinic.recipient(name="Other Patient")
    bedside = bedside_of(bag, recipient)
    other_band = wristband_data(other.hospital_record_number, other.birth_date)
    other_number = other.hospital_record_number
    release_db()
    sign_in_at_bedside(page, live_server, nurses[0].username)

    scan_both(page, bedside, wristband=other_band)

    overlay = page.get_by_test_id("stop-overlay")
    expect(overlay).to_be_visible()
    expect(overlay).to_contain_text("Do not infuse")
    reason = page.get_by_test_id("stop-reason")
    expect(reason).to_contain_text("the wristband is for another patient")
    expect(reason).to_contain_text(bedside.recipient_name)
    expect(overlay).to_contain_text(other_number)
    box = overlay.bounding_box()
    assert box == {"x": 0, "y": 0, "width": 1024, "height": 768}
    # No override of any kind: the only button on the stop is "Start again".
    expect(overlay.get_by_role("button")).to_have_text(["Start again"])
    expect(page.get_by_role("button", name="Infusion started")).to_have_count(0)
    expect(page.get_by_test_id("second-verifier")).to_be_hidden()
    # Another scan's Enter does not clear a stop: only the button does.
    page.keyboard.type(bedside.wristband)
    page.keyboard.press("Enter")
    expect(overlay).to_be_visible()
    # Nothing behind it can be reached by Tab either: not the page, not the navigation bar.
    for _ in range(6):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.closest('#stop') !== null")
        assert focused, page.evaluate("document.activeElement.outerHTML")

    overlay.get_by_role("button", name="Start again").click()
    expect(overlay).to_be_hidden()
    expect(page.locator("#wristband-input")).to_be_focused()
    expect(page.get_by_test_id("wristband-read")).to_be_empty()
    expect(page.get_by_test_id("verification")).to_be_hidden()

    still = db.session.scalar(select(Bag).where(Bag.code == bedside.bag_code))
    assert still.status.value == "thawed"
    assert db.session.scalar(select(func.count()).select_from(Infusion)) == 0


def _incomplete_donor_at_bedside(clinic, quality, make_lot):
    """A bag of a donor whose eligibility is incomplete, released by QA with its statements
    acknowledged (urgent medical need), then allocated, received and thawed."""
    if quality.specification_missing():
        quality.specification()
    lot = make_lot(bags=1, eligibility="incomplete")
    quality.results(lot.lot_number)
    quality.sign(lot.lot_number, statements_acknowledged=True)
    bag = lot.bags[0]
    recipient = clinic.recipient()
    clinic._set_status(bag, "released")
    allocation = clinic.allocate(bag, recipient)
    clinic.receive(bag, recipient.site)
    clinic.thaw(bag, allocation)
    return bag, recipient


def test_eligibility_warnings_are_acknowledged_before_the_second_nurse_signs(
    page, live_server, clinic, quality, make_lot, nurses
):
    first, second = nurses
    bag, recipient = _incomplete_donor_at_bedside(clinic, quality, make_lot)
    bedside = bedside_of(bag, recipient)
    release_db()
    sign_in_at_bedside(page, live_server, first.username)

    scan_both(page, bedside)

    warnings = page.get_by_test_id("warnings")
    expect(warnings).to_be_visible()
    expect(warnings.locator("li")).not_to_have_count(0)
    expect(check(page, "eligibility_warnings")).to_have_attribute("data-state", "waiting")
    panel = page.get_by_test_id("second-verifier")
    panel.get_by_label("Username").fill(second.username)
    panel.get_by_label("Password").fill(PASSWORD)
    panel.get_by_role("button", name="Confirm as second verifier").click()
    expect(page.get_by_test_id("second-error")).to_contain_text("Tick the box")
    expect(page.get_by_test_id("verified-by")).to_be_hidden()

    page.get_by_label("I have advised the patient / acknowledge").check()
    panel.get_by_role("button", name="Confirm as second verifier").click()

    expect(page.get_by_test_id("verified-by")).to_be_visible()
    expect(check(page, "eligibility_warnings")).to_have_attribute("data-state", "passed")
    expect(check(page, "eligibility_warnings")).to_contain_text("Acknowledged")


def test_post_thaw_countdown_counts_down(page, live_server, clinic, nurses):
    bag, recipient, _ = clinic.at_bedside()  # thawed 5 minutes ago, 60-minute window
    bedside = bedside_of(bag, recipient)
    release_db()
    sign_in_at_bedside(page, live_server, nurses[0].username)

    scan_both(page, bedside)

    countdown = page.get_by_test_id("countdown")
    expect(countdown).to_have_text(USE_WITHIN)
    before = _seconds(countdown.inner_text())
    page.wait_for_timeout(1500)
    after = _seconds(countdown.inner_text())
    assert 50 * 60 < after < before <= 55 * 60
    expect(countdown).to_have_attribute("data-level", "ok")


def test_countdown_turns_amber_in_the_last_ten_minutes(page, live_server, clinic, nurses):
    bag, recipient, allocation = clinic.at_bedside(thawed=False)
    clinic.thaw(bag, allocation, minutes_ago=55)
    bedside = bedside_of(bag, recipient)
    release_db()
    sign_in_at_bedside(page, live_server, nurses[0].username)

    scan_both(page, bedside)

    countdown = page.get_by_test_id("countdown")
    expect(countdown).to_have_text(USE_WITHIN)
    assert _seconds(countdown.inner_text()) <= 5 * 60
    expect(countdown).to_have_attribute("data-level", "amber")


def test_countdown_reaching_zero_stops_the_infusion(page, live_server, clinic, nurses):
    bag, recipient, allocation = clinic.at_bedside(thawed=False)
    clinic.thaw(bag, allocation, minutes_ago=60 - 15 / 60)  # 15 seconds of the window left
    bedside = bedside_of(bag, recipient)
    release_db()
    sign_in_at_bedside(page, live_server, nurses[0].username)

    scan_both(page, bedside)

    overlay = page.get_by_test_id("stop-overlay")
    expect(overlay).to_be_visible(timeout=40_000)
    expect(overlay).to_contain_text("Do not infuse")
    expect(overlay.get_by_role("button")).to_have_text(["Start again"])
    expect(page.get_by_role("button", name="Infusion started")).to_have_count(0)


def test_typed_wristband_and_bag_are_verified_like_scans(page, live_server, clinic, nurses):
    bag, recipient, _ = clinic.at_bedside()
    din, product, number = bag.din, bag.product_code, recipient.hospital_record_number
    born = recipient.birth_date.isoformat()
    k = check_character(din)
    release_db()
    sign_in_at_bedside(page, live_server, nurses[0].username)

    page.get_by_text("Wristband will not scan? Type it").click()
    page.get_by_label("Hospital record number").fill(number)
    page.get_by_label("Date of birth").fill(born)
    page.locator("#wristband-typed").click()
    expect(page.get_by_test_id("wristband-read")).to_contain_text(number)

    page.get_by_text("Label will not scan? Type it").click()
    page.get_by_label("DIN", exact=True).fill(f"{din[:5]} {din[5:7]} {din[7:]}")
    page.get_by_label("Check (boxed)").fill(k)
    page.get_by_label("Product code", exact=True).fill(product)
    # Typed by hand only with the reason, which is kept with the check.
    page.locator("#bag-typed").click()
    expect(page.get_by_test_id("verify-error")).to_contain_text("Say why the label is typed")
    page.get_by_label("Why it is typed, not scanned").fill("Label wet, scanner cannot read it")
    page.locator("#bag-typed").click()

    expect(check(page, "recipient_identity")).to_have_attribute("data-state", "passed")
    expect(check(page, "bag_label")).to_have_attribute("data-state", "passed")
    expect(page.get_by_test_id("second-verifier")).to_be_visible()
    attempt = db.session.scalars(select(BedsideVerification)).one()
    assert attempt.typed_reason == "Label wet, scanner cannot read it"


def test_a_wrong_check_character_asks_to_type_again_and_is_no_stop(
    page, live_server, clinic, nurses
):
    bag, recipient, _ = clinic.at_bedside()
    bedside = bedside_of(bag, recipient)
    wrong = next(c for c in "ABCDEFGH" if c != check_character(bag.din))
    release_db()
    sign_in_at_bedside(page, live_server, nurses[0].username)

    scan(page, "wristband-input", bedside.wristband)
    page.get_by_text("Label will not scan? Type it").click()
    page.get_by_label("DIN", exact=True).fill(bag.din)
    page.get_by_label("Check (boxed)").fill(wrong)
    page.get_by_label("Product code", exact=True).fill(bag.product_code)
    page.get_by_label("Why it is typed, not scanned").fill("Label torn")
    page.locator("#bag-typed").click()

    rescan = page.get_by_test_id("rescan")
    expect(rescan).to_contain_text("Could not read — scan again")
    expect(page.get_by_test_id("rescan-words")).to_contain_text(
        re.compile(r"check character", re.I)
    )
    expect(page.get_by_test_id("stop-overlay")).to_be_hidden()
    # The wristband already read stays: only the bag is read again.
    expect(page.get_by_test_id("wristband-read")).to_contain_text(recipient.hospital_record_number)
    expect(page.locator("#bag-input")).to_be_focused()
    scan(page, "bag-input", bedside.bag_scan)
    expect(rescan).to_be_hidden()
    expect(check(page, "recipient_identity")).to_have_attribute("data-state", "passed")
    expect(page.get_by_test_id("second-verifier")).to_be_visible()


def test_thaw_panel_starts_and_ends_the_thaw_and_shows_the_window(
    page, live_server, clinic, nurses
):
    bag, recipient, _ = clinic.at_bedside(thawed=False)
    bedside = bedside_of(bag, recipient)
    release_db()
    sign_in_at_bedside(page, live_server, nurses[0].username)

    page.get_by_role("button", name="Thaw", exact=True).click()
    scan(page, "thaw-input", bedside.bag_scan)
    expect(page.get_by_test_id("thaw-bag")).to_contain_text("RECEIVED")
    expect(page.get_by_test_id("thaw-status")).to_contain_text("not been put in the thawer")

    page.get_by_role("button", name="Start thaw").click()
    expect(page.get_by_test_id("thaw-status")).to_contain_text("Thawing since")
    expect(page.get_by_test_id("thaw-countdown")).to_be_hidden()
    # A bag is thawed once: a second start is refused in the server's words.
    page.get_by_role("button", name="Start thaw").click()
    expect(page.get_by_test_id("thaw-error")).to_contain_text("already started")

    page.get_by_role("button", name="Thaw complete").click()
    expect(page.get_by_test_id("thaw-bag")).to_contain_text("THAWED")
    countdown = page.get_by_test_id("thaw-countdown")
    expect(countdown).to_have_text(USE_WITHIN)
    assert 59 * 60 <= _seconds(countdown.inner_text()) <= 60 * 60
    expect(page.get_by_test_id("thaw-error")).to_be_empty()

    thawed = db.session.scalar(select(Bag).where(Bag.code == bedside.bag_code))
    assert thawed.status.value == "thawed"
    thaw = db.session.scalar(select(Thaw).where(Thaw.bag_id == thawed.id))
    assert thaw.ended_by_id == nurses[0].id and thaw.use_by is not None


@pytest.mark.parametrize("viewport", [(1024, 768), (768, 1024)], ids=["landscape", "portrait"])
def test_touch_targets_are_large_and_nothing_scrolls_sideways(page, live_server, nurses, viewport):
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    sign_in_at_bedside(page, live_server, nurses[0].username)
    page.get_by_text("Label will not scan? Type it").click()

    targets = page.locator(
        "#bedside button:visible, #bedside input:visible, #bedside summary, #bedside a:visible, "
        "header a:visible, header button:visible"
    )
    assert targets.count() >= 12
    for i in range(targets.count()):
        box = targets.nth(i).bounding_box()
        assert box["height"] >= MIN_TARGET_PX, targets.nth(i).evaluate("e => e.outerHTML")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport[0]
