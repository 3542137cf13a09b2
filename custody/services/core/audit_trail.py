"""Writes an audit entry for every insert, update and delete of a regulated record.

A SQLAlchemy flush listener does it, so no service can forget and the entry is always in the
same transaction as the change. Services say who acts and why with `acting_as(...)`; a flush
that changes a regulated record with nobody acting is refused rather than left unattributed.

Each entry carries a MAC under the audit key (when one is configured), which the database
does not hold. On PostgreSQL the transaction is marked as the application's before it writes
(`set_config('custody.actor', ..., true)`, transaction-local), so the tripwire trigger leaves
its writes alone and records only those that bypass the application. A transaction that
signs electronically is followed, once committed, by a signed checkpoint of the trail.
"""

from __future__ import annotations

import enum
import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from flask import has_app_context
from sqlalchemy import event, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, configure_mappers

from custody.config import settings
from custody.domain.audit_chain import (
    DIRECT_ACTOR_PREFIX,
    GENESIS_HASH,
    entry_hash,
    entry_mac,
    format_timestamp,
    shard_for,
)
from custody.extensions import db
from custody.models.audit import AuditChainHead, AuditEntry
from custody.models.base import Base, utcnow
from custody.services.core.audit_keys import audit_keys
from custody.services.core.checkpoints import make_checkpoint

# Columns whose values never enter the trail; that they changed is still recorded.
SECRET_COLUMNS = frozenset({"password_hash", "token_hash"})
REDACTED = "[redacted]"
DEFAULT_SHARDS = 16
# Not regulated records themselves: the trail and its heads.
UNAUDITED_TABLES = frozenset({"audit_entries", "audit_chain_heads"})
# An e-signature in the transaction: a checkpoint follows its commit (session.info key).
_CHECKPOINT_DUE = "custody.audit.checkpoint_due"
# The transaction already marked as the application's on PostgreSQL (connection.info key),
# and the statements that write.
_MARKED = "custody.audit.marked"
_WRITES = ("INSERT", "UPDATE", "DELETE", "TRUNCATE", "MERGE", "WITH", "COPY")
log = logging.getLogger("custody.audit")


@dataclass(frozen=True)
class Actor:
    name: str
    reason: str = ""


_current: ContextVar[Actor | None] = ContextVar("custody_audit_actor", default=None)


class UnattributedChange(RuntimeError):
    """A programming error: a regulated record changed outside `acting_as`."""


@contextmanager
def acting_as(actor: str, reason: str = "") -> Iterator[None]:
    """Attribute every change flushed inside the block to `actor`, with `reason`."""
    if actor.startswith(DIRECT_ACTOR_PREFIX):
        raise ValueError(f"actor names starting {DIRECT_ACTOR_PREFIX!r} mean the database itself")
    token = _current.set(Actor(actor, reason))
    try:
        yield
    finally:
        _current.reset(token)


def current_actor() -> Actor | None:
    return _current.get()


def install(session_class: type[Session]) -> None:
    """Register the listeners on a session class (idempotent)."""
    if not event.contains(Engine, "before_cursor_execute", _mark_write):
        event.listen(Engine, "before_cursor_execute", _mark_write)
    for name, listener in (
        ("after_flush", _after_flush),
        ("after_commit", _checkpoint_if_signed),
        ("after_rollback", _forget_checkpoint),
    ):
        if not event.contains(session_class, name, listener):
            event.listen(session_class, name, listener)
    _keep_old_values()


def _keep_old_values() -> None:
    """Make every audited column load its stored value before it is overwritten.

    Without this, setting an attribute of an object expired by an earlier commit records no
    old value, and a change would obscure what it replaced (11.10(e) forbids that).
    """
    configure_mappers()
    for mapper in Base.registry.mappers:
        if mapper.local_table is None or mapper.local_table.name in UNAUDITED_TABLES:
            continue
        for prop in mapper.column_attrs:
            attribute = getattr(mapper.class_, prop.key)
            if not event.contains(attribute, "set", _noop):
                event.listen(attribute, "set", _noop, active_history=True)


def _noop(target, value, oldvalue, initiator):
    return value


def _mark_write(conn, cursor, statement, parameters, context, executemany) -> None:
    """On PostgreSQL, before the application's first write in a transaction: mark the
    transaction as the application's, so the tripwire trigger does not take its writes (ORM
    flushes, Core statements, bookkeeping alike) for direct ones. Transaction-local
    (`set_config(..., true)`): it ends with the transaction, and a transaction-pooling proxy
    cannot hand it to another client. Only the app's own engine marks; anything else that
    writes to the database (psql, another tool) is recorded by the trigger."""
    if (
        conn.dialect.name != "postgresql"
        or not statement.lstrip()[:8].upper().startswith(_WRITES)
        or not has_app_context()
        or conn.engine is not db.engine
    ):
        return
    transaction = conn.get_transaction()
    if conn.info.get(_MARKED) is transaction:
        return
    actor = _current.get()
    cursor.execute(
        "SELECT set_config('custody.actor', %s, true)", (actor.name if actor else "application",)
    )
    conn.info[_MARKED] = transaction


def _after_flush(session: Session, flush_context) -> None:
    changes = list(_collect_changes(session))
    if not changes:
        return
    actor = _current.get()
    if actor is None:
        tables = sorted({c[1] for c in changes})
        raise UnattributedChange(f"change to {', '.join(tables)} with no actor: use acting_as()")
    conn = session.connection()
    _append(conn, actor, changes, conn.info.get("audit_shards", DEFAULT_SHARDS))
    signed = [c for c in changes if c[0] == "create" and c[1] == "signatures"]
    if signed:
        session.info[_CHECKPOINT_DUE] = f"e-signature: {signed[-1][3] or signed[-1][2]}"


