"""QA at the bench (1280×800): a lot's blockers are all on the page before any dialog opens.

A sign button the server would refuse is disabled, every reason beside it with who clears it,
and it opens nothing; a QA person who entered a result reads that a different QA person must
sign before trying; what the dialog itself asks (reason, pending results, donor statements) is
listed as "to do in the dialog" and done there.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from custody.extensions import db
from custody.models import Disposition, Lot
from tests.factories import PASSWORD
from tests.release_states import POTENCY, STERILITY, VIABILITY, enter_results, small_specification
from tests.web.conftest import browser_sign_in, release_db

BENCH = {"width": 1280, "height": 800}
MIN_TARGET_PX = 44


def _offer(page: Page, name: str):
    return page.locator(f'[data-testid="offer"][data-offer="{name}"]')


def _disposition(lot_number: str) -> Disposition:
    db.session.expire_all()
    found = db.session.query(Lot).filter_by(lot_number=lot_number).one().disposition
    release_db()
    return found


def test_a_blocked_lot_lists_every_blocker_beside_a_disabled_button(
    page, live_server, make, make_lot
):
    make.user("qa", username="quinn")
    small_specification(make.user("qa"))
    lot = make_lot(eligibility="pending").lot_number
    enter_results(lot, make.user("technician"), skip=("potency",), viability=55.0)
    release_db()
    page.set_viewport_size(BENCH)

    browser_sign_in(page, live_server, "quinn", f"/qa/lots/{lot}")

    release = page.get_by_role("button", name="Release…", exact=True)
    expect(release).to_be_disabled()
    expect(_offer(page, "release").get_by_test_id("blocker")).to_have_text(
        [
            f"Donor eligibility behind lot {lot} has not been determined: QA determines it "
            "before the lot can be released. Who clears it: QA determines the donor's "
            "eligibility once the donor's tests are in.",
            f"{VIABILITY} is out of specification. Who clears it: QC corrects the {VIABILITY} "
            "result if it was entered wrongly; otherwise QA rejects the lot, or releases it "
            "exceptionally at a physician's request.",
            f"{POTENCY} has no result. Who clears it: QC enters the {POTENCY} result.",
        ]
    )
    exceptional = _offer(page, "exceptional_release").get_by_test_id("blocker")
    expect(exceptional).to_have_count(2)
    expect(exceptional.nth(1)).to_contain_text("viability has no investigation note")
    expect(page.get_by_role("button", name="Conditional release…")).to_be_disabled()
    expect(page.get_by_role("button", name="Reject…")).to_be_enabled()
    box = release.bounding_box()
    assert box["height"] >= MIN_TARGET_PX and box["width"] >= MIN_TARGET_PX
    # The reasons fit the bench screen: nothing runs off to the side.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    release.click(force=True)  # a disabled button opens nothing
    expect(page.get_by_test_id("sign-dialog")).to_be_hidden()
    assert _disposition(lot) is Disposition.QUARANTINE


def test_a_qa_person_who_entered_a_result_reads_who_must_sign_before_any_dialog(
    page, live_server, make, make_lot
):
    qa = make.user("qa", username="quinn")
    small_specification(make.user("qa"))
    lot = make_lot().lot_number
    enter_results(lot, qa)
    release_db()
    page.set_viewport_size(BENCH)

    browser_sign_in(page, live_server, "quinn", f"/qa/lots/{lot}")

    expect(page.get_by_test_id("release-ready")).to_be_visible()  # the results are fine
    expect(page.get_by_role("button", name="Release…", exact=True)).to_be_disabled()
    expect(_offer(page, "release").get_by_test_id("blocker")).to_have_text(
        [
            f"You entered the potency, sterility, viability result of lot {lot}: a different "
            "QA person must sign its release. Who clears it: A QA person other than you signs "
            "the release; you may still reject the lot."
        ]
    )
    expect(page.get_by_test_id("sign-dialog")).to_be_hidden()
    # A rejection is still theirs to sign, and it is the dialog's only choice.
    page.get_by_role("button", name="Reject…").click()
    dialog = page.get_by_test_id("sign-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("radio")).to_have_count(1)
    expect(dialog.get_by_label("Reject")).to_be_checked()


def test_what_the_dialog_asks_is_listed_then_done_there_and_signed(
    page, live_server, make, make_lot
):
    make.user("qa", username="quinn")
    small_specification(make.user("qa"))
    lot = make_lot(eligibility="incomplete").lot_number
    enter_results(lot, make.user("technician"), skip=("sterility",))
    release_db()
    page.set_viewport_size(BENCH)

    browser_sign_in(page, live_server, "quinn", f"/qa/lots/{lot}")

    conditional = _offer(page, "conditional_release")
    expect(conditional.get_by_test_id("blocker")).to_have_count(0)
    expect(conditional.get_by_test_id("dialog-to-do")).to_have_text(
        [
            "You write the reason in the signing dialog.",
            "You acknowledge the donor-eligibility statements in the signing dialog.",
            f"You tick {STERILITY} as pending in the signing dialog.",
        ]
    )
    page.get_by_role("button", name="Conditional release…").click()
    dialog = page.get_by_test_id("sign-dialog")
    expect(dialog.get_by_test_id("sign-meaning")).to_have_text("Approved for conditional release")
    dialog.get_by_label(re.compile("^Reason")).fill("Urgent: recipient in lymphodepletion")
    dialog.get_by_label(STERILITY).check()
    dialog.get_by_label(re.compile("I acknowledge the donor-eligibility statements")).check()
    dialog.get_by_label("User ID").fill("quinn")
    dialog.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        dialog.get_by_role("button", name="Sign", exact=True).click()
    expect(page.get_by_test_id("lot-disposition")).to_have_text("CONDITIONALLY RELEASED")
    assert _disposition(lot) is Disposition.CONDITIONALLY_RELEASED
