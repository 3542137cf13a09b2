"""Signed checkpoints of the audit trail, appended to a log outside the database.

A checkpoint states, for every shard, how many entries it holds and the RFC 6962 Merkle tree
head of their hashes, signed with the installation's Ed25519 key. One is made after every
e-signature (the transaction that signs commits first) and by `custody audit checkpoint`
(cron: there is no scheduler). `custody audit verify` reads the log and checks that every
checkpoint is genuine, follows the one before, and still matches the trail; an entry a
checkpoint covers cannot be altered, re-hashed or deleted, even at the end of a chain, without
that showing.

The log is JSON Lines, one checkpoint a line, in canonical JSON (sorted keys, no spaces,
ASCII). Its fields: `format`, `number` (1, 2, ...), `made_at` (UTC), `reason`, `previous`
(SHA-256 of the previous line, 64 zeros for the first), `key_id`, `shards` ([shard, entries,
Merkle root, first seq with a MAC], every shard with entries) and `signature` (Ed25519 over
`SIGNED_PREFIX` + the canonical JSON of the other fields). The leaf of an entry is
SHA-256(0x00 || its 32-byte hash).

Checkpoints are incremental: the frontier of each shard's tree is kept beside the log
(`<log>.state`, a cache rebuilt from the database when missing), so a checkpoint reads only
the entries written since the last one. Before it signs, it checks them (links, hashes, MACs)
and that the trail still matches the last checkpoint: it never signs a tampered trail.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from custody.domain.audit_chain import (
    DIRECT,
    GENESIS_HASH,
    HASHED_FIELDS,
    ShardCheck,
    entry_leaf,
    format_timestamp,
)
from custody.domain.merkle import Frontier
from custody.models.audit import AuditChainHead, AuditEntry
from custody.models.base import utcnow
from custody.services.core.audit_keys import AuditKeys, signature_holds

FORMAT = "custody-audit-checkpoint/1"
SIGNED_PREFIX = b"custody audit checkpoint v1\n"
_BATCH = 20_000
# How long a checkpoint waits for the one being made before it (never forever: an e-signature's
# request waits on it).
LOCK_WAIT_SECONDS = 30


class CheckpointRefused(RuntimeError):
    """Nothing was signed; the message says why in one line."""


@dataclass(frozen=True)
class ShardHead:
    shard: int
    size: int
    root: str
    mac_from: int


@dataclass(frozen=True)
class Checkpoint:
    number: int
    made_at: str
    reason: str
    previous: str
    key_id: str
    shards: tuple[ShardHead, ...]
    signature: str
    line: str

    @property
    def line_hash(self) -> str:
        return hashlib.sha256(self.line.encode("ascii")).hexdigest()

    def head(self, shard: int) -> ShardHead | None:
        return next((head for head in self.shards if head.shard == shard), None)

    def body(self) -> dict:
        return _body(
            self.number, self.made_at, self.reason, self.previous, self.key_id, self.shards
        )

    def as_json(self) -> dict:
        return {**self.body(), "signature": self.signature}

    def signed_by(self, public: bytes) -> bool:
        try:
            signature = bytes.fromhex(self.signature)
        except ValueError:
            return False
        return signature_holds(public, signed_message(self.body()), signature)


def canonical(document: dict) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def signed_message(body: dict) -> bytes:
    """What a checkpoint's signature covers."""
    return SIGNED_PREFIX + canonical(body).encode("ascii")


def _body(number, made_at, reason, previous, key_id, shards) -> dict:
    return {
        "format": FORMAT,
        "number": number,
        "made_at": made_at,
        "reason": reason,
        "previous": previous,
        "key_id": key_id,
        "shards": [[h.shard, h.size, h.root, h.mac_from] for h in shards],
    }


def parse_checkpoint(line: str) -> Checkpoint:
    """One log line as a checkpoint; ValueError says what is wrong with it."""
    try:
        document = json.loads(line)
        if document.get("format") != FORMAT:
            raise ValueError(f"it is not a {FORMAT} line")
        shards = tuple(
            ShardHead(int(s), int(n), str(r), int(m)) for s, n, r, m in document["shards"]
        )
        checkpoint = Checkpoint(
            number=int(document["number"]),
            made_at=str(document["made_at"]),
            reason=str(document["reason"]),
            previous=str(document["previous"]),
            key_id=str(document["key_id"]),
            shards=shards,
            signature=str(document["signature"]),
            line=line,
        )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"it cannot be read as a checkpoint ({error})") from None
    if canonical(checkpoint.as_json()) != line:
        raise ValueError("it is not written as the tracker writes checkpoints (canonical JSON)")
    return checkpoint


