"""Signing in and out in a real browser: the form, the lockout, and glove-sized targets."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from custody.config import settings
from custody.extensions import db
from custody.models import AuditEntry, User
from custody.services.core.accounts import BAD_CREDENTIALS
from tests.factories import PASSWORD

LOCKED = re.compile(r"locked", re.IGNORECASE)
MIN_TARGET_PX = 44  # WCAG 2.5.5 target size; gloved fingers need at least this


@dataclass(frozen=True)
class Person:
    id: int
    username: str
    full_name: str


@pytest.fixture
def technician(make, live_server) -> Person:
    user = make.user("technician", username="tess.tech", name="Tess Okafor")
    person = Person(user.id, user.username, user.full_name)
    # Reading the user opened a transaction; end it so the live server can write.
    db.session.remove()
    return person


def _path(page: Page, live_server: str) -> str:
    return page.url.removeprefix(live_server)


def _sign_in(page: Page, live_server: str, username: str, password: str) -> None:
    if not _path(page, live_server).startswith("/login"):
        page.goto(f"{live_server}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    # A form post may land on the same URL: wait for the new document, not for a URL.
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def test_technician_signs_in_sees_name_and_role_then_signs_out(page, live_server, technician):
    _sign_in(page, live_server, technician.username, PASSWORD)

    expect(page).to_have_url(f"{live_server}/")
    who = page.get_by_test_id("signed-in-as")
    expect(who).to_contain_text("Tess Okafor")
    expect(who).to_contain_text("technician")
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Tess Okafor")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{live_server}/login")
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    expect(page.get_by_test_id("signed-in-as")).to_have_count(0)

    # The session really ended: the home page sends the browser back to sign in.
    page.goto(f"{live_server}/")
    expect(page).to_have_url(re.compile(re.escape(f"{live_server}/login") + r"\?next=%2F$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_test_id("signed-in-as")).to_have_count(0)


def test_wrong_password_shows_error_stays_on_sign_in_and_does_not_sign_in(
    page, live_server, technician
):
    page.goto(f"{live_server}/login")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        _sign_in(page, live_server, technician.username, "not the password")

    assert posted.value.status == 401
    expect(page).to_have_url(f"{live_server}/login")
    expect(page.get_by_test_id("login-error")).to_have_text(BAD_CREDENTIALS)
    expect(page.get_by_test_id("signed-in-as")).to_have_count(0)
    # The typed password is not echoed back into the page.
    expect(page.get_by_label("Password")).to_have_value("")

    # An unknown username gets the very same words: no account enumeration.
    _sign_in(page, live_server, "nobody.here", "not the password")
    expect(page.get_by_test_id("login-error")).to_have_text(BAD_CREDENTIALS)

    page.goto(f"{live_server}/")
    expect(page).to_have_url(re.compile(re.escape(f"{live_server}/login")))
    expect(page.get_by_test_id("signed-in-as")).to_have_count(0)


def test_five_wrong_passwords_lock_the_account_and_the_trail_records_it(
    page, live_server, technician, app
):
    max_failures = settings().max_failed_logins
    assert max_failures == 5
    page.goto(f"{live_server}/login")
    for attempt in range(1, max_failures):
        _sign_in(page, live_server, technician.username, f"wrong guess {attempt}")
        expect(page.get_by_test_id("login-error")).to_have_text(BAD_CREDENTIALS)

    _sign_in(page, live_server, technician.username, "wrong guess 5")
    expect(page.get_by_test_id("login-error")).to_have_text(LOCKED)

    # Now even the right password is refused, with the same locked message.
    _sign_in(page, live_server, technician.username, PASSWORD)
    expect(page).to_have_url(f"{live_server}/login")
    expect(page.get_by_test_id("login-error")).to_have_text(LOCKED)
    expect(page.get_by_test_id("signed-in-as")).to_have_count(0)
    page.goto(f"{live_server}/")
    expect(page).to_have_url(re.compile(re.escape(f"{live_server}/login")))

    # The browser is done: read what the server committed.
    user = db.session.get(User, technician.id)
    assert user.locked_at is not None
    assert user.failed_logins == max_failures
    entries = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.record_type == "users", AuditEntry.record_id == str(technician.id))
        .order_by(AuditEntry.id)
    ).all()
    failures = [e for e in entries if e.reason == "failed sign-in"]
    assert len(failures) == max_failures
    for count, entry in enumerate(failures, start=1):
        changes = json.loads(entry.changes)
        assert entry.action == "update"
        assert entry.actor == technician.username
        assert changes["failed_logins"] == [count - 1, count]
        assert ("locked_at" in changes) == (count == max_failures)
    old, new = json.loads(failures[-1].changes)["locked_at"]
    assert old is None and new
    # The refused right password changed nothing: no reset, no further entry.
    assert entries[-1].id == failures[-1].id


@pytest.mark.parametrize(
    "viewport",
    [{"width": 1024, "height": 768}, {"width": 800, "height": 1280}],
    ids=["desktop-1024x768", "tablet-800x1280"],
)
def test_sign_in_page_fits_the_screen_with_a_glove_sized_button(
    page, live_server, technician, viewport
):
    page.set_viewport_size(viewport)
    page.goto(f"{live_server}/login")

    button = page.get_by_role("button", name="Sign in")
    expect(button).to_be_visible()
    expect(button).to_be_in_viewport(ratio=1)
    box = button.bounding_box()
    assert box is not None
    assert box["height"] >= MIN_TARGET_PX, box
    assert box["width"] >= MIN_TARGET_PX, box
    for field in (page.get_by_label("Username"), page.get_by_label("Password")):
        expect(field).to_be_in_viewport(ratio=1)
        assert field.bounding_box()["height"] >= MIN_TARGET_PX
    # Nothing pushes the page sideways (no horizontal scrolling on a tablet).
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]

    # And it works at this size.
    _sign_in(page, live_server, technician.username, PASSWORD)
    expect(page).to_have_url(f"{live_server}/")
    expect(page.get_by_test_id("signed-in-as")).to_contain_text("Tess Okafor")
