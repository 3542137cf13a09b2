"""The navigation bar in a real browser: each role sees exactly its links, every one of which
it may follow; the search field takes a keyboard-wedge scan and Enter and opens what was
scanned; and on a bench screen and a tablet held either way every link and button of the bar
is a fingertip target and nothing runs past the screen's edge."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from custody.domain.isbt128 import ALPHABET, check_character
from custody.domain.permissions import Role
from tests.web.conftest import browser_sign_in, release_db
from tests.web.tablet import BENCH, LANDSCAPE, PORTRAIT, fits_width, small_targets, tablet
from tests.web.test_bag_page import sign_in

HOME, WORKLIST, SCAN, BEDSIDE, CLINIC, QA, RECALLS, OVERVIEW, AUDIT = (
    "web.home",
    "worklist.worklist_page",
    "lab.scan_station",
    "ward.bedside",
    "clinic.clinic_dashboard",
    "qa.queue",
    "recall.recalls_page",
    "lab_overview.overview_page",
    "audit_review.review",
)
LABEL_TEMPLATES = "label_templates.templates_page"
LOOKBACK = "qa_lookback.lookback_page"
SHIPMENTS = "shipping.shipments_page"
# Each role's links, in the bar's order: where it works, and nothing it may not open.
LINKS = {
    Role.TECHNICIAN: [HOME, WORKLIST, SCAN, SHIPMENTS, CLINIC, QA, RECALLS, OVERVIEW],
    Role.QA: [
        HOME,
        WORKLIST,
        SCAN,
        SHIPMENTS,
        CLINIC,
        QA,
        LABEL_TEMPLATES,
        RECALLS,
        LOOKBACK,
        OVERVIEW,
        AUDIT,
    ],
    Role.NURSE: [HOME, WORKLIST, SHIPMENTS, BEDSIDE, CLINIC],
    Role.ADMIN: [HOME, WORKLIST, SCAN, SHIPMENTS, CLINIC, QA, RECALLS, LOOKBACK, OVERVIEW, AUDIT],
}
# Pages left out of a role's bar because the server refuses them to that role.
REFUSED = {
    Role.TECHNICIAN: ["/bedside", "/audit", "/lookback"],
    Role.QA: ["/bedside"],
    Role.NURSE: ["/scan", "/qa/recalls", "/overview", "/audit", "/lookback"],
    Role.ADMIN: ["/bedside"],
}


def nav(page: Page):
    return page.get_by_role("navigation", name="Main")


def nav_links(page: Page) -> list[tuple[str, str]]:
    links = nav(page).get_by_test_id("nav-link")
    return [
        (links.nth(i).get_attribute("data-endpoint"), links.nth(i).get_attribute("href"))
        for i in range(links.count())
    ]


def search_field(page: Page):
    return nav(page).get_by_role("searchbox")


def test_every_role_sees_exactly_its_links_and_may_follow_each(browser, live_server, make):
    users = {role: make.user(role.value, username=f"nav.{role.value}").username for role in Role}
    release_db()
    for role, username in users.items():
        page = tablet(browser, BENCH)
        try:
            browser_sign_in(page, live_server, username, "/")
            links = nav_links(page)
            assert [endpoint for endpoint, _ in links] == LINKS[role], role
            for _, href in links:
                answer = page.request.get(f"{live_server}{href}", max_redirects=0)
                assert answer.status == 200, (role, href, answer.status)
            for path in REFUSED[role]:
                assert page.request.get(f"{live_server}{path}").status == 403, (role, path)
            # Following each link: the bar is there, with that page marked as the current one.
            for endpoint, href in links:
                page.goto(f"{live_server}{href}")
                current = nav(page).locator('[aria-current="page"]')
                expect(current).to_have_count(1)
                expect(current).to_have_attribute("data-endpoint", endpoint)
            # A page within a section marks its section: a recipient's page, the clinic.
            page.goto(f"{live_server}/clinic/recipients/NOBODY-1")
            expect(nav(page).locator('[aria-current="page"]')).to_have_count(0)
            section = nav(page).locator('[aria-current="true"]')
            expect(section).to_have_attribute("data-endpoint", CLINIC)
        finally:
            page.context.close()


def test_a_scan_in_the_search_field_opens_what_it_names(page, live_server, make, make_lot):
    nurse = make.user("nurse", username="nav.nurse").username
    (bag,) = make_lot(bags=1).bags
    pair = make_lot(bags=2)
    code, din, lot = bag.code, bag.din, pair.lot_number
    pair_codes = sorted(b.code for b in pair.bags)
    wrong = next(c for c in ALPHABET if c != check_character(din))
    release_db()
    browser_sign_in(page, live_server, nurse, "/worklist")

    def scan(data: str) -> None:
        """A keyboard-wedge scanner: the data typed into the focused field, then Enter."""
        search_field(page).focus()
        page.keyboard.press("Control+A")
        page.keyboard.type(data)
        with page.expect_navigation():
            page.keyboard.press("Enter")

    # The DIN barcode alone: its one bag's page.
    scan(f"={din}00")
    expect(page).to_have_url(f"{live_server}/bags/{code}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(din[7:])

    # A DIN of two bags: both listed, each opening its page.
    scan(pair.din)
    hits = page.get_by_test_id("search-hit")
    expect(hits).to_have_count(2)
    expect(hits.first).to_have_attribute("data-key", pair_codes[0])
    expect(hits.first.get_by_role("link", name="Bag")).to_have_attribute(
        "href", f"/bags/{pair_codes[0]}"
    )

    # The field keeps the query, focused and selected: the next scan replaces it.
    expect(search_field(page)).to_be_focused()
    expect(search_field(page)).to_have_value(pair.din)
    page.keyboard.type(lot.lower())
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server}/qa/lots/{lot}")

    # Nothing found, and a wrong check character, are said plainly.
    scan("NO-SUCH-THING")
    expect(page.get_by_test_id("search-nothing")).to_contain_text("NO-SUCH-THING")
    expect(page.get_by_test_id("searchable")).to_contain_text("hospital record number")
    scan(f"{din}{wrong}")
    expect(page.get_by_test_id("search-problem")).to_contain_text("does not match")


@pytest.mark.parametrize("role", [Role.ADMIN, Role.NURSE])
def test_the_bar_is_large_and_fits_on_a_bench_and_a_tablet(browser, live_server, make, role):
    name = "Alexandra Montgomery-Smith"
    username = make.user(role.value, username=f"size.{role.value}", name=name).username
    release_db()
    for size in (PORTRAIT, LANDSCAPE, BENCH):
        page = tablet(browser, size)
        try:
            browser_sign_in(page, live_server, username, "/")
            for path in ("/", "/worklist", "/search?q=NOTHING", "/clinic"):
                page.goto(f"{live_server}{path}")
                expect(nav(page)).to_be_visible()
                assert small_targets(page, "header") == [], (size, path)
                assert fits_width(page), (size, path)
                field = search_field(page).bounding_box()
                assert field["height"] >= 44 and field["width"] >= 120, (size, path)
        finally:
            page.context.close()


def test_the_search_page_goes_to_the_one_hit_lists_several_and_never_fails(client, make, make_lot):
    (bag,) = make_lot(bags=1).bags
    pair = make_lot(bags=2)
    sign_in(client, make.user("technician").username)
    one = client.get("/search", query_string={"q": f"={bag.din}00"})
    assert (one.status_code, one.headers["Location"]) == (302, f"/bags/{bag.code}")
    several = client.get("/search", query_string={"q": pair.din})
    assert several.status_code == 200
    assert several.get_data(as_text=True).count('data-testid="search-hit"') == 2
    wrong = next(c for c in ALPHABET if c != check_character(bag.din))
    for q, status, words in (
        ("", 200, "Scan a barcode into the search field"),
        ("nothing-like-it", 200, "Nothing found for"),
        ("x" * 501, 422, "501 characters"),
        ("LT-1\x00", 422, "characters no label or code has"),
        (f"{bag.din}{wrong}", 422, "does not match"),
        ("=&garbage", 422, ""),
        ("CMD-STORE", 422, "scan station command"),
    ):
        answer = client.get("/search", query_string={"q": q})
        assert answer.status_code == status, q
        assert words in answer.get_data(as_text=True), q
        assert 'aria-label="Main"' in answer.get_data(as_text=True)
