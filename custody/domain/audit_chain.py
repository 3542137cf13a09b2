"""The audit trail's hash chain, its keyed MACs and its check, as pure functions.

An entry's hash covers every stored field and its predecessor's hash, so editing, deleting or
inserting a row by hand breaks the chain at that row. The chain is sharded: each shard is an
independent chain with gapless sequence numbers, and a head row per shard records the last
sequence and hash so that a deleted tail is noticed too.

A hash anyone can recompute, so whoever can write to the database could re-hash a chain. Two
controls hold with a key that is not in the database: every entry carries an HMAC-SHA256 of
its hash under the audit key (`entry_mac`), and signed checkpoints commit to each shard's
entries as a Merkle tree head (`custody.domain.merkle`). `ShardCheck` checks one shard's rows
against all of it in one pass.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import c_make_encoder, encode_basestring

from custody.domain.merkle import Frontier, leaf_hash

GENESIS_HASH = "0" * 64
# Entries the database wrote itself (the PostgreSQL tripwire for writes that did not come
# through the application) name the database role as `database:<role>`.
DIRECT_ACTOR_PREFIX = "database:"
# What the audit key is used for: one secret, a separate key for each purpose.
MAC_KEY_LABEL = b"custody audit trail: entry MAC key, v1"
SIGNING_KEY_LABEL = b"custody audit trail: checkpoint Ed25519 seed, v1"
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


# Exactly json.dumps(values, ensure_ascii=False) ("[1, \"a\"]"), by the C encoder json.dumps
# itself uses, made once instead of per entry: verifying a million entries spends most of its
# time here. The known-answer hashes in tests/unit/test_audit_chain.py pin the output.
_chunks = c_make_encoder(
    None, json.JSONEncoder().default, encode_basestring, None, ": ", ", ", False, False, True
)


def hash_values(values: Sequence) -> str:
    """The same hash from the field values in HASHED_FIELDS order (a list or a tuple)."""
    return hashlib.sha256("".join(_chunks(values, 0)).encode("utf-8")).hexdigest()


def shard_for(record_type: str, record_id: str, shards: int) -> int:
    """All entries about one record land in one shard, so its history is one ordered chain."""
    digest = hashlib.blake2b(f"{record_type}:{record_id}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % shards


def derive_key(secret: bytes, label: bytes) -> bytes:
    """A 32-byte key for one purpose from the audit secret (HMAC-SHA256 as the PRF of a
    one-block KDF in counter mode, NIST SP 800-108): the MAC key and the checkpoint signing
    key come from one secret but never equal each other or the secret."""
    return hmac.digest(secret, label, "sha256")


def entry_mac(key: bytes, stored_hash: str) -> str:
    """HMAC-SHA256 of an entry's hash (hex text, as stored) under the MAC key. The hash covers
    every hashed field and the predecessor's hash, so the MAC binds all of them."""
    return hmac.digest(key, stored_hash.encode("ascii"), "sha256").hex()


def entry_leaf(stored_hash: str) -> bytes:
    """An entry's leaf in its shard's Merkle tree: RFC 6962's leaf hash of the entry's hash."""
    return leaf_hash(bytes.fromhex(stored_hash))


def keyed_mac(key: bytes):
    """An HMAC-SHA256 state keyed once under `key`: `.copy()`, `.update(hash)`, `.hexdigest()`
    give `entry_mac` without keying anew per entry."""
    return hmac.new(key, digestmod="sha256")


def _leaves(stored_hashes: Sequence[str]) -> list[bytes]:
    """`entry_leaf` of each stored hash, in one comprehension. A stored hash that is not hex
    (its entry's own check names it) gets the leaf of no bytes, which no entry's leaf (of 32
    bytes) equals: the checkpoint that covers it fails rather than the whole check."""
    sha256, fromhex = hashlib.sha256, bytes.fromhex
    try:
        return [sha256(b"\x00" + fromhex(stored)).digest() for stored in stored_hashes]
    except (TypeError, ValueError):
        return [_leaf_or_none(stored) for stored in stored_hashes]


def _leaf_or_none(stored_hash: str) -> bytes:
    try:
        return entry_leaf(stored_hash)
    except (TypeError, ValueError):
        return leaf_hash(b"")


def is_direct_change(actor: str) -> bool:
    """An entry the database wrote about a change that did not come through the application."""
    return actor.startswith(DIRECT_ACTOR_PREFIX)


# What kind of problem a check found. A `direct` one is the trail doing its job (it recorded a
# write that bypassed the application); the others say the trail itself was tampered with.
CHAIN, MAC, CHECKPOINT, DIRECT = "chain", "mac", "checkpoint", "direct"


