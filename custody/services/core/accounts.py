"""Accounts: their life cycle (created, password changed or reset, locked, unlocked,
retired; never deleted), signing in with lockout (21 CFR 11.300), and API tokens.

Sign-in answers the same words, after the same work, for an unknown name, a wrong password, a
locked and a retired account: every path checks one password hash (an unknown name against a
dummy hash), so neither the words nor the time tell which names exist. Passwords follow NIST SP
800-63B: at least 12 characters, no composition rules, and refused when common, breached or
guessable from the person's own name (zxcvbn's lists and estimate)."""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn

from custody.config import settings
from custody.database import own_write_transaction
from custody.domain.errors import (
    AccountLocked,
    AuthenticationFailed,
    Conflict,
    NotFound,
    ValidationFailed,
)
from custody.domain.permissions import Role
from custody.extensions import db
from custody.models.accounts import ApiToken, User
from custody.models.base import utcnow
from custody.services.core.audit_trail import acting_as

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 200
# zxcvbn's estimate, 0-4: 3 is "safely unguessable" against an offline attack on a slow hash.
MIN_PASSWORD_STRENGTH = 3
MAX_TOKEN_DAYS = 3650
TOKEN_BOOKKEEPING_EVERY = timedelta(minutes=1)
# The same words whether the name is unknown, the password wrong or the account locked or
# retired: no account enumeration. They say what the person can do in each case.
BAD_CREDENTIALS = (
    "Username or password is not correct. After repeated failures an account is locked: "
    "ask an administrator."
)


def create_user(actor: str, username: str, full_name: str, role: str, password: str) -> User:
    username = username.strip().lower()
    if not username or not username.replace(".", "").replace("-", "").isalnum():
        raise ValidationFailed(
            "A username may use letters, digits, dots and dashes only.", username=username
        )
    role_value = _parse_role(role)
    check_new_password(password, username, full_name)
    if db.session.scalar(select(User.id).where(User.username == username)):
        raise ValidationFailed(f"The username {username!r} is taken.", username=username)
    with acting_as(actor, reason="account created"):
        user = User(
            username=username,
            full_name=full_name.strip(),
            role=role_value,
            password_hash=generate_password_hash(password),
        )
        db.session.add(user)
        db.session.commit()
    return user


def _parse_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise ValidationFailed(f"Unknown role {role!r}; choose one of {allowed}.") from None


def check_new_password(password: str, username: str, full_name: str = "") -> None:
    """Refuse a password that is short, common, breached, or made of the person's own name."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"A password needs at least {MIN_PASSWORD_LENGTH} characters: a phrase of a few "
            "unrelated words is easiest to remember."
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationFailed(f"A password may have at most {MAX_PASSWORD_LENGTH} characters.")
    if username and username.lower() in password.lower():
        raise ValidationFailed("A password may not contain the username.")
    # zxcvbn's time grows with length; the first 100 characters decide whether it is guessable.
    estimate = zxcvbn(password[:100], user_inputs=[username, *full_name.split()])
    if estimate["score"] < MIN_PASSWORD_STRENGTH:
        why = estimate["feedback"]["warning"] or "It would be guessed too easily."
        raise ValidationFailed(
            f"This password is too easy to guess. {why.rstrip('.')}. Choose a phrase of a few "
            "unrelated words."
        )


def authenticate(username: str, password: str) -> User:
    """Check a username and password; count failures and lock the account at the limit
    (CUSTODY_MAX_FAILED_LOGINS).

    Failures and lockouts are written to the audit trail and committed even though the
    sign-in itself fails: attempts at misuse must be detected and reported (11.300(d)).
    """
    # The row is locked while the failure count is read and written: parallel guesses must
    # each count, or an attacker guessing in parallel would never be locked out.
    user = db.session.scalar(
        select(User).where(User.username == username.strip().lower()).with_for_update()
    )
    # One hash check on every path, an unknown name against a dummy hash: the same work, so
    # the time taken does not tell which names exist or which accounts are locked.
    matches = check_password_hash(user.password_hash if user else _dummy_hash(), password)
    if user is None:
        raise AuthenticationFailed(BAD_CREDENTIALS)
    if not user.is_active:
        # Locked or retired: the same words; the class lets a signed-in signer be told.
        raise AccountLocked(BAD_CREDENTIALS)
    if not matches:
        if _record_failure(user, settings().max_failed_logins):
            raise AccountLocked(BAD_CREDENTIALS)
        raise AuthenticationFailed(BAD_CREDENTIALS)
    if user.failed_logins:
        with acting_as(user.username, reason="successful sign-in resets failure count"):
            user.failed_logins = 0
            db.session.commit()
    return user


@functools.cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_hex(16))


def locked_message() -> str:
    """For a person already signed in whose own password just locked their account."""
    return (
        "This account is locked after repeated failed sign-ins. Ask an administrator to unlock it."
    )


def _record_failure(user: User, max_failures: int) -> bool:
    """Count one failure; whether it locked the account. The answer is this attempt's own: read
    after the commit, it could already show a lock that a parallel guess made."""
    with acting_as(user.username, reason="failed sign-in"):
        user.failed_logins += 1
        locked = user.failed_logins >= max_failures
        if locked:
            user.locked_at = utcnow()
        db.session.commit()
    if locked:
        # Administrators see it on their next page (locked_accounts) and in the trail.
        log.warning("account %s locked after %d failed sign-ins", user.username, max_failures)
    return locked


def locked_accounts() -> list[User]:
    """Accounts locked after failed sign-ins, most recent first: for administrators to act on."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.locked_at.is_not(None), User.active.is_(True))
            .order_by(User.locked_at.desc())
        )
    )


