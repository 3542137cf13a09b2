"""Accounts: creating users, signing in with lockout (21 CFR 11.300), and API tokens."""

from __future__ import annotations

import functools
import hashlib
import secrets

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from custody.config import settings
from custody.domain.errors import (
    AccountLocked,
    AuthenticationFailed,
    NotFound,
    ValidationFailed,
)
from custody.domain.permissions import Role
from custody.extensions import db
from custody.models.accounts import ApiToken, User
from custody.models.base import utcnow
from custody.services.core.audit_trail import acting_as

MIN_PASSWORD_LENGTH = 10
# The same words whether the username or the password was wrong: no account enumeration.
BAD_CREDENTIALS = "Username or password is not correct."


def create_user(actor: str, username: str, full_name: str, role: str, password: str) -> User:
    username = username.strip().lower()
    if not username or not username.replace(".", "").replace("-", "").isalnum():
        raise ValidationFailed(
            "A username may use letters, digits, dots and dashes only.", username=username
        )
    role_value = _parse_role(role)
    _check_password_quality(password)
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


def _check_password_quality(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")


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
    if user is None:
        # Spend the same time as a real password check, so timing does not reveal usernames.
        check_password_hash(_dummy_hash(), password)
        raise AuthenticationFailed(BAD_CREDENTIALS)
    if user.locked_at is not None:
        raise AccountLocked(_locked_message())
    if not user.active:
        raise AuthenticationFailed("This account is retired. Ask an administrator.")
    if not check_password_hash(user.password_hash, password):
        if _record_failure(user, settings().max_failed_logins):
            raise AccountLocked(_locked_message())
        raise AuthenticationFailed(BAD_CREDENTIALS)
    if user.failed_logins:
        with acting_as(user.username, reason="successful sign-in resets failure count"):
            user.failed_logins = 0
            db.session.commit()
    return user


@functools.cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_hex(16))


def _locked_message() -> str:
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
    return locked


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


def issue_token(actor: str, username: str, label: str = "") -> str:
    """Create an API token and return it; only its hash is kept, so it is shown once."""
    user = get_user(username)
    token = secrets.token_urlsafe(32)
    with acting_as(actor, reason="API token issued"):
        db.session.add(ApiToken(user=user, token_hash=_token_digest(token), label=label))
        db.session.commit()
    return token


def user_for_token(token: str) -> User | None:
    row = db.session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == _token_digest(token), ApiToken.revoked_at.is_(None)
        )
    )
    if row is None or not row.user.is_active:
        return None
    return row.user


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
