"""The demo walk page: present only in a database `custody demo` created, DEMO on every line,
the wristband only for roles that see patient identifiers; in Chromium a technician copies the
station string from it and the scan station finds that bag's position.

The module's app serves one demo database (loaded once, scale 1, seed 1); these tests only
read it. The 404 of a database that is not a demo is tested on the suite's ordinary database.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

import pytest
from playwright.sync_api import expect

from tests.services.demo.demo_database import demo_database_url
from tests.web.conftest import browser_sign_in

DEMO_PASSWORD = "demo-password-2026"


@pytest.fixture(scope="module")
def demo_url(migrated_database, tmp_path_factory):
    with demo_database_url(migrated_database, tmp_path_factory, "demowalkpage") as url:
        yield url


@pytest.fixture
def database_url(demo_url):
    """Every app of this module serves the demo database."""
    return demo_url


def sign_in(client, username: str) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    response = client.post(
        "/login", data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)


class WalkLines(HTMLParser):
    """The text of each line of the walk (`.demo-line`) and of each heading."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if self._depth:
            self._depth += 1
        elif "demo-line" in classes or tag in ("h1", "h2"):
            self._depth = 1
            self.lines.append("")

    def handle_endtag(self, tag):
        if self._depth:
            self._depth -= 1

    def handle_data(self, data):
        if self._depth:
            self.lines[-1] += data


def test_every_line_of_the_walk_says_demo_and_a_nurse_gets_all_three_journeys(client):
    sign_in(client, "nurse")
    html = client.get("/demo/walk").get_data(as_text=True)
    parser = WalkLines()
    parser.feed(html)
    assert len(parser.lines) >= 15
    assert [line for line in parser.lines if "DEMO" not in line] == []
    shown = unescape(html)
    for string in (
        "=+03000=W99992600000171=<D0001VX0&>0280551108",
        "L26-0000-03",
        "&#0010MRN6324241=#0019660426",
        "=+03000=W99992600000171=<D0001VL0&>0280551108",
    ):
        assert string in shown, string


def test_a_technician_is_shown_no_wristband(client):
    sign_in(client, "tech")
    html = client.get("/demo/walk").get_data(as_text=True)
    assert 'data-testid="walk-bedside-withheld"' in html
    assert "MRN6324241" not in html and "19660426" not in html
    assert 'data-testid="paste-station-bag"' in html


def test_the_home_page_of_a_demo_database_links_the_walk(client):
    sign_in(client, "qa")
    assert 'data-testid="demo-walk-link"' in client.get("/").get_data(as_text=True)


def test_the_station_string_of_the_walk_finds_its_bag_in_the_scan_station(page, live_server):
    browser_sign_in(page, live_server, "tech", "/demo/walk", password=DEMO_PASSWORD)
    bag = page.get_by_test_id("paste-station-bag").inner_text()
    page.goto(f"{live_server}/scan")
    single = page.get_by_role("button", name="Single scans")
    expect(single).to_have_attribute("aria-pressed", "true")
    page.keyboard.type(bag)
    page.keyboard.press("Enter")
    expect(page.get_by_text("Position 24").first).to_be_visible()
    expect(page.get_by_text("W999926000001").first).to_be_visible()
