"""Verifies the whole audit trail: every shard's chain, end to end, against its head."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Connection

from custody.domain.audit_chain import HASHED_FIELDS, ChainBreak, verify_shard
from custody.models.audit import AuditChainHead, AuditEntry

_BATCH = 20_000


@dataclass(frozen=True)
class VerifyReport:
    entries: int
    first_break: ChainBreak | None

    @property
    def ok(self) -> bool:
        return self.first_break is None


def verify_trail(conn: Connection, progress: Callable[[int], None] | None = None) -> VerifyReport:
    """Walk each shard in sequence order; report the first break of the earliest-written kind."""
    entries_table = AuditEntry.__table__
    heads = {row.shard: row for row in conn.execute(select(AuditChainHead.__table__))}
    shards = sorted(set(heads) | _shards_with_entries(conn))
    columns = [
        entries_table.c.id,
        entries_table.c.hash,
        *(entries_table.c[f] for f in HASHED_FIELDS),
    ]
    total = 0
    breaks: list[ChainBreak] = []
    for shard in shards:
        query = (
            select(*columns)
            .where(entries_table.c.shard == shard)
            .order_by(entries_table.c.seq)
            .execution_options(yield_per=_BATCH)
        )
        rows = conn.execute(query)
        head = heads.get(shard)
        count, brk = verify_shard(
            shard, rows, head.seq if head else None, head.hash if head else None
        )
        total += count
        if progress:
            progress(total)
        if brk:
            breaks.append(brk)
    # Name the break with the lowest entry id: the earliest tampered row the trail can show.
    first = min(breaks, key=lambda b: (b.entry_id is None, b.entry_id or 0), default=None)
    return VerifyReport(total, first)


def _shards_with_entries(conn: Connection) -> set[int]:
    entries_table = AuditEntry.__table__
    return set(conn.scalars(select(entries_table.c.shard).distinct()))
