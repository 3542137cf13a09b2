"""Benchmark: `custody audit verify` over a large trail (budget: 10^6 entries in under 10 s).

Builds a migrated database holding N audit entries chained by the production code, then times
the production verifier, plus a bare read-and-hash pass over the same rows for comparison.

    python -m tests.benchmarks.audit_verify --entries 1000000 [--database-url URL]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time

from sqlalchemy import insert, select

from custody.domain.audit_chain import GENESIS_HASH, entry_hash, format_timestamp, shard_for
from custody.extensions import db
from custody.models import AuditChainHead, AuditEntry
from custody.models.base import utcnow
from tests.benchmarks import migrated_app

SHARDS = 16
BATCH = 20_000


def build_trail(entries: int) -> None:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with migrated_app(args.database_url) as app, app.app_context():
        started = time.perf_counter()
        build_trail(args.entries)
        print(f"built {args.entries} entries in {time.perf_counter() - started:.1f} s")

        from custody.services.audit.verify import verify_trail

        started = time.perf_counter()
        count = bare_read_and_hash()
        floor = time.perf_counter() - started
        print(f"read+hash floor: {count} rows in {floor:.2f} s")
        started = time.perf_counter()
        with db.engine.connect() as conn:
            report = verify_trail(conn)
        elapsed = time.perf_counter() - started
        assert report.ok and report.entries == args.entries, report
        print(
            f"audit verify: {report.entries} entries in {elapsed:.2f} s "
            f"({elapsed / floor:.2f}x the floor)"
        )


if __name__ == "__main__":
    main()