def _checkpoint_if_signed(session: Session) -> None:
    """After a transaction that signed commits: a signed checkpoint of the trail. The
    signature stands whatever happens here; a checkpoint that cannot be made is logged, and
    the next one (or `custody audit checkpoint`) covers the entries."""
    reason = session.info.pop(_CHECKPOINT_DUE, None)
    if reason is None or not has_app_context():
        return
    keys = audit_keys()
    if keys is None:
        return
    try:
        make_checkpoint(db.engine, keys, settings().audit_checkpoint_log, reason)
    except Exception:
        log.exception("no audit checkpoint after %s: run `custody audit checkpoint`", reason)


def _forget_checkpoint(session: Session) -> None:
    session.info.pop(_CHECKPOINT_DUE, None)


def _collect_changes(session: Session):
    """(action, table, record id, record key, {field: [old, new]}) for each changed record."""
    for obj in session.new:
        if _audited(obj):
            yield "create", *_identity(obj), _snapshot(obj, new=True)
    for obj in session.dirty:
        if _audited(obj) and session.is_modified(obj):
            diff = _diff(obj)
            if diff:
                yield "update", *_identity(obj), diff
    for obj in session.deleted:
        if _audited(obj):
            yield "delete", *_identity(obj), _snapshot(obj, new=False)


def _audited(obj) -> bool:
    return isinstance(obj, Base) and obj.__tablename__ not in UNAUDITED_TABLES


def _identity(obj) -> tuple[str, str, str]:
    # In after_flush new rows have their keys but not yet an identity key: read the columns.
    pk = inspect(obj).mapper.primary_key_from_instance(obj)
    record_id = "/".join(str(part) for part in pk)
    return obj.__tablename__, record_id, obj.audit_key() or ""


def _snapshot(obj, new: bool) -> dict:
    state = inspect(obj)
    out = {}
    for attr in state.mapper.column_attrs:
        value = _json_value(attr.key, getattr(obj, attr.key))
        out[attr.key] = [None, value] if new else [value, None]
    out.update(_link_changes(state))
    return out


def _diff(obj) -> dict:
    state = inspect(obj)
    out = {}
    for attr in state.mapper.column_attrs:
        history = state.attrs[attr.key].history
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        if old == new:
            continue
        out[attr.key] = [_json_value(attr.key, old), _json_value(attr.key, new)]
    out.update(_link_changes(state))
    return out


def _link_changes(state) -> dict:
    """Many-to-many links (e.g. a lot's donations) have no row of their own: record them here."""
    out = {}
    for rel in state.mapper.relationships:
        if rel.secondary is None:
            continue
        history = state.attrs[rel.key].history
        if history.added or history.deleted:
            out[rel.key] = [
                sorted(_key_of(o) for o in history.deleted),
                sorted(_key_of(o) for o in history.added),
            ]
    return out


def _key_of(obj) -> str:
    return obj.audit_key() or "/".join(
        str(p) for p in inspect(obj).mapper.primary_key_from_instance(obj)
    )


def _json_value(key: str, value):
    if value is None:
        return None
    if key in SECRET_COLUMNS:
        return REDACTED
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return format_timestamp(value) if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return "sha256:" + hashlib.sha256(value).hexdigest()
    return value


def _append(conn, actor: Actor, changes: list, shards: int) -> None:
    """Append the entries shard by shard, each under a lock on that shard's head row."""
    keys = audit_keys()
    mac_key = keys.mac if keys is not None else None
    occurred_at = format_timestamp(utcnow())
    by_shard: dict[int, list] = defaultdict(list)
    for change in changes:
        by_shard[shard_for(change[1], change[2], shards)].append(change)
    rows = []
    heads = AuditChainHead.__table__
    for shard in sorted(by_shard):  # a fixed lock order: no deadlocks between writers
        seq, prev = _lock_head(conn, shard)
        for action, table, record_id, key, diff in by_shard[shard]:
            seq += 1
            row = {
                "shard": shard,
                "seq": seq,
                "occurred_at": occurred_at,
                "actor": actor.name,
                "action": action,
                "record_type": table,
                "record_id": record_id,
                "record_key": key,
                "changes": json.dumps(diff, ensure_ascii=False, sort_keys=True),
                "reason": actor.reason,
                "prev_hash": prev,
            }
            row["hash"] = prev = entry_hash(row)
            row["mac"] = entry_mac(mac_key, prev) if mac_key is not None else ""
            rows.append(row)
        conn.execute(heads.update().where(heads.c.shard == shard).values(seq=seq, hash=prev))
    conn.execute(AuditEntry.__table__.insert(), rows)


def _lock_head(conn, shard: int) -> tuple[int, str]:
    """The shard's head (seq, hash), locked until the transaction ends. The head row exists
    after a shard's first entry, so the usual cost is one locking read; a missing head is
    created (racing writers create it once) and read again."""
    heads = AuditChainHead.__table__
    locked = select(heads.c.seq, heads.c.hash).where(heads.c.shard == shard).with_for_update()
    row = conn.execute(locked).one_or_none()
    if row is None:
        dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        conn.execute(
            dialect_insert(heads)
            .values(shard=shard, seq=0, hash=GENESIS_HASH)
            .on_conflict_do_nothing(index_elements=["shard"])
        )
        row = conn.execute(locked).one()
    return row.seq, row.hash
