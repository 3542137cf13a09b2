"""QA approves a label template version in Chromium: from the navigation bar to the version, its
label seen as the printer gets it, its changed line, a refused signature, then the approval
signed with the same e-signature as a release; on a tablet every target is a fingertip's."""

from __future__ import annotations

import io

from PIL import Image
from playwright.sync_api import expect

from tests.factories import PASSWORD
from tests.web.conftest import browser_sign_in, release_db
from tests.web.tablet import fits_width, small_targets
from tests.web.test_label_template_pages import (
    NEW_LINE,
    OLD_LINE,
    PNG_SIGNATURE,
    V2,
    approve_first_version,
    templates_with_a_second_version,
)

MEANING = "Approved label template for printing"


def test_qa_reviews_a_new_version_and_approves_it_with_an_e_signature(
    page, live_server, app, make, tmp_path
):
    templates_with_a_second_version(app, tmp_path)
    approve_first_version(make)
    signer = make.user("qa", username="rita.qa", name="Rita Okonkwo").username
    release_db()
    browser_sign_in(page, live_server, signer, "/")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Label templates").click()
    row = page.locator('[data-testid="template-version"][data-purpose="quarantine_product"]')
    expect(row).to_have_count(2)
    expect(row.nth(1).get_by_test_id("template-state")).to_have_text("awaiting approval")
    row.nth(1).get_by_role("link", name="Version 2").click()
    expect(page).to_have_url(f"{live_server}{V2}")

    # The label as printed: a real PNG, drawn in the browser at its 100 mm square.
    preview = page.get_by_test_id("template-preview")
    expect(preview).to_be_visible()
    page.wait_for_function("document.querySelector('[data-testid=template-preview]').complete")
    # 100 mm at 200 dpi, as pdfium rounds a page up to whole pixels.
    assert preview.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [788, 788]
    png = page.request.get(f"{live_server}{V2}/preview.png")
    assert png.headers["content-type"] == "image/png" and png.body().startswith(PNG_SIGNATURE)
    assert Image.open(io.BytesIO(png.body())).size == (788, 788)
    assert len(png.body()) > 10_000  # barcodes and words, not an empty page
    # The line it changes, old and new, and nothing else but the version number.
    expect(page.get_by_test_id("diff-removed").last).to_contain_text(OLD_LINE)
    expect(page.get_by_test_id("diff-added").last).to_contain_text(NEW_LINE)
    expect(page.get_by_test_id("diff-added")).to_have_count(2)

    assert small_targets(page, "main") == [] and fits_width(page)

    # A wrong password: refused in the API's words, nothing signed, the password to enter again.
    page.get_by_role("button", name="Approve…").click()
    dialog = page.get_by_test_id("sign-dialog")
    expect(dialog.get_by_test_id("sign-meaning")).to_have_text(MEANING)
    dialog.get_by_label("User ID").fill(signer)
    dialog.get_by_label("Password").fill("not my password")
    dialog.get_by_role("button", name="Sign", exact=True).click()
    expect(dialog.get_by_test_id("sign-error")).to_contain_text("password is not correct")
    expect(dialog.get_by_label("Password")).to_have_value("")
    expect(dialog.get_by_label("Password")).to_be_focused()

    dialog.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        dialog.get_by_role("button", name="Sign", exact=True).click()
    expect(page.get_by_test_id("template-state")).to_have_text("printing")
    expect(page.get_by_test_id("signature-meaning")).to_have_text(MEANING)
    expect(page.get_by_test_id("signature-name")).to_have_text("Rita Okonkwo")
    expect(page.get_by_role("button", name="Approve…")).to_have_count(0)
    expect(page.get_by_test_id("approval-refusal")).to_contain_text("already approved")

    page.goto(f"{live_server}/labels/templates/quarantine_product/1")
    expect(page.get_by_test_id("template-state")).to_have_text("superseded")
