"""The audit trail: every change recorded in the same transaction, chained and verifiable."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text

from custody.extensions import db
from custody.models import AuditChainHead, AuditEntry, User
from custody.services.audit.verify import verify_trail
from custody.services.core.audit_trail import UnattributedChange, acting_as


def _entries(record_type: str | None = None) -> list[AuditEntry]:
    stmt = select(AuditEntry).order_by(AuditEntry.id)
    if record_type:
        stmt = stmt.where(AuditEntry.record_type == record_type)
    return db.session.scalars(stmt).all()


def _verify():
    db.session.commit()
    with db.engine.connect() as conn:
        return verify_trail(conn)


def test_create_update_delete_are_recorded_with_who_what_old_new_and_why(make):
    user = make.user("nurse", username="anna", name="Anna Field")
    created = _entries("users")[-1]
    assert created.action == "create"
    assert created.actor == "system:test"
    assert created.record_key == "anna"
    assert json.loads(created.changes)["full_name"] == [None, "Anna Field"]
    # the password hash never enters the trail, but that it was set does
    assert json.loads(created.changes)["password_hash"] == [None, "[redacted]"]

    with acting_as("admin1", reason="name corrected after marriage"):
        user.full_name = "Anna Field-Moss"
        db.session.commit()
    updated = _entries("users")[-1]
    assert updated.action == "update"
    assert updated.actor == "admin1"
    assert updated.reason == "name corrected after marriage"
    assert json.loads(updated.changes) == {"full_name": ["Anna Field", "Anna Field-Moss"]}
    assert updated.occurred_at.endswith("Z")

    with acting_as("admin1", reason="duplicate account"):
        db.session.delete(user)
        db.session.commit()
    deleted = _entries("users")[-1]
    assert deleted.action == "delete"
    assert json.loads(deleted.changes)["username"] == ["anna", None]


def test_a_change_with_nobody_acting_is_refused_and_not_saved(make):
    user = make.user("qa", username="quinn")
    user.full_name = "Someone Else"
    with pytest.raises(UnattributedChange):
        db.session.commit()
    db.session.rollback()
    assert db.session.get(User, user.id).full_name != "Someone Else"


def test_audit_entry_rolls_back_with_the_change(make):
    user = make.user("qa", username="rollback")
    before = len(_entries())
    with acting_as("admin1", reason="test"):
        user.full_name = "Changed"
        db.session.flush()
        assert len(_entries()) == before + 1  # written in the same transaction...
        db.session.rollback()
    assert len(_entries()) == before  # ...and gone with it


def test_trail_verifies_and_counts_entries(make):
    for i in range(5):
        make.user("technician", username=f"tech{i}")
    report = _verify()
    assert report.ok, report.first_break
    assert report.entries == len(_entries()) >= 5


def test_the_database_refuses_updates_and_deletes_of_audit_entries(make):
    make.user("technician", username="t1")
    db.session.commit()
    with pytest.raises(Exception, match="append-only"):
        db.session.execute(text("UPDATE audit_entries SET actor = 'mallory'"))
    db.session.rollback()
    with pytest.raises(Exception, match="append-only"):
        db.session.execute(text("DELETE FROM audit_entries"))
    db.session.rollback()


def _drop_guards():
    """What an attacker with database rights would do first."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER USER"))
    else:
        db.session.execute(text("DROP TRIGGER audit_entries_no_update"))
        db.session.execute(text("DROP TRIGGER audit_entries_no_delete"))


@pytest.fixture
def trail(make):
    for i in range(6):
        make.user("technician", username=f"tamper{i}")
    db.session.commit()
    _drop_guards()
    db.session.commit()
    return _entries()


def test_an_edited_row_is_named(trail):
    victim = trail[3]
    db.session.execute(
        text("UPDATE audit_entries SET actor = 'mallory' WHERE id = :id"), {"id": victim.id}
    )
    report = _verify()
    assert not report.ok
    assert report.first_break.entry_id == victim.id
    assert "altered" in report.first_break.describe()


def test_a_deleted_row_is_found(trail):
    # delete an entry that has a successor in its shard
    by_shard: dict[int, list[AuditEntry]] = {}
    for entry in trail:
        by_shard.setdefault(entry.shard, []).append(entry)
    shard_entries = next(v for v in by_shard.values() if len(v) >= 2)
    victim, successor = shard_entries[0], shard_entries[1]
    db.session.execute(text("DELETE FROM audit_entries WHERE id = :id"), {"id": victim.id})
    report = _verify()
    assert not report.ok
    assert report.first_break.entry_id == successor.id
    assert "missing" in report.first_break.reason


def test_a_deleted_last_row_is_found_through_the_head(trail):
    last_id, last_shard = trail[-1].id, trail[-1].shard
    db.session.execute(text("DELETE FROM audit_entries WHERE id = :id"), {"id": last_id})
    report = _verify()
    assert not report.ok
    assert report.first_break.shard == last_shard
    assert "head" in report.first_break.reason


def test_a_row_inserted_by_hand_is_found(trail):
    model = trail[2]
    db.session.execute(
        text(
            "INSERT INTO audit_entries (shard, seq, occurred_at, actor, action, record_type,"
            " record_id, record_key, changes, reason, prev_hash, hash)"
            " VALUES (:shard, :seq, :at, 'mallory', 'update', 'users', '1', 'x', '{}', '',"
            " :prev, :hash)"
        ),
        {
            "shard": model.shard,
            "seq": 10_000,
            "at": model.occurred_at,
            "prev": model.hash,
            "hash": "f" * 64,
        },
    )
    report = _verify()
    assert not report.ok
    assert report.first_break.shard == model.shard


def test_heads_track_every_shard(trail):
    heads = {h.shard: h for h in db.session.scalars(select(AuditChainHead))}
    for entry in trail:
        assert entry.shard in heads
    assert sum(h.seq for h in heads.values()) == len(trail)
