"""An infusion under way survives the page: the server remembers it, so a reload or another
tablet finds it from the recipient's wristband, and its end is recorded there.

On a touch tablet held upright (768 × 1024), as at a bed. What changed since the start (a
recall) is shown as a stop above the form, and never keeps the end from being recorded.
"""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from custody.extensions import db
from custody.models import Bag, Infusion, User
from custody.services.traceability.recalls import SignedRequest, raise_recall
from tests.factories import PASSWORD
from tests.web.bedside_steps import (
    bedside_of,
    check,
    scan,
    scan_both,
    sign_in_at_bedside,
    started_infusion,
)
from tests.web.conftest import release_db
from tests.web.tablet import LANDSCAPE, PORTRAIT, tablet


def _infusion(bag_code: str) -> Infusion:
    found = db.session.scalar(
        select(Infusion).join(Bag, Bag.id == Infusion.bag_id).where(Bag.code == bag_code)
    )
    release_db()
    return found


def _verify_in_the_browser(page, bedside, second) -> None:
    scan_both(page, bedside)
    panel = page.get_by_test_id("second-verifier")
    panel.get_by_label("Username").fill(second.username)
    panel.get_by_label("Password").fill(PASSWORD)
    panel.get_by_role("button", name="Confirm as second verifier").click()
    expect(page.get_by_test_id("verified-by")).to_be_visible()


def test_a_reload_finds_the_running_infusion_from_the_wristband_and_it_is_completed(
    browser, live_server, clinic, nurses
):
    first, second = nurses
    bag, recipient, _ = clinic.at_bedside()
    bedside = bedside_of(bag, recipient)
    release_db()
    page = tablet(browser, PORTRAIT)
    try:
        sign_in_at_bedside(page, live_server, first.username)
        _verify_in_the_browser(page, bedside, second)
        page.get_by_test_id("infusion-form").get_by_role("button", name="Infusion started").click()
        expect(page.get_by_test_id("infusion-running")).to_be_visible()

        # The page forgets everything; the server does not.
        page.reload()
        expect(page.get_by_test_id("infusion-running")).to_be_hidden()
        scan(page, "wristband-input", bedside.wristband)

        running = page.get_by_test_id("infusion-running")
        expect(running).to_be_visible()
        facts = page.get_by_test_id("running-facts")
        expect(facts).to_contain_text(f"{bedside.din_words} [{bedside.k}] · {bedside.product_code}")
        expect(facts).to_contain_text(f"by {first.name}")
        expect(facts).to_contain_text(f"{first.name} and {second.name}")
        expect(page.get_by_test_id("running-stops").locator("li")).to_have_count(0)
        expect(page.get_by_test_id("stop-overlay")).to_be_hidden()

        end = page.get_by_test_id("completion-form")
        end.get_by_label("Volume infused (mL)").fill("18")
        end.get_by_label("Reactions").fill("None")
        end.get_by_role("button", name="Record the end").click()
        expect(page.get_by_test_id("infusion-recorded")).to_contain_text("Infusion recorded")
    finally:
        page.context.close()

    infusion = _infusion(bedside.bag_code)
    assert infusion.ended_at is not None and infusion.volume_ml == 18
    assert infusion.interruption_reason is None


def test_another_tablet_shows_it_and_the_same_bag_scanned_again_is_no_stop(
    browser, live_server, clinic, nurses, make
):
    first, second = nurses
    bag, recipient, _ = clinic.at_bedside()
    bedside = bedside_of(bag, recipient)
    started_infusion(db.session.get(User, first.id), second.username, bag, recipient)
    release_db()
    page = tablet(browser, LANDSCAPE)
    try:
        sign_in_at_bedside(page, live_server, second.username)
        scan_both(page, bedside)

        expect(page.get_by_test_id("infusion-running")).to_be_visible()
        expect(page.get_by_test_id("running-bag-check")).to_contain_text(
            f"This is the bag being infused: {bedside.din_words} [{bedside.k}]"
        )
        expect(page.get_by_test_id("stop-overlay")).to_be_hidden()
        expect(check(page, "bag_label")).to_have_count(0)  # no second verification began
    finally:
        page.context.close()
    assert _infusion(bedside.bag_code).ended_at is None


def test_a_recall_since_the_start_is_a_stop_above_the_form_and_the_interruption_is_recorded(
    browser, live_server, clinic, nurses, make
):
    first, second = nurses
    bag, recipient, _ = clinic.at_bedside()
    bedside = bedside_of(bag, recipient)
    started_infusion(db.session.get(User, first.id), second.username, bag, recipient)
    quinn = make.user("qa", username="quinn.qa", name="Quinn QA")
    recall = raise_recall(
        quinn,
        "lot",
        bag.lot.lot_number,
        SignedRequest("Donor HIV NAT positive on look-back", quinn.username, PASSWORD),
    )
    release_db()
    page = tablet(browser, PORTRAIT)
    try:
        sign_in_at_bedside(page, live_server, first.username)
        scan(page, "wristband-input", bedside.wristband)

        stops = page.get_by_test_id("running-stops")
        expect(stops).to_contain_text("STOP the infusion: QA has recalled this product")
        expect(stops).to_contain_text(recall["code"])
        # The stop comes first, above the form that records what happened.
        form = page.get_by_test_id("completion-form")
        assert stops.bounding_box()["y"] < form.bounding_box()["y"]

        form.get_by_label("Volume infused (mL)").fill("6")
        form.get_by_test_id("interrupted").check()
        form.get_by_role("button", name="Record the end").click()
        expect(form.get_by_test_id("end-error")).to_have_text(
            "Say why the infusion was stopped early."
        )
        form.get_by_test_id("interruption-reason").fill("Stopped on the lab's call: lot recalled")
        form.get_by_role("button", name="Record the end").click()
        expect(page.get_by_test_id("infusion-recorded")).to_contain_text("Infusion stopped")
    finally:
        page.context.close()

    infusion = _infusion(bedside.bag_code)
    assert infusion.ended_at is not None and infusion.volume_ml == 6
    assert infusion.interruption_reason == "Stopped on the lab's call: lot recalled"
