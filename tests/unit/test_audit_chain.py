"""The audit trail's hash chain: known-answer hashes and shards, and every way a chain breaks.

The digests below were computed once, outside this code, with Python's hashlib over the payload
written out beside them; they are pasted here as literals so that any change to the encoding
(field order, separators, ASCII escaping, the hash function) fails these tests.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from custody.domain.audit_chain import (
    GENESIS_HASH,
    HASHED_FIELDS,
    ChainBreak,
    entry_hash,
    format_timestamp,
    hash_values,
    shard_for,
    verify_shard,
)

ZEROS = "0000000000000000000000000000000000000000000000000000000000000000"

# Entry 1 of shard 0: a lot released by QA, with a reason in French (non-ASCII stays UTF-8).
ENTRY_1 = {
    "shard": 0,
    "seq": 1,
    "occurred_at": "2026-03-14T09:30:00.000000Z",
    "actor": "zoë.qa",
    "action": "update",
    "record_type": "lots",
    "record_id": "17",
    "record_key": "LT-2026-001",
    "changes": '{"disposition": ["quarantine", "released"]}',
    "reason": "Résultats conformes",
    "prev_hash": ZEROS,
}
# json.dumps([...], ensure_ascii=False) of ENTRY_1's values in HASHED_FIELDS order:
PAYLOAD_1 = (
    '[0, 1, "2026-03-14T09:30:00.000000Z", "zoë.qa", "update", "lots", "17", "LT-2026-001", '
    '"{\\"disposition\\": [\\"quarantine\\", \\"released\\"]}", "Résultats conformes", '
    '"0000000000000000000000000000000000000000000000000000000000000000"]'
)
# hashlib.sha256(PAYLOAD_1.encode("utf-8")).hexdigest()
HASH_1 = "789f7c411c3eff498729d68cd90733b3c7a6065a0f1567226069ede416e42741"
# The same payload with ensure_ascii=True ("zo\u00eb.qa") hashes differently:
HASH_1_IF_ASCII_ESCAPED = "4aedccc6f1586cde4bd8a7d07becb9adfed29f4c10b0adec967b8bf978248029"

# Entry 2 of shard 0, chained to entry 1; no reason given.
ENTRY_2 = {
    "shard": 0,
    "seq": 2,
    "occurred_at": "2026-03-14T09:31:05.250000Z",
    "actor": "nina",
    "action": "insert",
    "record_type": "bags",
    "record_id": "4",
    "record_key": "W999926000001-D0001VA0",
    "changes": '{"status": "received"}',
    "reason": "",
    "prev_hash": HASH_1,
}
# [0, 2, "2026-03-14T09:31:05.250000Z", "nina", "insert", "bags", "4",
#  "W999926000001-D0001VA0", "{\"status\": \"received\"}", "", "789f7c41…e42741"]
HASH_2 = "f86f3fa0f31cc3f6a89111a6b288cb9d3832c775feb8b96f5ab90b1057793f1a"


FIELDS = (
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


def test_the_hashed_fields_are_these_in_this_order():
    assert HASHED_FIELDS == FIELDS
    assert GENESIS_HASH == ZEROS


def test_known_answer_hashes():
    values = [ENTRY_1[name] for name in FIELDS]
    assert json.dumps(values, ensure_ascii=False) == PAYLOAD_1  # the payload written above
    assert hash_values(values) == HASH_1
    assert hash_values(tuple(values)) == HASH_1
    assert hash_values(values) != HASH_1_IF_ASCII_ESCAPED
    assert entry_hash(ENTRY_1) == HASH_1
    assert entry_hash(ENTRY_2) == HASH_2


def test_entry_hash_reads_only_the_hashed_fields_whatever_their_order():
    shuffled = dict(reversed(ENTRY_1.items())) | {"id": 99, "hash": "not hashed"}
    assert entry_hash(shuffled) == HASH_1


@pytest.mark.parametrize("field", FIELDS)
def test_every_hashed_field_changes_the_hash(field):
    edited = dict(ENTRY_1)
    edited[field] = edited[field] + (7 if field in ("shard", "seq") else "x")
    assert entry_hash(edited) != HASH_1


def test_timestamps_are_fixed_width_utc_with_microseconds():
    paris = timezone(timedelta(hours=1))
    assert format_timestamp(datetime(2026, 3, 14, 10, 30, 0, 250, tzinfo=paris)) == (
        "2026-03-14T09:30:00.000250Z"
    )
    assert format_timestamp(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == (
        "2026-01-02T03:04:05.000000Z"
    )


def test_timestamps_are_utc_whatever_the_servers_zone(monkeypatch):
    monkeypatch.setenv("TZ", "EST5EDT")  # POSIX rule: no zone database needed
    time.tzset()
    try:
        moment = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
        assert format_timestamp(moment) == "2026-07-01T12:00:00.000000Z"
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize(
    ("record_type", "record_id", "shards", "shard"),
    [
        # blake2b("lots:17", digest_size=4) = 69 56 2d ac = 1767255468; 1767255468 % 16 = 12
        ("lots", "17", 16, 12),
        ("lots", "17", 8, 4),
        # blake2b("bags:4", digest_size=4) = 4a b8 9e 5b = 1253613147; % 16 = 11, % 64 = 27
        ("bags", "4", 16, 11),
        ("bags", "4", 64, 27),
        # blake2b("recipients:CAR33-001", digest_size=4) = 79 2d 27 b6 = 2033002422; % 64 = 54
        ("recipients", "CAR33-001", 64, 54),
        ("recipients", "CAR33-001", 1, 0),
    ],
)
def test_known_answer_shards(record_type, record_id, shards, shard):
    assert shard_for(record_type, record_id, shards) == shard


# --- verifying a shard -----------------------------------------------------------------------


def _row(entry_id: int, entry: dict, stored_hash: str | None = None) -> tuple:
    """A verification row (id, hash, *FIELDS); the stored hash, by default the true one."""
    return (entry_id, stored_hash or entry_hash(entry), *(entry[f] for f in FIELDS))


def _entry_3() -> dict:
    return ENTRY_2 | {"seq": 3, "record_id": "5", "prev_hash": HASH_2}


def _chain() -> list[tuple]:
    """Three good rows with ids 11, 12, 13 (the first two with the known hashes above)."""
    return [_row(11, ENTRY_1, HASH_1), _row(12, ENTRY_2, HASH_2), _row(13, _entry_3())]


def _head() -> tuple[int, str]:
    return 3, entry_hash(_entry_3())


def test_a_good_chain_verifies():
    assert verify_shard(0, _chain(), *_head()) == (3, None)
    assert verify_shard(0, _chain()[:2], 2, HASH_2) == (2, None)


def test_an_empty_shard_verifies_with_or_without_its_head():
    assert verify_shard(5, [], None, None) == (0, None)
    assert verify_shard(5, [], 0, GENESIS_HASH) == (0, None)


def test_an_edited_entry_no_longer_matches_its_hash():
    rows = _chain()
    rows[1] = _row(12, ENTRY_2 | {"actor": "mallory"}, HASH_2)
    assert verify_shard(0, rows, *_head()) == (
        2,
        ChainBreak(0, 12, 2, "content does not match its hash (the row was altered)"),
    )


def test_an_edited_entry_with_its_hash_recomputed_breaks_the_next_link():
    rows = _chain()
    rows[0] = _row(11, ENTRY_1 | {"reason": "Looked fine"})  # hash recomputed by the forger
    assert verify_shard(0, rows, *_head()) == (
        2,
        ChainBreak(0, 12, 2, "previous-hash link does not match the preceding entry"),
    )


def test_a_first_entry_not_linked_to_genesis_breaks():
    rows = [_row(11, ENTRY_1 | {"prev_hash": HASH_2})]
    assert verify_shard(0, rows, 1, HASH_1) == (
        1,
        ChainBreak(0, 11, 1, "previous-hash link does not match the preceding entry"),
    )


def test_a_deleted_entry_is_a_missing_sequence_number():
    rows = _chain()
    del rows[1]
    assert verify_shard(0, rows, *_head()) == (
        2,
        ChainBreak(0, 13, 3, "sequence jumps from 1 to 3 (entry missing)"),
    )


def test_a_deleted_first_entry_is_a_missing_sequence_number():
    assert verify_shard(0, _chain()[1:], *_head()) == (
        1,
        ChainBreak(0, 12, 2, "sequence jumps from 0 to 2 (entry missing)"),
    )


def test_an_inserted_entry_duplicates_a_sequence_number():
    forged = ENTRY_2 | {"actor": "mallory", "record_id": "9"}
    rows = _chain()
    rows.insert(1, _row(99, forged))
    # The forged row takes seq 2 and links correctly; the real seq 2 after it is a duplicate.
    assert verify_shard(0, rows, *_head()) == (
        3,
        ChainBreak(0, 12, 2, "sequence jumps from 2 to 2 (entry duplicated)"),
    )


def test_a_wrong_sequence_number_breaks_even_with_a_good_hash():
    rows = _chain()
    rows[2] = _row(13, _entry_3() | {"seq": 4})
    assert verify_shard(0, rows, 4, rows[2][1]) == (
        3,
        ChainBreak(0, 13, 4, "sequence jumps from 2 to 4 (entry missing)"),
    )


def test_a_deleted_tail_disagrees_with_the_head():
    count, brk = verify_shard(0, _chain()[:2], *_head())
    assert (count, brk) == (
        2,
        ChainBreak(
            0,
            None,
            2,
            "chain ends at seq 2 but its head records seq 3 (entries deleted or the head altered)",
        ),
    )
    assert brk.describe() == (
        "shard 0: chain ends at seq 2 but its head records seq 3 (entries deleted or the head "
        "altered)"
    )


def test_a_missing_or_altered_head_is_a_break():
    # No head row at all, though the shard has entries.
    assert verify_shard(0, _chain(), None, None) == (
        3,
        ChainBreak(
            0,
            None,
            3,
            "chain ends at seq 3 but its head records seq 0 (entries deleted or the head altered)",
        ),
    )
    # The head's sequence is right but its hash is not the last entry's.
    count, brk = verify_shard(0, _chain(), 3, HASH_2)
    assert (count, brk.entry_id, brk.seq) == (3, None, 3)
    # A head claiming entries in a shard that has none.
    count, brk = verify_shard(0, [], 1, HASH_1)
    assert (count, brk.seq) == (0, 0)
    assert brk.reason.startswith("chain ends at seq 0 but its head records seq 1")
    # The head's hash alone is wrong for an empty shard.
    assert verify_shard(0, [], 0, HASH_1)[1] is not None


def test_a_break_names_its_entry():
    brk = ChainBreak(4, 12, 2, "content does not match its hash (the row was altered)")
    assert brk.describe() == (
        "entry 12 (shard 4, seq 2): content does not match its hash (the row was altered)"
    )
