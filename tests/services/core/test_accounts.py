"""Accounts: hashed passwords, lockout after repeated failures (11.300), tokens."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from custody.domain.errors import AccountLocked, AuthenticationFailed, ValidationFailed
from custody.extensions import db
from custody.models import AuditEntry
from custody.services.core import accounts
from tests.factories import PASSWORD


@pytest.mark.real_password_hashes
def test_password_is_stored_only_as_a_salted_scrypt_hash(make):
    one = make.user("qa", username="one")
    two = make.user("qa", username="two")
    assert PASSWORD not in one.password_hash
    assert one.password_hash.startswith("scrypt:")
    assert one.password_hash != two.password_hash  # salted


def test_right_password_signs_in(make):
    make.user("nurse", username="nina")
    assert accounts.authenticate("Nina", PASSWORD).username == "nina"


@pytest.mark.parametrize("username", ["nobody", "nina"])
def test_wrong_username_or_password_gives_the_same_words(make, username):
    make.user("nurse", username="nina")
    with pytest.raises(AuthenticationFailed) as caught:
        accounts.authenticate(username, "wrong password!")
    assert caught.value.message == accounts.BAD_CREDENTIALS


def test_five_failures_lock_the_account_and_are_audited(make):
    make.user("nurse", username="nina")
    for _ in range(4):
        with pytest.raises(AuthenticationFailed) as caught:
            accounts.authenticate("nina", "wrong password!")
        assert not isinstance(caught.value, AccountLocked)
    with pytest.raises(AccountLocked) as locking:
        accounts.authenticate("nina", "wrong password!")
    # once locked, even the right password is refused, in the same words as a wrong one
    with pytest.raises(AccountLocked) as locked:
        accounts.authenticate("nina", PASSWORD)
    assert locking.value.message == locked.value.message == accounts.BAD_CREDENTIALS
    failures = db.session.scalars(
        select(AuditEntry).where(AuditEntry.reason == "failed sign-in").order_by(AuditEntry.id)
    ).all()
    assert len(failures) == 5
    assert "locked_at" in json.loads(failures[-1].changes)


def test_a_success_resets_the_failure_count(make):
    make.user("nurse", username="nina")
    for _ in range(3):
        with pytest.raises(AuthenticationFailed):
            accounts.authenticate("nina", "wrong password!")
    accounts.authenticate("nina", PASSWORD)
    for _ in range(4):
        with pytest.raises(AuthenticationFailed) as caught:
            accounts.authenticate("nina", "wrong password!")
        assert not isinstance(caught.value, AccountLocked)


def test_unlock_needs_a_reason_and_restores_sign_in(make):
    make.user("nurse", username="nina")
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            accounts.authenticate("nina", "wrong password!")
    with pytest.raises(ValidationFailed):
        accounts.unlock_user("admin", "nina", "  ")
    accounts.unlock_user("admin", "nina", "identity confirmed by phone")
    assert accounts.authenticate("nina", PASSWORD)


@pytest.mark.parametrize(
    ("username", "role", "password", "words"),
    [
        ("ok", "surgeon", PASSWORD, "Unknown role"),
        ("ok", "qa", "short", "at least 12 characters"),
        ("bad name!", "qa", PASSWORD, "letters, digits"),
    ],
)
def test_invalid_accounts_are_refused_with_reasons(app, username, role, password, words):
    with pytest.raises(ValidationFailed, match=words):
        accounts.create_user("admin", username, "Some Body", role, password)


def test_usernames_are_unique(make):
    make.user("qa", username="dup")
    with pytest.raises(ValidationFailed, match="taken"):
        make.user("nurse", username="DUP")


def test_tokens_are_stored_hashed_and_resolve_to_their_user(make):
    user = make.user("technician", username="scanner1")
    token = make.token(user)
    assert token not in {t.token_hash for t in user.tokens}
    assert accounts.user_for_token(token).username == "scanner1"
    assert accounts.user_for_token(token + "x") is None


def test_parallel_wrong_passwords_each_count_and_lock_the_account(app, make):
    """Guessing in parallel must not escape the lockout (a lost update on the counter)."""
    import threading

    make.user("nurse", username="nina")
    db.session.remove()
    outcomes: list[str] = []
    guard = threading.Lock()
    start = threading.Barrier(8)

    def guess() -> None:
        with app.app_context():
            start.wait()
            try:
                accounts.authenticate("nina", "wrong password!")
            except AccountLocked:
                outcome = "locked"
            except AuthenticationFailed:
                outcome = "failed"
            finally:
                db.session.remove()
            with guard:
                outcomes.append(outcome)

    threads = [threading.Thread(target=guess) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    user = accounts.get_user("nina")
    assert user.locked_at is not None
    assert user.failed_logins == 5
    assert outcomes.count("failed") == 4  # the fifth failure answers "locked"
    failures = db.session.scalars(
        select(AuditEntry).where(AuditEntry.reason == "failed sign-in")
    ).all()
    assert len(failures) == 5