def list_users(locked: bool | None = None) -> list[User]:
    """Every account, retired ones included (they are never deleted), by username."""
    query = select(User).order_by(User.username)
    if locked is not None:
        query = query.where(User.locked_at.is_not(None) if locked else User.locked_at.is_(None))
    return list(db.session.scalars(query))


def change_password(user: User, current: str, new: str) -> User:
    """The person's own change: the current password first (a wrong one counts as a failed
    sign-in), then a new one that passes the policy and is not the same."""
    try:
        authenticate(user.username, current)
    except AuthenticationFailed:
        raise ValidationFailed(
            "The current password is not correct: nothing was changed. Repeated failures lock "
            "the account.",
            field="current_password",
        ) from None
    if new == current:
        raise ValidationFailed("Choose a new password, not the current one.", field="password")
    check_new_password(new, user.username, user.full_name)
    user = db.session.get(User, user.id)
    with acting_as(user.username, reason="password changed by its owner"):
        user.password_hash = generate_password_hash(new)
        user.password_changed_at = utcnow()
        user.must_change_password = False
        db.session.commit()
    return user


def reset_password(actor: str, username: str, temporary: str, reason: str) -> User:
    """An administrator sets a temporary password, to be changed at the next sign-in; the
    account is unlocked. The reason (how the person's identity was confirmed) is kept."""
    if not reason.strip():
        raise ValidationFailed("Say why the password is reset and how the person was identified.")
    user = get_user(username)
    if user.retired_at is not None:
        raise Conflict(f"{user.username} is retired: a retired account is never used again.")
    check_new_password(temporary, user.username, user.full_name)
    with acting_as(actor, reason=reason.strip()):
        user.password_hash = generate_password_hash(temporary)
        user.password_changed_at = utcnow()
        user.must_change_password = True
        user.failed_logins = 0
        user.locked_at = None
        db.session.commit()
    return user


def retire_user(actor: str, username: str, reason: str) -> User:
    """Retire an account: it never signs in again and its name is never reused, but it stays,
    so every record it made keeps the name of who made it."""
    if not reason.strip():
        raise ValidationFailed("Say why the account is retired.")
    user = get_user(username)
    if user.retired_at is not None:
        raise Conflict(f"{user.username} was already retired.")
    with acting_as(actor, reason=reason.strip()):
        user.active = False
        user.retired_at = utcnow()
        db.session.commit()
    return user


def must_change_password(user: User, now: datetime | None = None) -> bool:
    """Whether the person must choose a new password before anything else: after an
    administrator's reset, or once the password is older than CUSTODY_PASSWORD_MAX_AGE_DAYS."""
    if user.must_change_password:
        return True
    max_age = settings().password_max_age
    return max_age is not None and (now or utcnow()) - user.password_changed_at >= max_age


def unlock_user(actor: str, username: str, reason: str) -> User:
    user = get_user(username)
    if not reason.strip():
        raise ValidationFailed("Say why the account is unlocked.")
    with acting_as(actor, reason=reason):
        user.locked_at = None
        user.failed_logins = 0
        db.session.commit()
    return user


def get_user(username: str) -> User:
    user = db.session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise NotFound(f"No user named {username!r}.", username=username)
    return user


def issue_token(actor: str, username: str, label: str = "", days: int | None = None) -> str:
    """Create an API token valid for `days` (CUSTODY_TOKEN_DAYS unless given) and return it;
    only its hash is kept, so it is shown once."""
    user = get_user(username)
    if days is not None and not 1 <= days <= MAX_TOKEN_DAYS:
        raise ValidationFailed(f"A token is valid for 1 to {MAX_TOKEN_DAYS} days.", days=days)
    lifetime = timedelta(days=days) if days is not None else settings().token_lifetime
    token = secrets.token_urlsafe(32)
    with acting_as(actor, reason="API token issued"):
        db.session.add(
            ApiToken(
                user=user,
                token_hash=_token_digest(token),
                label=label.strip()[:100],
                expires_at=utcnow() + lifetime,
            )
        )
        db.session.commit()
    return token


def user_for_token(token: str, now: datetime | None = None) -> User | None:
    """The user of a live token: not revoked, not expired, its account neither locked nor
    retired. Its last use is bookkeeping, written at most once a minute and not audited."""
    now = now or utcnow()
    # One query for the token and its user: every API request asks it.
    row = db.session.scalar(
        select(ApiToken)
        .options(joinedload(ApiToken.user))
        .where(ApiToken.token_hash == _token_digest(token), ApiToken.revoked_at.is_(None))
    )
    if row is None or not row.user.is_active:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    if row.last_used_at is None or now - row.last_used_at >= TOKEN_BOOKKEEPING_EVERY:
        with own_write_transaction(db.session):
            db.session.execute(
                update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now)
            )
    return row.user


def list_tokens(username: str | None = None) -> list[ApiToken]:
    """API tokens, newest first: every user's, or one user's."""
    query = select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    if username:
        query = query.where(ApiToken.user_id == get_user(username).id)
    return list(db.session.scalars(query))


def revoke_token(actor: str, token_id: int, reason: str, owner: str | None = None) -> ApiToken:
    """Revoke a token at once, with the reason. `owner`: only that user's token may be named
    (a user revoking their own), and another's is not found rather than refused."""
    if not reason.strip():
        raise ValidationFailed("Say why the token is revoked.")
    # An id beyond the column's range names no token (and must not reach the database).
    row = db.session.get(ApiToken, token_id) if 0 < token_id < 2**31 else None
    if row is None or (owner is not None and row.user.username != owner):
        raise NotFound(f"No API token {token_id} is known here.", token=token_id)
    if row.revoked_at is not None:
        raise Conflict(f"API token {token_id} was already revoked.", token=token_id)
    with acting_as(actor, reason=reason.strip()):
        row.revoked_at = utcnow()
        db.session.commit()
    return row


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
