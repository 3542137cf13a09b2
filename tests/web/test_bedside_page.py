"""The bedside page as the server renders it: who may open it, and the fields a nurse needs
before any script runs (scan fields, the typed fallbacks with the boxed check character).

Flask test client, no browser: what the page does with these fields is in
test_bedside_browser.py.
"""

from __future__ import annotations

import re

import pytest

from tests.web.test_bag_page import Marked, sign_in

SCAN_FIELDS = ("wristband-input", "bag-input", "thaw-input")
TYPED_FIELDS = ("record-number", "birth-date", "typed-din", "typed-k", "typed-product")


def _ids(page: str) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', page))


def _input(page: str, field_id: str) -> str:
    return re.search(rf'<input[^>]*id="{field_id}"[^>]*>', page, re.S).group(0)


def test_nurse_gets_the_scan_fields_and_the_typed_fallbacks(client, make):
    nurse = make.user("nurse", name="Nora Ward")
    sign_in(client, nurse.username)

    response = client.get("/bedside")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert set(SCAN_FIELDS) | set(TYPED_FIELDS) <= _ids(page)
    # The boxed keyboard check character has a box of its own, one character wide.
    assert 'maxlength="1"' in _input(page, "typed-k")
    assert 'data-testid="k-box"' in _input(page, "typed-k")
    assert 'type="date"' in _input(page, "birth-date")
    # The second nurse signs with their own password, in a field that does not show it.
    assert 'type="password"' in _input(page, "second-password")
    assert "Second verifier — enter your own credentials" in page
    # The page names who is signed in, for "Verified by <you> and <second>".
    assert 'data-me="Nora Ward"' in page
    assert "js/bedside.js" in page and "js/api.js" in page


def test_stop_overlay_offers_only_start_again(client, make):
    sign_in(client, make.user("nurse").username)

    page = client.get("/bedside").get_data(as_text=True)

    overlay = re.search(r'<div id="stop".*?</div>\s*</div>', page, re.S).group(0)
    assert "Do not infuse" in overlay
    assert re.findall(r"<button[^>]*>([^<]*)</button>", overlay) == ["Start again"]
    assert "override" not in page.lower()


def test_page_stays_light(client, make):
    """A hospital tablet on a slow link: own script and style stay small, nothing from a CDN."""
    sign_in(client, make.user("nurse").username)
    page = client.get("/bedside").get_data(as_text=True)

    assert not re.search(r'(src|href)="(https?:)?//', page)
    for asset in ("/static/js/bedside.js", "/static/css/bedside.css"):
        response = client.get(asset)
        assert response.status_code == 200
        assert len(response.get_data()) < 20_000, asset


@pytest.mark.parametrize("role", ["technician", "qa", "admin"])
def test_other_roles_are_told_the_page_is_for_nurses(client, make, role):
    sign_in(client, make.user(role).username)

    response = client.get("/bedside")

    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "Only nurse may do this" in Marked(page).one("error-message")
    assert 'id="wristband-input"' not in page


def test_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get("/bedside")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert "bedside" in response.headers["Location"]
