"""The audit trail's hash chain, as pure functions.

An entry's hash covers every stored field and its predecessor's hash, so editing, deleting or
inserting a row by hand breaks the chain at that row. The chain is sharded: each shard is an
independent chain with gapless sequence numbers, and a head row per shard records the last
sequence and hash so that a deleted tail is noticed too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

GENESIS_HASH = "0" * 64

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
    payload = json.dumps([entry[name] for name in HASHED_FIELDS], ensure_ascii=False)
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


def verify_shard(
    shard: int, entries: Iterable[Mapping], head_seq: int | None, head_hash: str | None
) -> tuple[int, ChainBreak | None]:
    """Check one shard's entries, given in sequence order. Returns (entries checked, break)."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    count = 0
    for entry in entries:
        count += 1
        seq = entry["seq"]
        entry_id = entry["id"]
        if seq != expected_seq:
            missing = "missing" if seq > expected_seq else "duplicated"
            reason = f"sequence jumps from {expected_seq - 1} to {seq} (entry {missing})"
            return count, ChainBreak(shard, entry_id, seq, reason)
        if entry["prev_hash"] != expected_prev:
            reason = "previous-hash link does not match the preceding entry"
            return count, ChainBreak(shard, entry_id, seq, reason)
        actual = entry_hash(entry)
        if actual != entry["hash"]:
            reason = "content does not match its hash (the row was altered)"
            return count, ChainBreak(shard, entry_id, seq, reason)
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
