"""The audit trail's hash chain, as pure functions.

An entry's hash covers every stored field and its predecessor's hash, so editing, deleting or
inserting a row by hand breaks the chain at that row. The chain is sharded: each shard is an
independent chain with gapless sequence numbers, and a head row per shard records the last
sequence and hash so that a deleted tail is noticed too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

GENESIS_HASH = "0" * 64
# What an entry records was done to its record.
ENTRY_ACTIONS = ("create", "update", "delete")

# The stored fields an entry's hash covers, in order. Changing this list invalidates old trails.
HASHED_FIELDS = (
    "shard",
    "seq",
    "occurred_at",
    "actor",
    "action",
    "record_type",
    "record_id",
    "record_key",
    "changes",
    "reason",
    "prev_hash",
)


def format_timestamp(moment: datetime) -> str:
    """Fixed-width UTC text: sorts as time does and hashes the same on every database."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(entry: Mapping) -> str:
    """SHA-256 over the canonical JSON of the hashed fields."""
    return hash_values([entry[name] for name in HASHED_FIELDS])


def hash_values(values: Sequence) -> str:
    """The same hash from the field values in HASHED_FIELDS order (a list or a tuple)."""
    payload = json.dumps(values, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def shard_for(record_type: str, record_id: str, shards: int) -> int:
    """All entries about one record land in one shard, so its history is one ordered chain."""
    digest = hashlib.blake2b(f"{record_type}:{record_id}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % shards


@dataclass(frozen=True)
class ChainBreak:
    """The first place where a shard's chain does not hold."""

    shard: int
    entry_id: int | None
    seq: int | None
    reason: str

    def describe(self) -> str:
        where = f"entry {self.entry_id} (shard {self.shard}, seq {self.seq})"
        if self.entry_id is None:
            where = f"shard {self.shard}"
        return f"{where}: {self.reason}"


# Positions in a verification row: (id, hash, *HASHED_FIELDS).
_ID, _HASH, _FIELDS = 0, 1, 2
_SEQ = _FIELDS + HASHED_FIELDS.index("seq")
_PREV = _FIELDS + HASHED_FIELDS.index("prev_hash")


def verify_shard(
    shard: int, rows: Iterable[Sequence], head_seq: int | None, head_hash: str | None
) -> tuple[int, ChainBreak | None]:
    """Check one shard's rows (id, hash, *HASHED_FIELDS) in sequence order.

    Returns (entries checked, first break or None). Rows are plain tuples so that a million
    of them verify in seconds.
    """
    expected_prev = GENESIS_HASH
    expected_seq = 1
    count = 0
    for row in rows:
        count += 1
        seq = row[_SEQ]
        if seq != expected_seq:
            missing = "missing" if seq > expected_seq else "duplicated"
            reason = f"sequence jumps from {expected_seq - 1} to {seq} (entry {missing})"
            return count, ChainBreak(shard, row[_ID], seq, reason)
        if row[_PREV] != expected_prev:
            reason = "previous-hash link does not match the preceding entry"
            return count, ChainBreak(shard, row[_ID], seq, reason)
        actual = hash_values(row[_FIELDS:])
        if actual != row[_HASH]:
            reason = "content does not match its hash (the row was altered)"
            return count, ChainBreak(shard, row[_ID], seq, reason)
        expected_prev = actual
        expected_seq += 1
    last_seq = expected_seq - 1
    if (head_seq or 0) != last_seq or (head_hash or GENESIS_HASH) != expected_prev:
        reason = (
            f"chain ends at seq {last_seq} but its head records seq {head_seq or 0}"
            " (entries deleted or the head altered)"
        )
        return count, ChainBreak(shard, None, last_seq, reason)
    return count, None
