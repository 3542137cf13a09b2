"""The lot page's result forms in Chromium: a qualitative test offers exactly the values its
specification defines, as fingertip-sized choices, and a numeric test a number field; the
value picked is what is stored; a value typed past the pick-list is refused by the server."""

from __future__ import annotations

from playwright.sync_api import expect

from custody.extensions import db
from custody.services.core.audit_trail import acting_as
from tests.web.conftest import browser_sign_in, release_db
from tests.web.tablet import MIN_TARGET_PX

CULTURE = ["Negative", "Positive", "Indeterminate"]


def _lot_under_the_standard_specification(quality, make_lot) -> str:
    spec = quality.specification()
    lot = make_lot()
    with acting_as("system:test", reason="test setup"):
        lot.specification = spec  # as the lab makes a lot: under the approved version
        db.session.commit()
    return lot.lot_number


def _choices(form):
    return form.locator('[data-testid="result-choices"]:visible')


def test_a_qualitative_test_offers_its_values_and_a_numeric_test_a_number_field(
    page, live_server, quality, make, make_lot
):
    lot = _lot_under_the_standard_specification(quality, make_lot)
    analyst = make.user("technician", name="Ana Lyst").username
    release_db()
    browser_sign_in(page, live_server, analyst, f"/qa/lots/{lot}")

    enter = page.get_by_role("form", name="Enter a result")
    enter.get_by_label("Test").select_option("sterility")
    (choices,) = _choices(enter).all()
    expect(choices.get_by_role("radio")).to_have_count(3)
    assert [r.get_attribute("value") for r in choices.get_by_role("radio").all()] == [
        "negative",
        "positive",
        "indeterminate",
    ]
    expect(choices.locator("label")).to_have_text(CULTURE)
    for label in choices.locator("label").all():
        assert label.bounding_box()["height"] >= MIN_TARGET_PX
    expect(enter.get_by_test_id("result-number")).to_be_hidden()

    enter.get_by_label("Test").select_option("viability")
    expect(_choices(enter)).to_have_count(0)
    number = enter.get_by_test_id("result-number")
    expect(number).to_be_visible()
    expect(number).to_have_attribute("inputmode", "decimal")
    expect(enter.get_by_label("Result (a number)")).to_be_visible()

    # The value picked is the value stored: a positive culture, judged out of specification.
    enter.get_by_label("Test").select_option("sterility")
    _choices(enter).get_by_label("Positive").check()
    with page.expect_navigation():
        enter.get_by_role("button", name="Enter result").click()
    sterility = page.locator('[data-testid="result-row"][data-test="sterility"]')
    expect(sterility.get_by_test_id("current-value")).to_have_text("Positive")
    expect(sterility.get_by_test_id("verdict")).to_contain_text("FAIL")

    # The correction form offers the same values for the same test.
    fix = page.get_by_role("form", name="Correct a result")
    fix.get_by_label("Test").select_option("sterility")
    expect(_choices(fix).locator("label")).to_have_text(CULTURE)
    expect(fix.get_by_test_id("result-number")).to_be_hidden()

    # Past the pick-list, with the page's own session: the server refuses and names the values.
    refusal = page.evaluate(
        """url => window.custodyApi.post(url, {test: "mycoplasma", value_text: "negativ"})
             .then(() => "stored", failure => [failure.status, failure.message])""",
        f"/api/v1/lots/{lot}/results",
    )
    assert refusal == [
        422,
        "'negativ' is not a result of Mycoplasma (PCR): choose one of 'negative', 'positive', "
        "'indeterminate', as its specification defines them.",
    ]
    page.reload()
    mycoplasma = page.locator('[data-testid="result-row"][data-test="mycoplasma"]')
    expect(mycoplasma).to_contain_text("no result yet")
