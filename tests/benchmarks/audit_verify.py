"""Benchmark: `custody audit verify` over a large trail (budget: 10^6 entries in under 10 s).

Builds a migrated database holding N audit entries chained and MACed by the production code
under an audit key of its own, signs one checkpoint covering them all (timed: a first
checkpoint reads the whole trail), then times the production verifier (chains, MACs and the
checkpoint's Merkle heads in one pass) against two floors over the same rows: a bare read
and hash of each row, and a read that checks the same hashes and MACs with the same encoding
(the DESIGN budget's floor).

    python -m tests.benchmarks.audit_verify --entries 1000000 [--database-url URL]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from sqlalchemy import insert, select

from custody.config import EXTENSION_KEY
from custody.domain.audit_chain import (
    GENESIS_HASH,
    HASHED_FIELDS,
    entry_hash,
    entry_mac,
    format_timestamp,
    hash_values,
    shard_for,
)
from custody.extensions import db
from custody.models import AuditChainHead, AuditEntry
from custody.models.base import utcnow
from tests.benchmarks import migrated_app

SHARDS = 16
BATCH = 20_000


def build_trail(entries: int, mac_key: bytes | None = None) -> None:
    heads = {shard: (0, GENESIS_HASH) for shard in range(SHARDS)}
    stamp = format_timestamp(utcnow())
    changes = json.dumps({"status": ["stored", "released"], "version": [3, 4]}, sort_keys=True)
    rows = []
    for n in range(entries):
        record_id = str(n // 4)
        shard = shard_for("bags", record_id, SHARDS)
        seq, prev = heads[shard]
        row = {
            "shard": shard,
            "seq": seq + 1,
            "occurred_at": stamp,
            "actor": "tech",
            "action": "update",
            "record_type": "bags",
            "record_id": record_id,
            "record_key": f"W999926{n // 4:06d}-D0001VA0",
            "changes": changes,
            "reason": "scan",
            "prev_hash": prev,
        }
        row["hash"] = entry_hash(row)
        row["mac"] = entry_mac(mac_key, row["hash"]) if mac_key else ""
        heads[shard] = (seq + 1, row["hash"])
        rows.append(row)
        if len(rows) == BATCH:
            db.session.execute(insert(AuditEntry.__table__), rows)
            rows.clear()
    if rows:
        db.session.execute(insert(AuditEntry.__table__), rows)
    db.session.execute(
        insert(AuditChainHead.__table__),
        [{"shard": s, "seq": seq, "hash": h} for s, (seq, h) in heads.items()],
    )
    db.session.commit()


def bare_read_and_hash() -> int:
    """The floor: read every stored row and hash its text, with no chain logic."""
    table = AuditEntry.__table__
    count = 0
    with db.engine.connect() as conn:
        for row in conn.execute(select(table).execution_options(yield_per=BATCH)):
            hashlib.sha256(repr(tuple(row)).encode()).hexdigest()
            count += 1
    return count


def hash_and_mac_floor(mac_key: bytes) -> int:
    """The DESIGN floor: read the same rows and check the same hashes and MACs, same encoding."""
    table = AuditEntry.__table__
    columns = [table.c.hash, table.c.mac, *(table.c[f] for f in HASHED_FIELDS)]
    count = 0
    with db.engine.connect() as conn:
        for row in conn.execute(select(*columns).execution_options(yield_per=BATCH)):
            assert hash_values(row[2:]) == row[0] and entry_mac(mac_key, row[0]) == row[1]
            count += 1
    return count


def keyed(app, folder: Path) -> None:
    """The app's settings with an audit key file and checkpoint log of the benchmark's own."""
    from custody.services.core.audit_keys import write_key_file

    write_key_file(folder / "audit.key")
    app.extensions[EXTENSION_KEY] = replace(
        app.extensions[EXTENSION_KEY],
        audit_key_file=folder / "audit.key",
        audit_checkpoint_log=folder / "checkpoints.jsonl",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with (
        migrated_app(args.database_url) as app,
        app.app_context(),
        tempfile.TemporaryDirectory() as keys,
    ):
        from custody.services.audit.verify import verify_trail
        from custody.services.core.audit_keys import audit_keys
        from custody.services.core.checkpoints import make_checkpoint

        keyed(app, Path(keys))
        mac_key = audit_keys().mac
        started = time.perf_counter()
        build_trail(args.entries, mac_key)
        print(f"built {args.entries} entries in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        checkpoint = make_checkpoint(
            db.engine, audit_keys(), Path(keys) / "checkpoints.jsonl", "bench"
        )
        print(
            f"first checkpoint ({len(checkpoint.shards)} shards) in "
            f"{time.perf_counter() - started:.2f} s"
        )

        started = time.perf_counter()
        count = bare_read_and_hash()
        floor = time.perf_counter() - started
        print(f"read+hash floor: {count} rows in {floor:.2f} s")
        started = time.perf_counter()
        hash_and_mac_floor(mac_key)
        keyed_floor = time.perf_counter() - started
        print(f"read+hash+MAC floor (same encoding): {count} rows in {keyed_floor:.2f} s")
        started = time.perf_counter()
        with db.engine.connect() as conn:
            report = verify_trail(conn)
        elapsed = time.perf_counter() - started
        assert report.ok and report.entries == args.entries and report.checkpoints == 1, report
        print(
            f"audit verify (chains, MACs, checkpoint): {report.entries} entries in {elapsed:.2f} s "
            f"({elapsed / floor:.2f}x the read+hash floor, {elapsed / keyed_floor:.2f}x the "
            "read+hash+MAC floor)"
        )


if __name__ == "__main__":
    main()
