"""Every audit entry carries a MAC under the audit key, which is not in the database: an entry
written or re-hashed by anyone without the key is named by verification."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from custody.config import settings
from custody.domain.audit_chain import MAC, entry_mac
from custody.extensions import db
from custody.models import AuditEntry
from custody.services.audit.verify import verify_trail
from custody.services.core.audit_keys import audit_keys, keys_from_secret
from custody.services.core.checkpoints import make_checkpoint
from tests.conftest import TEST_SECRET, change_settings
from tests.services.audit import tampering


def _verify():
    db.session.commit()
    with db.engine.connect() as conn:
        return verify_trail(conn)


def _trail(make, count: int = 6) -> None:
    for n in range(count):
        make.user("technician", username=f"mac{n}")


def test_every_entry_carries_the_mac_of_its_hash_under_the_audit_key(make):
    _trail(make)
    keys = audit_keys()
    rows = db.session.execute(select(AuditEntry.hash, AuditEntry.mac)).all()
    assert len(rows) >= 6
    assert all(mac == entry_mac(keys.mac, stored) for stored, mac in rows)
    report = _verify()
    assert report.ok and report.macs_checked


def test_the_key_comes_from_its_file_never_from_the_session_secret(app, audit_key):
    key_file, _ = audit_key
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert settings().audit_key_file == key_file and settings().audit_key is None
    assert audit_keys() == keys_from_secret(bytes.fromhex(key_file.read_text().strip()))
    assert audit_keys() != keys_from_secret(TEST_SECRET.encode()[:32])
    # The key's file is outside the database's folder (SQLite: the test's own folder).
    if db.engine.dialect.name == "sqlite":
        database = Path(db.engine.url.database)
        assert not key_file.resolve().is_relative_to(database.parent.resolve())


def test_the_key_is_not_stored_in_the_database(app, make, audit_key):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("reads the database file's bytes: SQLite only")
    _trail(make, 2)
    db.session.commit()
    secret = audit_key[0].read_text().strip()
    stored = Path(db.engine.url.database).read_bytes()
    for form in (
        secret.encode(),
        bytes.fromhex(secret),
        audit_keys().mac,
        audit_keys().mac.hex().encode(),
    ):
        assert form not in stored


def test_known_answer_public_key():
    # openssl pkey -inform DER (PKCS#8 of the seed derived from 00 01 … 1f) -pubout
    keys = keys_from_secret(bytes(range(32)))
    assert keys.public.hex() == "677b84c56c0d5cb3ce7717e1980b4b9fd24e264f6b46a41a294cff88efbb12aa"
    assert keys.key_id == "1762afa7e681ec19"


def test_an_entry_forged_with_a_correct_hash_and_head_is_named(make):
    _trail(make)
    tampering.drop_guards()
    shard = tampering.busiest_shard()
    forged = tampering.forge_entry(shard)
    report = _verify()
    assert not report.ok
    assert report.first_break.entry_id == forged and report.first_break.kind == MAC
    assert "without the audit key" in report.first_break.describe()
    assert len(report.problems) == 1


def test_a_rehashed_chain_is_named_entry_by_entry(make):
    _trail(make, 12)
    tampering.drop_guards()
    shard = tampering.busiest_shard()
    rewritten = tampering.rehash_shard(shard, 1, reason="nothing happened")
    report = _verify()
    assert [p.entry_id for p in report.problems if p.kind == MAC] == rewritten
    assert report.first_break.entry_id == rewritten[0]


def test_without_a_key_entries_carry_no_mac_and_verify_says_what_it_did_not_check(app, make):
    change_settings(app, CUSTODY_AUDIT_KEY_FILE="")
    _trail(make, 2)
    assert set(db.session.scalars(select(AuditEntry.mac))) == {""}
    report = _verify()
    assert report.ok and not report.macs_checked
    assert report.notes[0].startswith("MACs and checkpoints not checked: no audit key")


def test_entries_from_before_the_key_are_pinned_as_such_by_the_first_checkpoint(
    app, make, audit_key
):
    change_settings(app, CUSTODY_AUDIT_KEY_FILE="")
    _trail(make, 3)
    change_settings(app, CUSTODY_AUDIT_KEY_FILE=audit_key[0])
    report = _verify()
    assert {p.reason for p in report.problems} == {"no MAC: written without the audit key"}
    assert any("the first checkpoint pins them as such" in note for note in report.notes)
    checkpoint = make_checkpoint(db.engine, audit_keys(), audit_key[1], "key configured")
    assert all(head.mac_from == head.size + 1 for head in checkpoint.shards)
    make.user("qa", username="keyed")
    report = _verify()
    assert report.ok, report.problems
    assert any(
        "written before the audit key was configured carry no MAC" in n for n in report.notes
    )
    # One written without the key after the checkpoint is named, whatever its shard.
    change_settings(app, CUSTODY_AUDIT_KEY_FILE="")
    make.user("qa", username="unkeyed")
    change_settings(app, CUSTODY_AUDIT_KEY_FILE=audit_key[0])
    report = _verify()
    assert [p.reason for p in report.problems] == ["no MAC: written without the audit key"]
