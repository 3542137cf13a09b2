"""The vein-to-vein timeline in a real browser: an infused bag's page, its steps in order down
the page, the temperature excursion of its trip marked in red and said in words, and the
custody report behind the page's link.
"""

from __future__ import annotations

from playwright.sync_api import expect

from tests.labels.label_reading import normalise, page_texts
from tests.services.traceability.custody_journey import EXPECTED_ACTIONS, infused_journey
from tests.web.conftest import browser_sign_in, release_db

ALERT_RED = "rgb(176, 0, 32)"  # --alert in timeline.css


def test_an_infused_bags_timeline_reads_in_order_with_its_excursion_marked(
    page, live_server, make, quality, clinic, make_lot
):
    journey = infused_journey(make, quality, clinic, make_lot)
    reader = make.user("nurse", name="Nadia Ward")
    username, code = reader.username, journey.code
    release_db()

    browser_sign_in(page, live_server, username, f"/bags/{code}")

    steps = page.get_by_test_id("step")
    expect(steps).to_have_count(len(EXPECTED_ACTIONS))
    assert steps.evaluate_all("els => els.map(e => e.dataset.action)") == EXPECTED_ACTIONS
    tops = steps.evaluate_all("els => els.map(e => e.getBoundingClientRect().top)")
    assert tops == sorted(tops)  # oldest at the top, infusion at the bottom
    expect(steps.first.get_by_test_id("step-title")).to_have_text("Collected from the donor")
    expect(steps.last.get_by_test_id("step-title")).to_have_text("Infused")

    # The excursion: one step marked in red, and said in words on it and in the findings.
    marked = page.locator('[data-testid="step"][data-severity="alert"]')
    expect(marked).to_have_count(1)
    expect(marked).to_have_attribute("data-action", "receive")
    expect(marked.get_by_test_id("step-flag")).to_contain_text("TEMPERATURE EXCURSION:")
    expect(marked.get_by_test_id("step-flag")).to_contain_text(f"Shipment {journey.shipment}")
    border = marked.locator(".v2v-body").evaluate("e => getComputedStyle(e).borderTopColor")
    assert border == ALERT_RED
    finding = page.get_by_test_id("finding").filter(has_text="TEMPERATURE EXCURSION")
    expect(finding).to_have_attribute("data-severity", "alert")
    finding.get_by_role("link", name="step 13").click()
    expect(page).to_have_url(f"{live_server}/bags/{code}#step-13")
    expect(marked).to_be_in_viewport()

    # The custody report behind the link: a PDF naming the bag and who asked for it.
    link = page.get_by_test_id("custody-report-link")
    expect(link).to_have_text("Custody report (PDF)")
    response = page.request.get(f"{live_server}{link.get_attribute('href')}")
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    text = normalise(" ".join(page_texts(response.body())))
    assert f"Bag {code}" in text and "by Nadia Ward" in text
    assert "TEMPERATURE EXCURSION" in text
