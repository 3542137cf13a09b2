"""An account's life: a password policy in the spirit of NIST SP 800-63B, the person's own
change, an administrator's reset that forces a change, ageing, retirement (never deletion), and
sign-in that answers unknown, wrong, locked and retired alike, after the same work."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from custody.domain.errors import AccountLocked, AuthenticationFailed, Conflict, ValidationFailed
from custody.extensions import db
from custody.models import AuditEntry, User
from custody.services.core import accounts
from tests.conftest import change_settings
from tests.factories import PASSWORD

NEW = "velvet quarry lantern"

# Each refused password, and the words that say why (written out, not computed).
REFUSED = [
    ("eleven char", "at least 12 characters"),
    ("            ", "too easy to guess"),
    ("123456789012", "too easy to guess"),
    ("aaaaaaaaaaaa", "too easy to guess"),
    ("password1234", "too easy to guess"),
    ("qwertyuiopas", "too easy to guess"),
    ("nina.ward2026", "may not contain the username"),
    ("Nightingale1820", "too easy to guess"),  # the person's own surname, and a year
    ("x" * 201, "at most 200 characters"),
]


@pytest.mark.parametrize(("password", "words"), REFUSED)
def test_weak_common_and_personal_passwords_are_refused_with_the_reason(app, password, words):
    with pytest.raises(ValidationFailed, match=words):
        accounts.check_new_password(password, "nina.ward", "Nina Nightingale")


@pytest.mark.parametrize("password", [PASSWORD, NEW, "demo-password-2026", "tr0mbone-Apricot"])
def test_a_long_unguessable_phrase_is_accepted(app, password):
    accounts.check_new_password(password, "nina.ward", "Nina Nightingale")


def test_the_owner_changes_the_password_with_the_current_one(make):
    nina = make.user("nurse", username="nina")
    with pytest.raises(ValidationFailed, match="current password is not correct"):
        accounts.change_password(nina, "not the password", NEW)
    assert db.session.get(User, nina.id).failed_logins == 1  # a wrong one counts
    with pytest.raises(ValidationFailed, match="not the current one"):
        accounts.change_password(nina, PASSWORD, PASSWORD)
    with pytest.raises(ValidationFailed, match="too easy"):
        accounts.change_password(nina, PASSWORD, "password1234")
    accounts.change_password(nina, PASSWORD, NEW)
    assert accounts.authenticate("nina", NEW).username == "nina"
    with pytest.raises(AuthenticationFailed):
        accounts.authenticate("nina", PASSWORD)
    reasons = db.session.scalars(
        select(AuditEntry.reason).where(AuditEntry.record_type == "users")
    ).all()
    assert "password changed by its owner" in reasons


def test_an_admin_reset_unlocks_and_forces_a_change_at_the_next_sign_in(make):
    nina = make.user("nurse", username="nina")
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            accounts.authenticate("nina", "wrong password!")
    with pytest.raises(ValidationFailed, match="Say why"):
        accounts.reset_password("ada", "nina", "temporary-Kestrel-41", " ")
    accounts.reset_password("ada", "nina", "temporary-Kestrel-41", "identity checked in person")
    user = accounts.authenticate("nina", "temporary-Kestrel-41")
    assert accounts.must_change_password(user)
    accounts.change_password(user, "temporary-Kestrel-41", NEW)
    assert not accounts.must_change_password(db.session.get(User, nina.id))


def test_a_password_is_due_for_change_at_the_exact_age_limit(app, make):
    change_settings(app, CUSTODY_PASSWORD_MAX_AGE_DAYS=90)
    nina = make.user("nurse", username="nina")
    changed = nina.password_changed_at
    assert not accounts.must_change_password(
        nina, now=changed + timedelta(days=90, microseconds=-1)
    )
    assert accounts.must_change_password(nina, now=changed + timedelta(days=90))


def test_without_an_age_limit_a_password_never_falls_due(app, make):
    nina = make.user("nurse", username="nina")
    assert not accounts.must_change_password(nina, now=nina.password_changed_at + timedelta(3650))


def test_a_retired_account_stays_never_signs_in_and_its_name_is_never_reused(make):
    nina = make.user("nurse", username="nina", name="Nina Ward")
    with pytest.raises(ValidationFailed, match="Say why"):
        accounts.retire_user("ada", "nina", "")
    accounts.retire_user("ada", "nina", "left the hospital")
    with pytest.raises(AccountLocked) as refused:
        accounts.authenticate("nina", PASSWORD)
    assert refused.value.message == accounts.BAD_CREDENTIALS
    with pytest.raises(Conflict, match="already retired"):
        accounts.retire_user("ada", "nina", "again")
    with pytest.raises(ValidationFailed, match="taken"):
        make.user("nurse", username="nina")
    kept = db.session.get(User, nina.id)
    assert kept.full_name == "Nina Ward" and kept.retired_at is not None
    with pytest.raises(Conflict, match="retired"):
        accounts.reset_password("ada", "nina", "temporary-Kestrel-41", "back again")


@pytest.mark.parametrize(
    ("case", "username", "password"),
    [
        ("unknown name", "nobody", PASSWORD),
        ("wrong password", "nina", "wrong password!"),
        ("locked account", "locked.one", PASSWORD),
        ("retired account", "retired.one", PASSWORD),
        ("right password", "nina", PASSWORD),
    ],
)
def test_every_sign_in_checks_exactly_one_password_hash(
    make, monkeypatch, case, username, password
):
    """The same work by construction: one hash check whatever the case (not a timed test)."""
    make.user("nurse", username="nina")
    make.user("nurse", username="locked.one")
    make.user("nurse", username="retired.one")
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            accounts.authenticate("locked.one", "wrong password!")
    accounts.retire_user("ada", "retired.one", "left")
    accounts._dummy_hash()  # made once per process, before any sign-in is counted
    checks = []
    real = accounts.check_password_hash
    monkeypatch.setattr(
        accounts, "check_password_hash", lambda h, p: checks.append(h) or real(h, p)
    )
    try:
        accounts.authenticate(username, password)
    except AuthenticationFailed as refused:
        assert refused.message == accounts.BAD_CREDENTIALS
    assert len(checks) == 1, case


def test_locked_accounts_are_listed_for_administrators(make):
    make.user("nurse", username="nina")
    make.user("nurse", username="sam")
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            accounts.authenticate("sam", "wrong password!")
    assert [u.username for u in accounts.locked_accounts()] == ["sam"]
    accounts.unlock_user("ada", "sam", "called back")
    assert accounts.locked_accounts() == []
