"""Writes that do not come through the application: on PostgreSQL a trigger records each one in
the trail as a "direct database change", chained and hashed as the application does, and
verification names it. A tripwire, not a control: whoever has full rights can set the marker
the application sets. SQLite has no trigger; there the reconciliation is what notices."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text

from custody.domain.audit_chain import DIRECT, entry_hash
from custody.extensions import db
from custody.models import AuditEntry, Bag
from custody.services.audit.reconciliation import reconcile
from custody.services.audit.verify import verify_trail
from custody.services.bags.scans import ScanRequest, scan
from tests.conftest import PG_URL
from tests.services.audit.tampering import as_dba

postgres_only = pytest.mark.skipif(
    PG_URL is None,
    reason="the tripwire trigger exists on PostgreSQL only (set CUSTODY_TEST_DATABASE_URL)",
)


def _verify():
    db.session.commit()
    with db.engine.connect() as conn:
        return verify_trail(conn)


def _reconcile():
    db.session.commit()
    with db.engine.connect() as conn:
        return reconcile(conn)


def _direct_entries() -> list[AuditEntry]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(AuditEntry).where(AuditEntry.actor.like("database:%")).order_by(AuditEntry.id)
        )
    )


@postgres_only
def test_a_direct_update_is_recorded_chained_and_named(make_lot):
    lot = make_lot()
    bag = lot.bags[0]
    # The application's own writes, Core statements as much as ORM flushes, are marked.
    db.session.execute(text("UPDATE bags SET volume_ml = 20.0 WHERE id = :id"), {"id": bag.id})
    db.session.commit()
    assert _direct_entries() == []
    as_dba("UPDATE bags SET status = 'released' WHERE id = :id", id=bag.id)
    (entry,) = _direct_entries()
    assert (entry.actor, entry.action, entry.record_type, entry.record_id) == (
        "database:postgres",
        "update",
        "bags",
        str(bag.id),
    )
    assert entry.record_key == bag.code and entry.mac == "" and entry.shard == 0
    assert json.loads(entry.changes) == {"status": ["quarantined", "released"]}
    assert entry.reason.startswith("direct database change, not through the application (role")
    assert entry.hash == entry_hash({c.key: getattr(entry, c.key) for c in entry.__table__.c})
    report = _verify()
    assert [(p.entry_id, p.kind) for p in report.problems] == [(entry.id, DIRECT)]
    assert report.first_break.describe() == (
        f"entry {entry.id} (shard 0, seq {entry.seq}): direct database change, not through the "
        f"application: update of bags {bag.id} ({bag.code}) by database:postgres at "
        f"{entry.occurred_at}"
    )


@postgres_only
def test_inserts_deletes_and_truncates_are_recorded_too(make_lot):
    shipment = make_lot.shipment()
    as_dba(
        "INSERT INTO shipment_temperatures (shipment_id, recorded_at, temperature_c)"
        " VALUES (:id, now(), -150)",
        "DELETE FROM shipment_temperatures WHERE shipment_id = :id",
        "TRUNCATE shipment_temperatures",
        id=shipment.id,
    )
    actions = [(e.action, e.record_type, e.record_id) for e in _direct_entries()]
    assert [a[:2] for a in actions] == [
        ("create", "shipment_temperatures"),
        ("delete", "shipment_temperatures"),
        ("delete", "shipment_temperatures"),
    ]
    assert actions[0][2] == actions[1][2] != "*" and actions[2][2] == "*"
    assert len(_verify().direct_changes) == 3


@postgres_only
def test_text_is_hashed_exactly_as_the_application_hashes_it(make):
    user = make.user("nurse", username="zoe")
    odd = 'Zoë "Q" \\ \t\n\x01 ✓'
    as_dba("UPDATE users SET full_name = :n WHERE id = :id", n=odd, id=user.id)
    as_dba("UPDATE users SET password_hash = 'x' WHERE id = :id", id=user.id)
    renamed, rehashed = _direct_entries()
    assert json.loads(renamed.changes)["full_name"][1] == odd
    assert json.loads(rehashed.changes) == {"password_hash": ["[redacted]", "[redacted]"]}
    report = _verify()
    assert {p.kind for p in report.problems} == {DIRECT}  # no hash or MAC problem


@postgres_only
def test_the_marker_is_the_applications_for_one_transaction_only(make):
    user = make.user("nurse", username="marked")
    as_dba(
        "SELECT set_config('custody.actor', 'someone', true)",
        "UPDATE users SET full_name = 'Marked' WHERE id = :id",
        id=user.id,
    )
    # Whoever sets the marker is not recorded: the limit README states.
    assert _direct_entries() == []
    as_dba("UPDATE users SET full_name = 'Unmarked' WHERE id = :id", id=user.id)
    assert [e.record_key for e in _direct_entries()] == ["marked"]


@postgres_only
def test_every_regulated_table_has_its_tripwire(make):
    report = _verify()
    assert not [note for note in report.notes if "no enabled direct-change trigger" in note]
    db.session.execute(text("ALTER TABLE bags DISABLE TRIGGER bags_direct_change"))
    db.session.commit()
    try:
        notes = _verify().notes
        assert any(n.startswith("table bags has no enabled direct-change trigger") for n in notes)
    finally:
        db.session.execute(text("ALTER TABLE bags ENABLE TRIGGER bags_direct_change"))
        db.session.commit()


def quarantined_bag(make_lot, tech) -> Bag:
    """A bag the tracker filled and quarantined: its custody events say where it stands."""
    (bag,) = make_lot(bags=1, status="filled").bags
    scan(tech, ScanRequest(action="quarantine", bag=bag.code))
    return bag


def test_a_direct_update_of_a_bag_is_found_by_reconciliation_tripwire_or_not(make_lot, tech):
    bag = quarantined_bag(make_lot, tech)
    assert _reconcile() == []
    marker = "SELECT set_config('custody.actor', 'dba', true)"  # a DBA who knows the marker
    dba = [marker] if db.engine.dialect.name == "postgresql" else []
    as_dba(*dba, "UPDATE bags SET status = 'released' WHERE id = :id", id=bag.id)
    assert _direct_entries() == []  # no tripwire entry (SQLite: no tripwire at all)
    (mismatch,) = _reconcile()
    assert mismatch.describe().startswith(
        f"bag {bag.code}: reads released but its last custody event ("
    )
    assert mismatch.reason.endswith(
        "quarantine) left it quarantined: the state was changed without a custody record"
    )
