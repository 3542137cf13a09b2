"""Sessions that end (21 CFR 11.10(d), 11.300): the server keeps each browser session, so a
cookie copied before sign-out, left idle, or older than the session's lifetime is worth
nothing; an administrator ends a user's sessions at once; each sign-in and each end is in the
audit trail. Driven through the Flask test client, cookies copied as an attacker would."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from custody.extensions import db
from custody.models import AuditEntry, UserSession
from custody.models.base import utcnow
from tests.conftest import change_settings
from tests.web.test_bag_page import sign_in

PAGE = "/clinic"
API = "/api/v1/users/me"


pytestmark = pytest.mark.usefixtures("fresh_request_globals")


def _cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def _as(app, cookie: str):
    """Another browser presenting a copy of `cookie`."""
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other


def _signed_in(response) -> bool:
    return response.status_code == 200


def _session_rows(username: str) -> list[UserSession]:
    rows = db.session.scalars(
        select(UserSession).join(UserSession.user).where(UserSession.user.has(username=username))
    ).all()
    return list(rows)


def _backdate(username: str, **ago: timedelta) -> None:
    """Make the user's open sessions older, as time passing would (no app act: plain SQL)."""
    (row,) = [r for r in _session_rows(username) if r.ended_at is None]
    values = {column: getattr(row, column) - delta for column, delta in ago.items()}
    db.session.execute(update(UserSession).where(UserSession.id == row.id).values(**values))
    db.session.commit()


def test_a_cookie_copied_before_sign_out_is_refused_after_it(app, client, make):
    nurse = make.user("nurse")
    sign_in(client, nurse.username)
    copied = _cookie(client)
    assert _signed_in(_as(app, copied).get(PAGE))

    token = client.get("/").get_data(as_text=True).split('name="csrf-token" content="')[1]
    client.post("/logout", data={"csrf_token": token.split('"')[0]})

    page = _as(app, copied).get(PAGE)
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    api = _as(app, copied).get(API)
    assert api.status_code == 401
    (row,) = _session_rows(nurse.username)
    assert row.end_reason == "signed out" and row.ended_at is not None


def test_an_idle_session_ends_at_the_timeout_and_says_why_in_the_trail(app, client, make):
    change_settings(app, CUSTODY_SESSION_IDLE_MINUTES=15)
    nurse = make.user("nurse")
    sign_in(client, nurse.username)
    _backdate(nurse.username, last_seen_at=timedelta(minutes=14, seconds=50))
    assert _signed_in(client.get(PAGE))  # 14 min 50 s: still open, and now seen again

    _backdate(nurse.username, last_seen_at=timedelta(minutes=15))
    assert client.get(PAGE).status_code == 302
    (row,) = _session_rows(nurse.username)
    assert row.end_reason == "idle timeout"
    ended = db.session.scalars(
        select(AuditEntry).where(
            AuditEntry.record_type == "user_sessions", AuditEntry.action == "update"
        )
    ).all()
    assert [(e.actor, e.reason) for e in ended] == [("system:sessions", "idle timeout")]


def test_a_session_ends_at_its_lifetime_however_busy(app, client, make):
    change_settings(app, CUSTODY_SESSION_MAX_HOURS=12)
    nurse = make.user("nurse")
    sign_in(client, nurse.username)
    _backdate(nurse.username, started_at=timedelta(hours=11, minutes=59))
    assert _signed_in(client.get(PAGE))
    _backdate(nurse.username, started_at=timedelta(minutes=1))
    assert client.get(API).status_code == 401
    (row,) = _session_rows(nurse.username)
    assert row.end_reason == "lifetime reached"


def test_an_old_cookie_from_a_session_long_gone_is_refused(app, client, make):
    nurse = make.user("nurse")
    sign_in(client, nurse.username)
    copied = _cookie(client)
    _backdate(nurse.username, started_at=timedelta(days=30), last_seen_at=timedelta(days=30))
    assert _as(app, copied).get(API).status_code == 401


