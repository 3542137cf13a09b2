"""What someone with write access to the database can do to the trail, done here as they would:
plain SQL, the append-only triggers out of the way, hashes recomputed with the published
recipe. Each returns what it touched, so a test can check that verification names it."""

from __future__ import annotations

import secrets

from sqlalchemy import create_engine, select, text

from custody.domain.audit_chain import HASHED_FIELDS, entry_hash
from custody.extensions import db
from custody.models import AuditChainHead, AuditEntry


def as_dba(*statements: str, **values) -> None:
    """Statements run as a database administrator would run them: over a connection of their
    own (psql, not the tracker), in one transaction."""
    db.session.commit()  # the test's transaction must not hold SQLite's lock
    engine = create_engine(db.engine.url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement), values)
    finally:
        engine.dispose()
    db.session.expire_all()


def drop_guards() -> None:
    """The append-only triggers off (tests/conftest.py turns them on again for the next test)."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER USER"))
    else:
        db.session.execute(text("DROP TRIGGER IF EXISTS audit_entries_no_update"))
        db.session.execute(text("DROP TRIGGER IF EXISTS audit_entries_no_delete"))
    db.session.commit()


def entries(shard: int) -> list[dict]:
    table = AuditEntry.__table__
    query = select(table).where(table.c.shard == shard).order_by(table.c.seq)
    return [dict(row) for row in db.session.execute(query).mappings()]


def busiest_shard() -> int:
    table = AuditEntry.__table__
    counts = db.session.execute(
        select(table.c.shard, db.func.count()).group_by(table.c.shard)
    ).all()
    return max(counts, key=lambda row: (row[1], -row[0]))[0]


def forge_entry(shard: int, **fields) -> int:
    """A new last entry of `shard`, correctly hashed and chained, its head moved to it: all a
    forger without the audit key can do (its MAC is a guess). Returns its id."""
    last = entries(shard)[-1]
    forged = {
        **{name: last[name] for name in HASHED_FIELDS},
        "seq": last["seq"] + 1,
        "actor": "quinn",
        "reason": "released after review",
        "changes": '{"status": ["quarantined", "released"]}',
        "prev_hash": last["hash"],
        **fields,
    }
    forged["hash"] = entry_hash(forged)
    forged["mac"] = secrets.token_hex(32)
    db.session.execute(AuditEntry.__table__.insert().values(**forged))
    _move_head(shard, forged["seq"], forged["hash"])
    db.session.commit()
    return db.session.scalar(
        select(AuditEntry.id).where(AuditEntry.shard == shard, AuditEntry.seq == forged["seq"])
    )


def rehash_shard(shard: int, seq: int, **changes) -> list[int]:
    """Entry `seq` of `shard` edited, it and every later entry re-hashed, the head following:
    the chain is whole again. Returns the ids of the entries rewritten."""
    rewritten, prev = [], "0" * 64
    for entry in entries(shard):
        if entry["seq"] < seq:
            prev = entry["hash"]
            continue
        entry = {**entry, **(changes if entry["seq"] == seq else {}), "prev_hash": prev}
        entry["hash"] = prev = entry_hash(entry)
        db.session.execute(
            AuditEntry.__table__.update()
            .where(AuditEntry.id == entry["id"])
            .values(**{name: entry[name] for name in (*HASHED_FIELDS, "hash")})
        )
        rewritten.append(entry["id"])
    _move_head(shard, entry["seq"], prev)
    db.session.commit()
    return rewritten


def delete_last(shard: int) -> int:
    """The last entry of `shard` deleted and its head rolled back onto the one before."""
    *kept, last = entries(shard)
    db.session.execute(AuditEntry.__table__.delete().where(AuditEntry.id == last["id"]))
    _move_head(shard, kept[-1]["seq"], kept[-1]["hash"])
    db.session.commit()
    return last["id"]


def _move_head(shard: int, seq: int, hash_: str) -> None:
    db.session.execute(
        AuditChainHead.__table__.update()
        .where(AuditChainHead.shard == shard)
        .values(seq=seq, hash=hash_)
    )
