"""The lookback page in Chromium: QA types a donor's DIN and sees every bag and recipient it
reached, follows a recipient back to everything behind them, and is told plainly when a
starting point is unknown or two are given; roles that may not look back are refused the page
and not offered it in the navigation bar. The world is lookback_world's (see there).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from custody.domain.isbt128 import check_character
from tests.services.traceability.lookback_world import World, build_world
from tests.web.conftest import browser_sign_in, release_db


@pytest.fixture
def world(make, clinic, live_server) -> World:
    built = build_world(make, clinic)
    make.user("qa", username="quinn.qa")
    make.user("nurse", username="nell.nurse")
    release_db()
    return built


def _subjects(page) -> list[str]:
    rows = page.get_by_test_id("lookback-recipient")
    return [rows.nth(i).get_attribute("data-subject") for i in range(rows.count())]


def test_qa_looks_forward_from_a_din_and_back_from_a_recipient(page, live_server, world):
    w = world
    page.set_viewport_size({"width": 1280, "height": 800})
    browser_sign_in(page, live_server, "quinn.qa", "/lookback")
    din = w.din["b"]
    page.get_by_label("DIN (scan or type)").fill(din + check_character(din))
    page.get_by_role("button", name="Look back").click()

    expect(page.get_by_test_id("lookback-counts")).to_contain_text("3 recipients")
    assert _subjects(page) == [w.subject["R1"], w.subject["R2"], w.subject["R3"]]
    bags = page.get_by_test_id("lookback-bag")
    assert sorted(bags.nth(i).get_attribute("data-bag") for i in range(bags.count())) == sorted(
        w.bag[name] for name in ("P-A0", "P-Aa", "P-Ab", "P-B0")
    )

    # Back from R1, who had infusions from lots P and S: both lots and every donor behind them.
    row = page.locator(f'[data-testid="lookback-recipient"][data-subject="{w.subject["R1"]}"]')
    row.get_by_role("link", name=w.subject["R1"]).click()
    expect(page).to_have_url(f"{live_server}/lookback?recipient={w.subject['R1']}")
    lots = page.get_by_test_id("lookback-lot")
    expect(lots).to_have_count(2)
    assert {lots.nth(i).get_attribute("data-lot") for i in range(2)} == {w.lot["P"], w.lot["S"]}
    expect(page.get_by_test_id("lookback-infusion")).to_have_count(2)


def test_an_unknown_starting_point_and_two_at_once_are_said_plainly(page, live_server, world):
    browser_sign_in(page, live_server, "quinn.qa", "/lookback")
    page.get_by_label("Lot number").fill("L99-9999-99")
    page.get_by_role("button", name="Look back").click()
    expect(page.get_by_test_id("lookback-problem")).to_contain_text("L99-9999-99")
    expect(page.get_by_test_id("lookback-answer")).to_have_count(0)

    page.get_by_label("Donor code").fill(world.donor["A"])
    page.get_by_role("button", name="Look back").click()
    expect(page.get_by_test_id("lookback-problem")).to_contain_text(
        "Look back from exactly one starting point"
    )
    # The form keeps what was typed.
    expect(page.get_by_label("Lot number")).to_have_value("L99-9999-99")


def test_a_nurse_is_not_offered_lookback_and_is_refused_it(page, live_server, world):
    browser_sign_in(page, live_server, "nell.nurse", "/")
    nav = page.get_by_test_id("site-nav")
    expect(nav.get_by_role("link", name="Clinic")).to_be_visible()
    expect(nav.get_by_role("link", name="Lookback")).to_have_count(0)
    response = page.goto(f"{live_server}/lookback?din={world.din['b']}")
    assert response.status == 403
    expect(page.get_by_text(world.subject["R1"])).to_have_count(0)
