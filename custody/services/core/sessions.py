"""Browser sessions kept on the server, so that they end (21 CFR 11.10(d), 11.300).

The signed cookie carries only a random key; the session is a row. Sign-out ends the row, so
every copy of the cookie stops working at once. A session also ends after
CUSTODY_SESSION_IDLE_MINUTES without a request (shared bench and bedside devices), at
CUSTODY_SESSION_MAX_HOURS whatever happens, when its user is locked or retired, and when an
administrator ends it. Each start and end is a change of an audited row, so the trail says who
signed in, from where, alongside which other sessions, and why each session ended.

When a session was last seen is bookkeeping, not an act: it is written at most once a minute
and outside the trail. The idle timeout is therefore counted from at most a minute before the
last request, never later: a session can end up to a minute early, never late.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from custody.config import settings
from custody.database import own_write_transaction
from custody.domain.errors import ValidationFailed
from custody.extensions import db
from custody.models.accounts import User, UserSession
from custody.models.base import utcnow
from custody.services.core.accounts import get_user
from custody.services.core.audit_trail import acting_as

BOOKKEEPING_EVERY = timedelta(minutes=1)
SYSTEM = "system:sessions"

SIGNED_OUT = "signed out"
IDLE = "idle timeout"
LIFETIME = "lifetime reached"
ACCOUNT_CLOSED = "account locked or retired"
ENDED_BY_ADMIN = "ended by an administrator"


def start_session(user: User, client: str = "") -> str:
    """Open a session for `user` (just authenticated) and return its key, for the cookie only.

    A sign-in while the same user has other sessions open is said so in the trail: a second
    device, or a colleague using the account, is for the reviewer to judge."""
    key = secrets.token_urlsafe(32)
    others = db.session.scalar(
        select(func.count())
        .select_from(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
    )
    reason = "signed in" if not others else f"signed in while {others} other session(s) open"
    with acting_as(user.username, reason=reason):
        db.session.add(UserSession(user_id=user.id, key_hash=_digest(key), client=client[:200]))
        db.session.commit()
    return key


def session_user(key: str | None, now: datetime | None = None) -> User | None:
    """The user of the live session `key`, or None: unknown, ended, idle too long, past its
    lifetime, or its account locked or retired (those four end it, with the reason)."""
    if not key:
        return None
    row = db.session.scalar(select(UserSession).where(UserSession.key_hash == _digest(key)))
    if row is None or row.ended_at is not None:
        return None
    now = now or utcnow()
    why = _why_over(row, now)
    if why:
        _end(row, SYSTEM, why, now)
        return None
    if now - row.last_seen_at >= BOOKKEEPING_EVERY:
        _seen(row.id, now)
    return row.user


def _why_over(row: UserSession, now: datetime) -> str | None:
    current = settings()
    if now - row.last_seen_at >= current.session_idle:
        return IDLE
    if now - row.started_at >= current.session_lifetime:
        return LIFETIME
    if not row.user.is_active:
        return ACCOUNT_CLOSED
    return None


def _seen(session_id: int, now: datetime) -> None:
    # A plain UPDATE, not an ORM change: bookkeeping is no regulated act and writes no entry.
    with own_write_transaction(db.session):
        db.session.execute(
            update(UserSession).where(UserSession.id == session_id).values(last_seen_at=now)
        )


def keep_alive(key: str | None) -> None:
    """Note the session as seen now, even within the minute (the page's "Stay signed in")."""
    row = _open_row(key)
    if row is not None:
        _seen(row.id, utcnow())


def _open_row(key: str | None) -> UserSession | None:
    if not key:
        return None
    return db.session.scalar(
        select(UserSession).where(
            UserSession.key_hash == _digest(key), UserSession.ended_at.is_(None)
        )
    )


def end_session(key: str | None, reason: str = SIGNED_OUT) -> None:
    """End the session `key` (sign-out), if it is still open."""
    row = _open_row(key)
    if row is not None:
        _end(row, row.user.username, reason, utcnow())


def end_sessions_of(actor: str, username: str, reason: str) -> int:
    """An administrator ends every open session of `username`; how many were open."""
    if not reason.strip():
        raise ValidationFailed("Say why the sessions are ended.")
    user = get_user(username)
    rows = db.session.scalars(
        select(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
    ).all()
    now = utcnow()
    with acting_as(actor, reason=reason.strip()):
        for row in rows:
            row.ended_at, row.end_reason = now, ENDED_BY_ADMIN
        db.session.commit()
    return len(rows)


def open_sessions(username: str | None = None) -> list[dict]:
    """Sessions not yet ended, newest first (for an administrator)."""
    query = (
        select(UserSession, User.username)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.ended_at.is_(None))
        .order_by(UserSession.started_at.desc())
    )
    if username:
        query = query.where(User.username == get_user(username).username)
    return [
        {
            "id": row.UserSession.id,
            "username": row.username,
            "started_at": row.UserSession.started_at,
            "last_seen_at": row.UserSession.last_seen_at,
            "client": row.UserSession.client,
        }
        for row in db.session.execute(query)
    ]


def _end(row: UserSession, actor: str, reason: str, now: datetime) -> None:
    # Also from a read (a page found the session idle): a write of its own, never an upgrade.
    with acting_as(actor, reason=reason), own_write_transaction(db.session):
        row.ended_at, row.end_reason = now, reason


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()
