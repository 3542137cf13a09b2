"""QA's pages: the review queue, a lot's review page, and signing a disposition in a browser.

The browser tests drive headless Chromium through the signing dialog, the way QA works:
open the queue, open the lot, sign with a re-entered password, open the certificate. The
server-rendered tests read the lot page with the Flask test client: it needs no JavaScript
to show verdicts, corrections and signatures, so what the server renders is what QA reads.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader
from sqlalchemy import select

from custody.extensions import db
from custody.models import Allocation, Disposition, Lot
from custody.models.base import utcnow
from custody.services.core.audit_trail import acting_as
from custody.services.manufacturing.batch_record import StepRequest, record_step
from custody.services.quality.results import ResultRequest, correct_result, enter_result
from custody.web.qa_pages import signing_actions
from tests.factories import PASSWORD
from tests.web.conftest import browser_sign_in, release_db
from tests.web.test_bag_page import Marked, sign_in

MIN_TARGET_PX = 44
POTENCY = "Potency: cytotoxicity vs CD33+ targets"


def _open_dialog(page: Page, action: str):
    page.get_by_role("button", name=f"{action}…", exact=True).click()
    dialog = page.get_by_test_id("sign-dialog")
    expect(dialog).to_be_visible()
    return dialog


def _sign(dialog, username: str, password: str) -> None:
    dialog.get_by_label("User ID").fill(username)
    dialog.get_by_label("Password").fill(password)
    dialog.get_by_role("button", name="Sign", exact=True).click()


def _disposition(lot_number: str) -> Disposition:
    db.session.expire_all()
    found = db.session.scalar(select(Lot.disposition).where(Lot.lot_number == lot_number))
    release_db()
    return found


# --- in the browser ---------------------------------------------------------------------------


def test_qa_releases_a_lot_with_an_e_signature_then_opens_its_certificate(
    page, live_server, quality, make, make_lot
):
    quality.specification()
    lot_number = make_lot().lot_number
    quality.results(lot_number)  # by an analyst: a different person from the signer
    qa = make.user("qa", username="quinn.qa", name="Quinn Adeyemi")
    username = qa.username
    release_db()

    browser_sign_in(page, live_server, username, "/")
    page.get_by_role("link", name="Open the QA review queue").click()
    entry = page.locator(f'[data-testid="queue-entry"][data-lot="{lot_number}"]')
    expect(entry.get_by_test_id("queue-readiness")).to_contain_text("Ready for signature")
    entry.get_by_role("link", name=lot_number).click()
    expect(page).to_have_url(f"{live_server}/qa/lots/{lot_number}")
    expect(page.get_by_test_id("lot-disposition")).to_have_text("QUARANTINE")
    expect(page.get_by_test_id("release-ready")).to_be_visible()
    expect(page.get_by_test_id("certificate-link")).to_have_count(0)

    # Keyboard: the dialog opens on the chosen action and Escape closes it unsigned.
    dialog = _open_dialog(page, "Release")
    expect(dialog.get_by_label("Release", exact=True)).to_be_checked()
    expect(dialog.get_by_label("Release", exact=True)).to_be_focused()
    expect(dialog.get_by_test_id("sign-meaning")).to_have_text("Approved for release")
    expect(dialog.get_by_test_id("part11-statement")).to_contain_text(
        "legally binding equivalent of my handwritten signature"
    )
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    dialog = _open_dialog(page, "Release")
    for button in (
        dialog.get_by_role("button", name="Sign"),
        dialog.get_by_role("button", name="Cancel"),
    ):
        box = button.bounding_box()
        assert box["height"] >= MIN_TARGET_PX and box["width"] >= MIN_TARGET_PX

    # A wrong password: refused in words, nothing signed, the password field cleared.
    _sign(dialog, username, "not my password")
    expect(dialog.get_by_test_id("sign-error")).to_contain_text("The password is not correct")
    expect(dialog.get_by_label("Password")).to_have_value("")
    expect(dialog.get_by_label("Password")).to_be_focused()
    assert _disposition(lot_number) is Disposition.QUARANTINE

    # The right one: the page reloads with the lot released and the signature shown.
    dialog.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        dialog.get_by_role("button", name="Sign", exact=True).click()
    expect(page.get_by_test_id("lot-disposition")).to_have_text("RELEASED")
    manifestation = page.get_by_test_id("signature-manifestation")
    expect(manifestation).to_contain_text("Approved for release")
    expect(manifestation).to_contain_text("Signed by Quinn Adeyemi (quinn.qa)")
    expect(page.get_by_test_id("signature-invalid")).to_have_count(0)
    assert _disposition(lot_number) is Disposition.RELEASED

    # The certificate is one click away, and it carries the signature's meaning.
    link = page.get_by_test_id("certificate-link")
    expect(link).to_be_visible()
    with page.context.expect_page() as opened:
        link.click()
    certificate = opened.value
    response = certificate.request.get(certificate.url)
    assert certificate.url == f"{live_server}/api/v1/lots/{lot_number}/certificate.pdf"
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    pages = PdfReader(io.BytesIO(response.body())).pages
    text = " ".join(" ".join(p.extract_text() for p in pages).split())  # lines may wrap
    assert f"Lot number {lot_number}" in text
    assert "Electronically signed by Quinn Adeyemi (quinn.qa)" in text
    assert "Meaning: Approved for release" in text


def test_a_lot_with_a_missing_result_shows_what_blocks_it_and_offers_no_release(
    page, live_server, quality, make, make_lot
):
    quality.specification()
    lot_number = make_lot().lot_number
    quality.results(lot_number, skip=("potency",))
    username = make.user("qa").username
    release_db()

    browser_sign_in(page, live_server, username, "/qa")
    entry = page.locator(f'[data-testid="queue-entry"][data-lot="{lot_number}"]')
    expect(entry.get_by_test_id("queue-readiness")).to_contain_text(f"{POTENCY} has no result")
    entry.get_by_role("link", name=lot_number).click()
    expect(page.get_by_test_id("release-problems")).to_contain_text(f"{POTENCY} has no result")
    potency = page.locator('[data-testid="result-row"][data-test="potency"]')
    expect(potency.get_by_test_id("verdict")).to_contain_text("PENDING")

    # The release the server would refuse is not offered: disabled, its reason beside it.
    expect(page.get_by_role("button", name="Release…", exact=True)).to_be_disabled()
    release = page.locator('[data-testid="offer"][data-offer="release"]')
    expect(release.get_by_test_id("blocker")).to_have_text(
        [f"{POTENCY} has no result. Who clears it: QC enters the {POTENCY} result."]
    )

    # The dialog offers only what the server accepts: an exceptional release, a rejection.
    dialog = _open_dialog(page, "Reject")
    expect(dialog.get_by_role("radio")).to_have_count(2)
    expect(dialog.get_by_label("Release", exact=True)).to_have_count(0)
    expect(dialog.get_by_label("Return to quarantine")).to_have_count(0)
    expect(dialog.get_by_label("Reject")).to_be_checked()
    # A rejection needs its reason; the meaning follows the choice.
    expect(dialog.get_by_test_id("sign-meaning")).to_have_text("Rejected")
    expect(dialog.get_by_label(re.compile("^Reason"))).to_have_attribute("required", "")
    assert _disposition(lot_number) is Disposition.QUARANTINE

    # What the dialog does offer is signed as chosen: here an exceptional release.
    dialog.get_by_label("Exceptional release").check()
    expect(dialog.get_by_test_id("sign-meaning")).to_have_text("Approved for release")
    dialog.get_by_label("Requesting physician").fill("Dr A. Osler")
    dialog.get_by_label("The physician's request").fill("REQ-17: no other product")
    dialog.get_by_label("Justification").fill("Benefit outweighs the risk")
    dialog.get_by_label("User ID").fill(username)
    dialog.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        dialog.get_by_role("button", name="Sign", exact=True).click()
    expect(page.get_by_test_id("exceptional")).to_contain_text("Dr A. Osler")
    assert _disposition(lot_number) is Disposition.RELEASED


def test_an_analyst_enters_and_corrects_a_result_from_the_lot_page(
    page, live_server, quality, make, make_lot
):
    quality.specification()
    lot_number = make_lot().lot_number
    quality.results(lot_number, skip=("potency",))
    analyst = make.user("technician", name="Ana Lyst").username
    release_db()

    browser_sign_in(page, live_server, analyst, f"/qa/lots/{lot_number}")
    expect(page.get_by_role("button", name="Release…")).to_have_count(0)
    enter = page.get_by_role("form", name="Enter a result")
    enter.get_by_label("Test").select_option("potency")
    enter.get_by_label(re.compile("^Result")).fill("12")
    with page.expect_navigation():
        enter.get_by_role("button", name="Enter result").click()
    potency = page.locator('[data-testid="result-row"][data-test="potency"]')
    expect(potency.get_by_test_id("verdict")).to_contain_text("FAIL")
    expect(potency.get_by_test_id("investigation-needed")).to_contain_text("investigation needed")

    fix = page.get_by_role("form", name="Correct a result")
    fix.get_by_label("Test").select_option("potency")
    fix.get_by_label("Reason for the correction").fill("Transcription error: 42 read as 12")
    fix.get_by_label("Corrected result").fill("not a number")
    fix.get_by_role("button", name="Correct result").click()
    expect(fix.get_by_test_id("form-error")).to_contain_text("This test takes a number")
    fix.get_by_label("Corrected result").fill("42")
    with page.expect_navigation():
        fix.get_by_role("button", name="Correct result").click()
    expect(potency.get_by_test_id("verdict")).to_contain_text("PASS")
    expect(potency.get_by_test_id("superseded-value")).to_have_text("12 % lysis")
    expect(potency.get_by_test_id("current-value")).to_have_text("42 % lysis")
    expect(potency.get_by_test_id("correction-reason")).to_contain_text(
        "Transcription error: 42 read as 12"
    )
    expect(page.get_by_test_id("release-ready")).to_be_visible()


def test_qa_acknowledges_a_quality_alert_from_the_queue(page, live_server, alerted_lot):
    _, username = alerted_lot
    browser_sign_in(page, live_server, username, "/qa")
    alert = page.get_by_test_id("alert")
    expect(alert.get_by_test_id("alert-recipients")).to_contain_text("SUBJ-017")
    alert.get_by_label(re.compile("What was done")).fill("Dr Osler informed by phone")
    with page.expect_navigation():
        alert.get_by_role("button", name="Acknowledge alert").click()
    expect(page.get_by_test_id("alert")).to_have_count(0)


# --- rendered on the server -------------------------------------------------------------------


@pytest.fixture
def alerted_lot(quality, make, make_lot, make_recipient) -> tuple[str, str]:
    """A conditionally released lot, one bag allocated, whose sterility came back positive."""
    quality.specification()
    lot = make_lot()
    quality.results(lot.lot_number, skip=("sterility",))
    qa = make.user("qa")
    recipient = make_recipient(subject_id="SUBJ-017")
    with acting_as("system:test", reason="test setup"):
        db.session.add(
            Allocation(
                bag_id=lot.bags[0].id,
                recipient_id=recipient.id,
                infusion_number=1,
                allocated_by_id=qa.id,
            )
        )
        db.session.commit()
    quality.sign(
        lot.lot_number, "conditional_release", reason="Urgent", pending_tests=["sterility"]
    )
    enter_result(
        make.user("technician"), lot.lot_number, ResultRequest("sterility", value_text="positive")
    )
    found = (lot.lot_number, qa.username)
    release_db()
    return found


def _page(client, path: str) -> Marked:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return Marked(response.get_data(as_text=True))


def _rows(page: Marked) -> dict[str, str]:
    tests = [a["data-test"] for a in page.attributes("result-row")]
    return dict(zip(tests, page.all("result-row"), strict=True))


def test_lot_page_shows_each_result_with_its_verdict_in_words(client, quality, make, make_lot):
    quality.specification()
    lot = make_lot()
    quality.results(lot.lot_number, skip=("potency",), viability={"value_numeric": 55.0})
    sign_in(client, make.user("qa").username)

    page = _page(client, f"/qa/lots/{lot.lot_number}")

    tests = [a["data-test"] for a in page.attributes("result-row")]
    verdicts = dict(zip(tests, page.all("verdict"), strict=True))
    assert verdicts["sterility"] == "✔ PASS"
    assert verdicts["viability"] == "✘ FAIL"
    assert verdicts["potency"] == "… PENDING"
    assert verdicts["residual_cd3"] == "◷ AT ALLOCATION"
    rows = _rows(page)
    assert "≥ 70 %" in rows["viability"] and "55 %" in rows["viability"]
    assert "investigation needed" in rows["viability"]
    assert "investigation needed" not in rows["sterility"]
    assert page.all("release-problem") == [
        "Viability (7-AAD) is out of specification",
        f"{POTENCY} has no result",
    ]
    assert page.one("lot-disposition") == "QUARANTINE"
    assert page.all("no-decisions")


def test_lot_page_keeps_a_corrected_value_visible_with_its_reason(client, quality, make, make_lot):
    quality.specification()
    lot = make_lot()
    analyst = quality.results(lot.lot_number)
    correct_result(
        analyst,
        lot.lot_number,
        ResultRequest("endotoxin", value_numeric=0.7),
        "Transcription error on the LAL worksheet",
    )
    sign_in(client, make.user("qa").username)

    rows = _rows(_page(client, f"/qa/lots/{lot.lot_number}"))

    endotoxin = rows["endotoxin"]
    assert re.search(r"0\.5 EU/mL .*0\.7 EU/mL", endotoxin)
    assert "corrected: Transcription error on the LAL worksheet" in endotoxin
    html = client.get(f"/qa/lots/{lot.lot_number}").get_data(as_text=True)
    assert '<del data-testid="superseded-value">0.5 EU/mL</del>' in html


def test_a_signature_withdrawn_by_a_later_correction_says_why(client, quality, make, make_lot):
    quality.specification()
    lot = make_lot()
    analyst = quality.results(lot.lot_number)
    signer = make.user("qa", name="Quinn Adeyemi")
    quality.sign(lot.lot_number, signer=signer)
    correct_result(
        analyst, lot.lot_number, ResultRequest("viability", value_numeric=90.0), "Re-read"
    )
    sign_in(client, make.user("qa").username)

    page = _page(client, f"/qa/lots/{lot.lot_number}")

    assert page.one("lot-disposition") == "QUARANTINE"
    assert page.one("signature-meaning") == "Approved for release"
    assert page.one("signature-name") == "Quinn Adeyemi"
    assert page.one("signature-invalid") == (
        "Signature no longer valid: viability result corrected after QA signed the lot"
    )
    assert page.attributes("certificate-link") == []  # withdrawn with its signature
    # The audit history holds both the release and the return to quarantine.
    history = " ".join(page.all("audit-entry"))
    assert "disposition: quarantine → released" in history
    assert "disposition: released → quarantine" in history
    queue = _page(client, "/qa")
    assert queue.all("reopened") == ["REOPENED: viability result corrected after QA signed the lot"]


@pytest.mark.parametrize(
    ("role", "signs", "enters"),
    [
        ("qa", True, True),
        ("technician", False, True),
        ("admin", False, True),
        ("nurse", False, False),
    ],
)
def test_only_qa_sees_the_sign_buttons(client, quality, make, make_lot, role, signs, enters):
    quality.specification()
    lot = make_lot()
    quality.results(lot.lot_number)
    sign_in(client, make.user(role).username)

    html = client.get(f"/qa/lots/{lot.lot_number}").get_data(as_text=True)

    assert ("sign-open" in html) is signs
    assert ('data-testid="sign-dialog"' in html) is signs
    assert ("Enter result" in html) is enters
    assert "Only QA signs a lot's disposition" in html or signs


@pytest.mark.parametrize(
    ("status", "offered"),
    [
        ("quarantine", ["release", "conditional_release", "reject"]),
        ("conditionally_released", ["release", "reject", "quarantine"]),
        ("released", ["reject", "quarantine"]),
        ("rejected", []),
    ],
)
def test_the_dialog_offers_only_what_the_status_allows(status, offered):
    assert [a["action"] for a in signing_actions(status)] == offered


def test_released_lot_page_shows_genealogy_deviations_statements_and_the_certificate(
    client, quality, make, make_lot
):
    quality.specification()
    lot = make_lot(bags=2, eligibility="incomplete")
    technician = make.user("technician")
    record_step(
        technician,
        lot.lot_number,
        StepRequest(
            "Expansion day 7",
            started_at=utcnow() - timedelta(days=3),
            deviation=True,
            deviation_reason="Incubator door alarm for 4 min; temperature stayed in range",
        ),
    )
    quality.results(lot.lot_number, by=technician)
    quality.sign(lot.lot_number, statements_acknowledged=True)
    codes = sorted(b.code for b in lot.bags)
    din = lot.din
    sign_in(client, make.user("nurse").username)

    page = _page(client, f"/qa/lots/{lot.lot_number}")

    assert page.one("lot-disposition") == "RELEASED"
    (link,) = page.attributes("certificate-link")
    assert link["href"] == f"/api/v1/lots/{lot.lot_number}/certificate.pdf"
    warnings = page.one("eligibility-warnings")
    assert "NOT EVALUATED FOR INFECTIOUS SUBSTANCES" in warnings
    assert "WARNING: Advise patient of communicable disease risks" in warnings
    assert [row.split()[0] for row in page.all("bag")] == codes
    assert all("20.0 mL" in row and "1.20 × 10⁹" in row for row in page.all("bag"))
    assert page.one("donation").startswith(f"{din[:5]} {din[5:7]} {din[7:]}")
    assert "INCOMPLETE" in page.one("donation")
    assert page.one("deviation") == (
        "⚠ DEVIATION: Incubator door alarm for 4 min; temperature stayed in range"
    )


def test_the_dialog_asks_to_acknowledge_the_statements_only_when_they_apply(
    client, quality, make, make_lot
):
    quality.specification()
    incomplete, eligible = make_lot(eligibility="incomplete"), make_lot()
    sign_in(client, make.user("qa").username)

    with_statements = client.get(f"/qa/lots/{incomplete.lot_number}").get_data(as_text=True)
    without = client.get(f"/qa/lots/{eligible.lot_number}").get_data(as_text=True)

    assert 'name="statements_acknowledged"' in with_statements
    assert 'name="statements_acknowledged"' not in without


def test_queue_puts_open_alerts_with_bags_and_recipients_first(client, alerted_lot, make):
    lot_number, qa = alerted_lot
    sign_in(client, qa)

    html = client.get("/qa").get_data(as_text=True)
    page = Marked(html)

    assert page.one("alert-recipients") == "Recipients to inform: SUBJ-017"
    assert "sterility" in page.one("alert-message")
    assert len(page.all("affected-bag")) == 2
    assert html.index('data-testid="open-alerts"') < html.index('id="queue-title"')
    assert "Acknowledge alert" in html
    # The lot is back in quarantine, reopened, and waits in the queue.
    assert lot_number in [a["data-lot"] for a in page.attributes("queue-entry")]
    assert page.all("reopened") == [
        "REOPENED: sterility out of specification after conditional release"
    ]


def test_a_technician_sees_alerts_but_no_acknowledge_form(client, alerted_lot, make):
    sign_in(client, make.user("technician").username)
    html = client.get("/qa").get_data(as_text=True)
    assert "Recipients to inform: SUBJ-017" in " ".join(Marked(html).all("alert-recipients"))
    assert "Acknowledge alert" not in html


@pytest.mark.parametrize("lot", ["LT-404", "lower-case", "x" * 60])
def test_an_unknown_lot_is_a_page_that_says_so(client, make, lot):
    sign_in(client, make.user("qa").username)
    response = client.get(f"/qa/lots/{lot}")
    assert response.status_code == 404
    assert "is known here" in Marked(response.get_data(as_text=True)).one("error-message")


def test_a_stranger_is_sent_to_sign_in(client, quality, make_lot):
    quality.specification()
    lot = make_lot()
    response = client.get(f"/qa/lots/{lot.lot_number}")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_a_lot_made_before_any_specification_still_takes_its_first_result(
    client, quality, make, make_lot
):
    lot = make_lot()  # no specification attached: the first result attaches the approved one
    quality.specification()
    sign_in(client, make.user("technician").username)

    html = client.get(f"/qa/lots/{lot.lot_number}").get_data(as_text=True)

    assert '<input id="new-test" name="test" type="text"' in html
    assert "Correct a result" not in html
    assert "the lot has no approved specification" in Marked(html).all("release-problem")