def test_a_locked_account_loses_its_open_session(app, client, make):
    nurse = make.user("nurse")
    sign_in(client, nurse.username)
    db.session.execute(
        update(type(nurse)).where(type(nurse).id == nurse.id).values(locked_at=utcnow())
    )
    db.session.commit()
    assert client.get(API).status_code == 401
    (row,) = _session_rows(nurse.username)
    assert row.end_reason == "account locked or retired"


def test_an_admin_ends_every_session_of_a_user_at_once(app, client, make):
    nurse = make.user("nurse")
    first, second = app.test_client(), app.test_client()
    sign_in(first, nurse.username)
    sign_in(second, nurse.username)
    admin = make.headers(make.user("admin"))

    listed = client.get(f"/api/v1/users/sessions?user={nurse.username}", headers=admin)
    assert [s["username"] for s in listed.get_json()["items"]] == [nurse.username] * 2
    refused = client.post(
        f"/api/v1/users/{nurse.username}/sessions/end", json={"reason": ""}, headers=admin
    )
    assert refused.status_code == 422
    ended = client.post(
        f"/api/v1/users/{nurse.username}/sessions/end",
        json={"reason": "Tablet lost on ward 4"},
        headers=admin,
    )
    assert ended.status_code == 200 and ended.get_json() == {"ended": 2}
    assert first.get(API).status_code == 401 and second.get(API).status_code == 401
    assert {r.end_reason for r in _session_rows(nurse.username)} == {"ended by an administrator"}


def test_only_an_admin_lists_or_ends_sessions(client, make):
    nurse = make.user("nurse")
    as_nurse = make.headers(nurse)
    assert client.get("/api/v1/users/sessions", headers=as_nurse).status_code == 403
    ended = client.post(
        f"/api/v1/users/{nurse.username}/sessions/end", json={"reason": "x"}, headers=as_nurse
    )
    assert ended.status_code == 403


def test_a_second_sign_in_while_a_session_is_open_is_said_in_the_trail(app, make):
    nurse = make.user("nurse")
    sign_in(app.test_client(), nurse.username)
    sign_in(app.test_client(), nurse.username)
    started = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.record_type == "user_sessions", AuditEntry.action == "create")
        .order_by(AuditEntry.id)
    ).all()
    assert [(e.actor, e.reason) for e in started] == [
        (nurse.username, "signed in"),
        (nurse.username, "signed in while 1 other session(s) open"),
    ]


def test_stay_signed_in_notes_the_session_as_seen_now(app, client, make):
    nurse = make.user("nurse")
    sign_in(client, nurse.username)
    _backdate(nurse.username, last_seen_at=timedelta(seconds=30))
    page = client.get("/").get_data(as_text=True)
    token = page.split('name="csrf-token" content="')[1].split('"')[0]
    (before,) = _session_rows(nurse.username)
    seen_before = before.last_seen_at
    db.session.expire_all()
    assert client.post("/session/alive", headers={"X-CSRFToken": token}).status_code == 204
    db.session.expire_all()
    (after,) = _session_rows(nurse.username)
    assert after.last_seen_at > seen_before + timedelta(seconds=25)


@pytest.mark.parametrize(
    ("setting", "base_url", "secure"),
    [
        ("auto", "http://localhost", False),
        ("auto", "http://127.0.0.1:5000", False),
        ("auto", "http://[::1]:5000", False),
        ("auto", "http://tracker.hospital.example", True),
        ("auto", "https://localhost", True),
        ("0", "http://tracker.hospital.example", False),
        ("1", "http://localhost", True),
    ],
)
def test_the_session_cookie_is_https_only_except_plain_http_on_the_loopback(
    app, make, setting, base_url, secure
):
    change_settings(app, CUSTODY_SECURE_COOKIES=setting)
    client = app.test_client()
    page = client.get("/login", base_url=base_url)
    (cookie,) = [c for c in page.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert ("; Secure" in cookie) is secure, cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
