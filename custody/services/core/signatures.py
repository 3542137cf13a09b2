"""Electronic signatures (21 CFR 11.50, 11.70, 11.200): re-entered credentials, a meaning, a hash.

Signing re-enters both components, user ID and password, even inside a signed-in session: a
release is the one act a QA person must perform themselves, so a browser left open cannot sign.
A wrong password counts towards the account's lockout exactly as a failed sign-in does
(11.300(d)). The signature row records printed name, time and meaning, and the SHA-256 of the
canonical content it covers, so a copy onto another record or a later edit shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from custody.domain.errors import AccountLocked, AuthenticationFailed, SignatureRefused
from custody.domain.permissions import UseCase, allows
from custody.domain.release_rules import content_hash
from custody.extensions import db
from custody.models import Signature, User
from custody.services.core.accounts import authenticate, locked_message


def check_signer(user: User, use_case: UseCase, doing: str) -> None:
    """Only QA signs (Annex 11 §15): refuse anyone else before asking for a password."""
    if not allows(user.role, use_case):
        raise SignatureRefused(
            f"Only QA can sign {doing}; you are signed in as {user.role.value}.",
            role=user.role.value,
        )


def reauthenticate(user: User, username: str, password: str) -> None:
    """Both components again (11.200(a)(1)): the caller's own user ID and their password.

    Call it before opening the transaction that signs: a failure is committed (counted and
    audited) by the accounts service, and must not carry the signed record's locks with it.
    """
    if username.strip().lower() != user.username:
        raise SignatureRefused(
            f"Sign with your own user ID: you are signed in as {user.username}. A signature "
            "cannot be given with another person's credentials.",
            field="username",
        )
    try:
        authenticate(username, password)
    except AccountLocked:
        # The signer is signed in: telling them their own account is locked reveals nothing.
        raise AccountLocked(locked_message()) from None
    except AuthenticationFailed:
        raise SignatureRefused(
            "The password is not correct: nothing was signed. Enter your own password again; "
            "repeated failures lock the account.",
            field="password",
        ) from None


def sign(
    user: User,
    meaning: str,
    record_type: str,
    record_id: int,
    content: Mapping,
    signed_at: datetime,
    reason: str = "",
) -> Signature:
    """The signature row, inside the caller's transaction, bound to `content` by its hash."""
    signature = Signature(
        signer_id=user.id,
        printed_name=user.full_name,
        signed_at=signed_at,
        meaning=meaning,
        record_type=record_type,
        record_id=record_id,
        content_hash=content_hash(content),
        reason=reason,
    )
    db.session.add(signature)
    db.session.flush()
    return signature


def manifestation(signature: Signature) -> dict:
    """What 11.50 says a signed record shows wherever it is shown."""
    return {
        "printed_name": signature.printed_name,
        "username": signature.signer.username,
        "signed_at": signature.signed_at,
        "meaning": signature.meaning,
        "reason": signature.reason,
    }