@dataclass(frozen=True)
class ChainBreak:
    """A place where a shard's chain does not hold (or, `direct`, a write it reports)."""

    shard: int
    entry_id: int | None
    seq: int | None
    reason: str
    kind: str = CHAIN

    def describe(self) -> str:
        where = f"entry {self.entry_id} (shard {self.shard}, seq {self.seq})"
        if self.entry_id is None:
            where = f"shard {self.shard}"
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class Pin:
    """A signed checkpoint's word on one shard: its first `size` entries have Merkle tree head
    `root`; entries from `mac_from` on carry a MAC (those before were written before the
    audit key existed)."""

    checkpoint: int
    size: int
    root: bytes
    mac_from: int = 1


FORGED = "MAC does not match: written or re-hashed by someone without the audit key"
UNKEYED = "no MAC: written without the audit key"
# Positions in a check row: (id, hash, mac, *HASHED_FIELDS).
_ID, _HASH, _MAC, _FIELDS = 0, 1, 2, 3
_SEQ = _FIELDS + HASHED_FIELDS.index("seq")
_PREV = _FIELDS + HASHED_FIELDS.index("prev_hash")
_ACTOR = _FIELDS + HASHED_FIELDS.index("actor")


@dataclass
class ShardCheck:
    """One shard's rows, in sequence order, checked in one pass: sequence, links, hashes, MACs
    (with `mac_key`) and the signed checkpoints' tree heads (`pins`, smallest first).

    Feed it rows (id, hash, mac, *HASHED_FIELDS) with `feed`, then call `finish` with the
    shard's head row. It goes on after a problem, so every problem is named: a break in the
    sequence or a link is reported once and the check goes on from the row found there.
    """

    shard: int
    mac_key: bytes | None = None
    pins: Sequence[Pin] = ()
    # Where MACs begin when no checkpoint pins it: 1, every entry carries one. None accepts
    # MAC-less entries before the shard's first MAC, as written before the key existed: only
    # the first checkpoint ever made uses it, to pin that boundary for good.
    mac_from: int | None = 1
    count: int = 0
    problems: list[ChainBreak] = field(default_factory=list)
    # MAC-less entries accepted because they were written before the audit key existed.
    legacy: int = 0
    # The sequence number of the first entry seen with a MAC.
    first_mac: int | None = None
    _next_seq: int = 1
    _prev: str = GENESIS_HASH
    _seen_mac: bool = False
    _frontier: Frontier | None = None
    _pin_at: int = 0
    _checkpoints_hold: bool = True

    def __post_init__(self) -> None:
        # The earliest checkpoint that names the shard pins where MACs begin.
        first = min(self.pins, key=lambda pin: pin.checkpoint, default=None)
        self._mac_from = first.mac_from if first else self.mac_from
        self.pins = sorted(
            (pin for pin in self.pins if pin.size > 0), key=lambda pin: (pin.size, pin.checkpoint)
        )
        if self.pins:
            self._frontier = Frontier()

    @classmethod
    def resume(
        cls, shard: int, mac_key: bytes | None, after_seq: int, last_hash: str, mac_from: int | None
    ) -> ShardCheck:
        """A check that starts after entry `after_seq` (whose hash is `last_hash`), as a new
        checkpoint does when it reads only what was written since the last one."""
        check = cls(shard, mac_key, mac_from=mac_from)
        check._next_seq, check._prev = after_seq + 1, last_hash
        check._seen_mac = mac_from is not None and after_seq >= mac_from
        return check

    def feed(self, rows: Iterable[Sequence]) -> None:
        """Check rows in sequence order. A hot loop (a million rows in seconds): the running
        state lives in locals and is written back at the end, and the per-entry functions
        (`hash_values`, `is_direct_change`, `entry_mac`, `entry_leaf`) are inlined."""
        mac_key, mac_from = self.mac_key, self._mac_from
        keyed = keyed_mac(mac_key) if mac_key is not None else None
        sha256, join, chunks, direct = hashlib.sha256, "".join, _chunks, DIRECT_ACTOR_PREFIX
        # Hashes of entries a checkpoint covers, waiting to grow the tree up to the next
        # checkpoint's size (or the end of the rows); `grows` is None once none needs more.
        pending: list[str] = []
        grows = pending.append if self._frontier is not None else None
        pin_size = self.pins[self._pin_at].size if grows is not None else 0
        count, next_seq, prev, seen_mac = self.count, self._next_seq, self._prev, self._seen_mac
        for row in rows:
            count += 1
            seq, stored = row[_SEQ], row[_HASH]
            if seq != next_seq:
                missing = "missing" if seq > next_seq else "duplicated"
                self._problem(row, f"sequence jumps from {next_seq - 1} to {seq} (entry {missing})")
            elif row[_PREV] != prev:
                self._problem(row, "previous-hash link does not match the preceding entry")
            if sha256(join(chunks(row[_FIELDS:], 0)).encode()).hexdigest() != stored:
                self._problem(row, "content does not match its hash (the row was altered)")
            elif row[_ACTOR].startswith(direct):
                self._direct(row)
            elif keyed is not None:
                mac = row[_MAC]
                if mac:
                    if not seen_mac:
                        seen_mac, self.first_mac = True, seq
                    mac_of = keyed.copy()
                    mac_of.update(stored.encode())
                    if mac_of.hexdigest() != mac:
                        self._problem(row, FORGED, MAC)
                elif (seq < mac_from) if mac_from is not None else not seen_mac:
                    self.legacy += 1
                else:
                    self._problem(row, UNKEYED, MAC)
            prev, next_seq = stored, seq + 1
            if grows is not None:
                grows(stored)
                if count == pin_size:
                    self.count = count
                    if self._grow_tree(pending):
                        pin_size = self.pins[self._pin_at].size
                    else:
                        grows = None
        if grows is not None and pending:
            self._frontier.extend(_leaves(pending))
        self.count, self._next_seq, self._prev, self._seen_mac = count, next_seq, prev, seen_mac

    def finish(self, head_seq: int | None, head_hash: str | None) -> None:
        """After the last row: the head row must name it, and every checkpoint's entries must
        still all be there."""
        last_seq = self._next_seq - 1
        if (head_seq or 0) != last_seq or (head_hash or GENESIS_HASH) != self._prev:
            self.problems.append(
                ChainBreak(
                    self.shard,
                    None,
                    last_seq,
                    f"chain ends at seq {last_seq} but its head records seq {head_seq or 0}"
                    " (entries deleted or the head altered)",
                )
            )
        if self._checkpoints_hold and self._pin_at < len(self.pins):
            pin = self.pins[self._pin_at]
            self._fail_checkpoint(
                pin,
                f"checkpoint {pin.checkpoint} covers {pin.size} entries but only "
                f"{self.count} remain (entries deleted)",
            )

    def _grow_tree(self, pending: list[str]) -> bool:
        """The tree grown by the pending entries to the next checkpoint's size, its head
        compared with every checkpoint of that size. True while a later checkpoint needs more
        entries; once none does, or one fails, the tree is dropped."""
        self._frontier.extend(_leaves(pending))
        pending.clear()
        head = self._frontier.root()
        while self._pin_at < len(self.pins) and self.pins[self._pin_at].size == self.count:
            pin = self.pins[self._pin_at]
            self._pin_at += 1
            if pin.root != head:
                self._fail_checkpoint(
                    pin,
                    f"its first {pin.size} entries no longer match signed checkpoint "
                    f"{pin.checkpoint} (entries altered, inserted or deleted since)",
                )
                return False
        if self._pin_at == len(self.pins):
            self._frontier = None
            return False
        return True

    def _fail_checkpoint(self, pin: Pin, reason: str) -> None:
        # One checkpoint named is enough: the later ones cover the same damage.
        self._checkpoints_hold = False
        self._frontier = None
        self.problems.append(ChainBreak(self.shard, None, pin.size, reason, CHECKPOINT))

    def _problem(self, row: Sequence, reason: str, kind: str = CHAIN) -> None:
        self.problems.append(ChainBreak(self.shard, row[_ID], row[_SEQ], reason, kind))

    def _direct(self, row: Sequence) -> None:
        at = _FIELDS + HASHED_FIELDS.index("occurred_at")
        action = _FIELDS + HASHED_FIELDS.index("action")
        record = row[_FIELDS + HASHED_FIELDS.index("record_type")]
        record_id = row[_FIELDS + HASHED_FIELDS.index("record_id")]
        key = row[_FIELDS + HASHED_FIELDS.index("record_key")]
        named = f"{record} {record_id}" + (f" ({key})" if key else "")
        self._problem(
            row,
            f"direct database change, not through the application: {row[action]} of {named} "
            f"by {row[_ACTOR]} at {row[at]}",
            DIRECT,
        )


def verify_shard(
    shard: int, rows: Iterable[Sequence], head_seq: int | None, head_hash: str | None
) -> tuple[int, ChainBreak | None]:
    """Check one shard's rows (id, hash, *HASHED_FIELDS) in sequence order, without MACs or
    checkpoints, up to the first break.

    Returns (entries checked, first break or None).
    """
    check = ShardCheck(shard)
    for row in rows:
        check.feed([(row[0], row[1], "", *row[2:])])
        if check.problems:
            return check.count, check.problems[0]
    check.finish(head_seq, head_hash)
    return check.count, (check.problems[0] if check.problems else None)
