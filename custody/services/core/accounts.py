"""Accounts: creating users, signing in with lockout (21 CFR 11.300), and API tokens."""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from werkzeug.security import check_password_hash, generate_password_hash

from custody.config import settings
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

MIN_PASSWORD_LENGTH = 10
MAX_TOKEN_DAYS = 3650
TOKEN_BOOKKEEPING_EVERY = timedelta(minutes=1)
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
    row = db.session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == _token_digest(token), ApiToken.revoked_at.is_(None)
        )
    )
    if row is None or not row.user.is_active:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    if row.last_used_at is None or now - row.last_used_at >= TOKEN_BOOKKEEPING_EVERY:
        db.session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
        db.session.commit()
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
    row = db.session.get(ApiToken, token_id)
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
