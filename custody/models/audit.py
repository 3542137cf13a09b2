"""The audit trail (21 CFR 11.10(e)): append-only entries in hash-chained shards.

Each entry belongs to one of N shards chosen from the record it describes; within a shard the
entries form a hash chain (each hash covers the entry and its predecessor's hash) with gapless
sequence numbers, and the shard's head row holds the newest sequence and hash. Writers that
touch different shards never wait for one another; writers in one shard queue on its head row.
Each entry also carries a MAC under a key kept out of the database, and signed checkpoints,
kept out of it too, commit to every shard's entries (`custody.services.core.checkpoints`).
"""

from __future__ import annotations

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from custody.models.base import Base


class AuditEntry(Base):
    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    shard: Mapped[int]
    seq: Mapped[int]
    # Fixed-width UTC text (2026-11-23T21:09:10.123456Z): hashed exactly as stored.
    occurred_at: Mapped[str] = mapped_column(String(27), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    record_type: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[str] = mapped_column(String(40))
    record_key: Mapped[str] = mapped_column(String(200), default="")
    # JSON text, hashed exactly as stored: {"field": [old, new], ...}
    changes: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text, default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # HMAC-SHA256 of `hash` under the audit key, which is not in the database: an entry written
    # or re-hashed by anyone without the key does not match it. Empty on entries written with
    # no key configured and on those the database writes itself (direct changes).
    mac: Mapped[str] = mapped_column(String(64), default="", server_default="")

    __table_args__ = (
        UniqueConstraint("shard", "seq"),
        Index("ix_audit_entries_record", "record_type", "record_id"),
        # Audit review filters by person, action or record key, newest first, at 10^6 entries.
        Index("ix_audit_entries_actor", "actor", "occurred_at"),
        Index("ix_audit_entries_action", "action", "occurred_at"),
        Index("ix_audit_entries_record_key", "record_key", "occurred_at"),
    )


class AuditChainHead(Base):
    """The newest entry of one shard: lets verification notice a deleted tail."""

    __tablename__ = "audit_chain_heads"

    shard: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(default=0)
    hash: Mapped[str] = mapped_column(String(64))
