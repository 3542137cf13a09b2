"""The clinic pages on a nurse's tablet in Chromium, either way up: every button and link a
fingertip wide, nothing cut off (the allocation's state above all), and the infusions under way
listed on the dashboard from the server's records."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from custody.extensions import db
from custody.models import User
from tests.web.bedside_steps import started_infusion
from tests.web.conftest import browser_sign_in, release_db
from tests.web.tablet import LANDSCAPE, PORTRAIT, fits_width, small_targets, tablet, within_viewport


@pytest.mark.parametrize("viewport", [PORTRAIT, LANDSCAPE], ids=["portrait", "landscape"])
def test_the_dashboard_lists_the_running_infusion_and_every_target_is_large(
    browser, live_server, clinic, nurses, viewport
):
    first, second = nurses
    bag, recipient, _ = clinic.at_bedside()
    started_infusion(db.session.get(User, first.id), second.username, bag, recipient)
    waiting = clinic.recipient(status="lymphodepletion")
    subject, bag_code, waiting_subject = recipient.subject_id, bag.code, waiting.subject_id
    release_db()
    page = tablet(browser, viewport)
    try:
        browser_sign_in(page, live_server, first.username, "/clinic")
        running = page.get_by_test_id("in-progress-row")
        expect(running).to_have_count(1)
        expect(running).to_have_attribute("data-subject", subject)
        expect(running).to_have_attribute("data-bag", bag_code)
        expect(running).to_contain_text(
            f"{first.name} (verified by {first.name} and {second.name})"
        )
        expect(page.get_by_test_id("needs-bag-row")).to_have_count(1)
        expect(page.get_by_test_id("needs-bag-row")).to_have_attribute(
            "data-subject", waiting_subject
        )
        assert small_targets(page) == []
        assert fits_width(page)
    finally:
        page.context.close()


def test_no_infusion_running_is_said(browser, live_server, nurses):
    page = tablet(browser, PORTRAIT)
    try:
        browser_sign_in(page, live_server, nurses[0].username, "/clinic")
        expect(page.get_by_test_id("in-progress-none")).to_have_text("No infusion is running.")
    finally:
        page.context.close()


@pytest.mark.parametrize("viewport", [PORTRAIT, LANDSCAPE], ids=["portrait", "landscape"])
def test_the_recipient_page_shows_every_column_of_an_allocation_on_a_tablet(
    browser, live_server, clinic, make, viewport
):
    recipient = clinic.recipient()
    (bag,) = clinic.released_bags(1)
    clinic.allocate(bag, recipient)
    qa = make.user("qa", username="quinn.qa").username  # sees the de-allocate form too
    subject = recipient.subject_id
    release_db()
    page = tablet(browser, viewport)
    try:
        browser_sign_in(page, live_server, qa, f"/clinic/recipients/{subject}")
        state = page.get_by_test_id("allocation-state")
        expect(state).to_have_text("active")
        state.scroll_into_view_if_needed()
        assert within_viewport(page, state)
        assert small_targets(page) == []
        assert fits_width(page)
    finally:
        page.context.close()