def read_log(path: Path) -> list[tuple[int, str]]:
    """Every line of the log with its line number (an absent log is an empty one)."""
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as error:
        raise CheckpointRefused(f"the checkpoint log {path} cannot be read: {error}") from None
    return [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line]


# --- making one ---------------------------------------------------------------------------


def make_checkpoint(engine: Engine, keys: AuditKeys, log: Path, reason: str) -> Checkpoint | None:
    """Sign and append a checkpoint of the trail as committed now; None when nothing was
    written since the last one. Raises CheckpointRefused, having signed nothing, when the log
    or the trail does not hold."""
    if not log.parent.is_dir():
        raise CheckpointRefused(f"the checkpoint log's folder {log.parent} does not exist")
    with _locked(log) as handle:
        last = _last_checkpoint(handle, keys, log)
        state = _load_state(log, last)
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                heads, frontiers = _advance(conn, keys, last, state)
        if last is not None and [(h.shard, h.size) for h in heads] == [
            (h.shard, h.size) for h in last.shards
        ]:
            return None
        number = last.number + 1 if last else 1
        previous = last.line_hash if last else GENESIS_HASH
        made_at = format_timestamp(utcnow())
        body = _body(number, made_at, reason[:200], previous, keys.key_id, heads)
        signature = keys.sign(signed_message(body)).hex()
        line = canonical({**body, "signature": signature})
        handle.seek(0, os.SEEK_END)
        handle.write(line.encode("ascii") + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
        checkpoint = parse_checkpoint(line)
        _save_state(log, checkpoint, frontiers)
    return checkpoint


@contextmanager
def _locked(log: Path) -> Iterator:
    """The log opened for appending, under an exclusive lock: checkpoints are made one at a
    time, each after the one before, whichever process makes them."""
    descriptor = os.open(log, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    with os.fdopen(descriptor, "r+b") as handle:
        waited = 0.0
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if waited >= LOCK_WAIT_SECONDS:
                    raise CheckpointRefused(
                        f"the checkpoint log {log} stayed locked by another checkpoint for "
                        f"{LOCK_WAIT_SECONDS} s: nothing was signed"
                    ) from None
                time.sleep(0.05)
                waited += 0.05
        try:
            yield handle
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _last_checkpoint(handle, keys: AuditKeys, log: Path) -> Checkpoint | None:
    """The log's last checkpoint, which must be this installation's and genuine: a new
    checkpoint is never chained to a line that does not hold."""
    line = _last_line(handle)
    if line is None:
        return None
    try:
        checkpoint = parse_checkpoint(line)
    except ValueError as why:
        raise CheckpointRefused(
            f"the last line of the checkpoint log {log} is damaged ({why}): nothing was signed; "
            "run `custody audit verify`"
        ) from None
    if checkpoint.key_id != keys.key_id:
        raise CheckpointRefused(
            f"the checkpoint log {log} was signed with another key ({checkpoint.key_id}; this "
            f"installation's is {keys.key_id}): nothing was signed"
        )
    if not checkpoint.signed_by(keys.public):
        raise CheckpointRefused(
            f"checkpoint {checkpoint.number} in {log} does not carry a valid signature: "
            "nothing was signed; run `custody audit verify`"
        )
    return checkpoint


def _last_line(handle) -> str | None:
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    window = 4096
    while True:
        start = max(0, size - window)
        handle.seek(start)
        tail = handle.read(size - start).rstrip(b"\n")
        if not tail:
            return None
        cut = tail.rfind(b"\n")
        if cut >= 0 or start == 0:
            return tail[cut + 1 :].decode("ascii", errors="replace")
        window *= 4


def _advance(conn: Connection, keys: AuditKeys, last: Checkpoint | None, state: dict):
    """Every shard's head now, each tree grown from the last checkpoint by the entries
    written since, which are checked first."""
    table = AuditChainHead.__table__
    heads_now = {row.shard: row for row in conn.execute(select(table))}
    if last is not None:
        for head in last.shards:
            if head.shard not in heads_now:
                heads_now[head.shard] = None
    heads, frontiers = [], {}
    for shard in sorted(heads_now):
        row = heads_now[shard]
        head_seq, head_hash = (row.seq, row.hash) if row else (0, GENESIS_HASH)
        pinned = last.head(shard) if last else None
        old_size = pinned.size if pinned else 0
        if head_seq < old_size:
            raise CheckpointRefused(
                f"shard {shard} now ends at seq {head_seq}, but checkpoint {last.number} covered "
                f"{old_size} entries: entries were deleted; nothing was signed; run "
                "`custody audit verify`"
            )
        if head_seq == 0:
            continue
        frontier, last_hash = _frontier_at(conn, shard, pinned, last, state.get(shard))
        # The first checkpoint ever made pins where each shard's MACs begin (entries written
        # before the key have none); a shard that appears after it has them from its start.
        mac_from = pinned.mac_from if pinned else (None if last is None else 1)
        check = ShardCheck.resume(shard, keys.mac, old_size, last_hash, mac_from)
        heads.append(_grow(conn, check, frontier, head_seq, head_hash))
        frontiers[shard] = (frontier, head_hash)
    return heads, frontiers


def _frontier_at(conn, shard: int, pinned: ShardHead | None, last, cached) -> tuple:
    """The shard's tree as the last checkpoint signed it: from the cache when it matches the
    signed root, else rebuilt from the database, which must still match it."""
    if pinned is None:
        return Frontier(), GENESIS_HASH
    if cached is not None:
        frontier, last_hash = cached
        if frontier.size == pinned.size and frontier.root().hex() == pinned.root:
            return frontier, last_hash
    entries = AuditEntry.__table__
    rows = conn.execute(
        select(entries.c.hash)
        .where(entries.c.shard == shard, entries.c.seq <= pinned.size)
        .order_by(entries.c.seq)
        .execution_options(yield_per=_BATCH)
    )
    frontier, last_hash = Frontier(), GENESIS_HASH
    for (stored,) in rows:
        frontier.append(entry_leaf(stored))
        last_hash = stored
    if frontier.size != pinned.size or frontier.root().hex() != pinned.root:
        raise CheckpointRefused(
            f"shard {shard} no longer matches checkpoint {last.number} (its first "
            f"{pinned.size} entries changed): nothing was signed; run `custody audit verify`"
        )
    return frontier, last_hash


def _grow(conn, check: ShardCheck, frontier: Frontier, head_seq: int, head_hash: str):
    """The shard's tree grown by the entries written since, each checked first."""
    entries = AuditEntry.__table__
    columns = [entries.c.id, entries.c.hash, entries.c.mac, *(entries.c[f] for f in HASHED_FIELDS)]
    rows = conn.execute(
        select(*columns)
        .where(entries.c.shard == check.shard, entries.c.seq > frontier.size)
        .order_by(entries.c.seq)
        .execution_options(yield_per=_BATCH)
    )
    for batch in rows.partitions():
        check.feed(batch)
        for row in batch:
            frontier.append(entry_leaf(row[1]))
    check.finish(head_seq, head_hash)
    problems = [p for p in check.problems if p.kind != DIRECT]
    if problems:
        raise CheckpointRefused(
            f"{problems[0].describe()}: nothing was signed; run `custody audit verify`"
        )
    mac_from = check.mac_from if check.mac_from is not None else (check.first_mac or head_seq + 1)
    return ShardHead(check.shard, frontier.size, frontier.root().hex(), mac_from)


# --- the frontier cache beside the log -------------------------------------------------------


def _state_path(log: Path) -> Path:
    return log.with_name(log.name + ".state")


def _load_state(log: Path, last: Checkpoint | None) -> dict:
    """Frontiers cached for the log's last checkpoint, or nothing (then they are rebuilt)."""
    if last is None:
        return {}
    try:
        document = json.loads(_state_path(log).read_text(encoding="ascii"))
        if document["checkpoint"] != last.number or document["line_hash"] != last.line_hash:
            return {}
        return {
            int(shard): (
                Frontier(entry["size"], [bytes.fromhex(n) for n in entry["frontier"]]),
                entry["last_hash"],
            )
            for shard, entry in document["shards"].items()
        }
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _save_state(log: Path, checkpoint: Checkpoint, frontiers: dict) -> None:
    document = {
        "checkpoint": checkpoint.number,
        "line_hash": checkpoint.line_hash,
        "shards": {
            str(shard): {
                "size": frontier.size,
                "frontier": [node.hex() for node in frontier.nodes],
                "last_hash": last_hash,
            }
            for shard, (frontier, last_hash) in frontiers.items()
        },
    }
    path = _state_path(log)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(document), encoding="ascii")
    os.replace(temporary, path)
