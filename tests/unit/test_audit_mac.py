"""The audit trail's keyed controls as pure functions: the keys made from the audit secret, each
entry's MAC and Merkle leaf, and `ShardCheck`, which checks a shard's chain, MACs and signed
checkpoints in one pass and names every problem.

The known answers were computed outside this code with OpenSSL (written beside each), from
the secret 00 01 02 … 1f, and pasted here as literals.
"""

from __future__ import annotations

import hashlib

from custody.domain import merkle
from custody.domain.audit_chain import (
    CHAIN,
    CHECKPOINT,
    DIRECT,
    DIRECT_ACTOR_PREFIX,
    HASHED_FIELDS,
    MAC,
    MAC_KEY_LABEL,
    SIGNING_KEY_LABEL,
    ChainBreak,
    Pin,
    ShardCheck,
    derive_key,
    entry_hash,
    entry_leaf,
    entry_mac,
    is_direct_change,
    keyed_mac,
)

SECRET = bytes(range(32))
# printf '%s' "custody audit trail: entry MAC key, v1" |
#   openssl dgst -sha256 -mac HMAC -macopt hexkey:000102…1f
MAC_KEY = bytes.fromhex("f550fde2d7670f7913638685bed7d94607b7b84fbb7d8945dbda9831b047c337")
# the same with "custody audit trail: checkpoint Ed25519 seed, v1"
SIGNING_SEED = bytes.fromhex("38050d675d5528216d3c7d36bf9c5f3d2b7559f19f468df96b0dedcea1d14288")
# An entry hash (test_audit_chain.HASH_1) and its MAC under MAC_KEY:
# printf '%s' 789f…2741 | openssl dgst -sha256 -mac HMAC -macopt hexkey:f550…c337
HASH_1 = "789f7c411c3eff498729d68cd90733b3c7a6065a0f1567226069ede416e42741"
MAC_1 = "aab568824f06ea6bb2010da0a7b04d0bb7b2066748a3e751ea080b5d09e8daa3"
# echo 00789f…2741 | xxd -r -p | sha256sum
LEAF_1 = "401f627564fe1f564fe5e330f1fb3cb568355ab43e1e049441cb1a89e952a5fc"


def test_the_keys_made_from_the_secret():
    assert MAC_KEY_LABEL == b"custody audit trail: entry MAC key, v1"
    assert SIGNING_KEY_LABEL == b"custody audit trail: checkpoint Ed25519 seed, v1"
    assert derive_key(SECRET, MAC_KEY_LABEL) == MAC_KEY
    assert derive_key(SECRET, SIGNING_KEY_LABEL) == SIGNING_SEED
    assert len({SECRET, MAC_KEY, SIGNING_SEED}) == 3


def test_known_answer_mac_and_leaf():
    assert entry_mac(MAC_KEY, HASH_1) == MAC_1
    assert entry_mac(SIGNING_SEED, HASH_1) != MAC_1
    assert entry_leaf(HASH_1).hex() == LEAF_1
    assert entry_leaf(HASH_1) == merkle.leaf_hash(bytes.fromhex(HASH_1))


def test_direct_changes_are_named_by_their_actor():
    assert DIRECT_ACTOR_PREFIX == "database:"
    assert is_direct_change("database:postgres")
    assert not is_direct_change("quinn") and not is_direct_change("system:cli")
    assert not is_direct_change("my database:x")


# --- one shard checked ----------------------------------------------------------------------


def _entries(count: int, shard: int = 0, actor: str = "quinn") -> list[dict]:
    """`count` chained entries of one shard."""
    out, prev = [], "0" * 64
    for seq in range(1, count + 1):
        entry = {
            "shard": shard,
            "seq": seq,
            "occurred_at": f"2026-03-14T09:{seq:02d}:00.000000Z",
            "actor": actor,
            "action": "update",
            "record_type": "bags",
            "record_id": str(seq),
            "record_key": f"bag {seq}",
            "changes": '{"status": ["stored", "released"]}',
            "reason": "scan",
            "prev_hash": prev,
        }
        entry["hash"] = prev = entry_hash(entry)
        out.append(entry)
    return out


def _rows(entries: list[dict], key: bytes | None = MAC_KEY, first_id: int = 100) -> list[tuple]:
    return [
        (
            first_id + n,
            e["hash"],
            entry_mac(key, e["hash"]) if key else "",
            *(e[f] for f in HASHED_FIELDS),
        )
        for n, e in enumerate(entries)
    ]


def _head(entries: list[dict]) -> tuple[int, str]:
    return (entries[-1]["seq"], entries[-1]["hash"]) if entries else (0, "0" * 64)


def _root(entries: list[dict]) -> bytes:
    return merkle.root([entry_leaf(e["hash"]) for e in entries])


def _check(rows, entries, **kw) -> ShardCheck:
    check = ShardCheck(0, **kw)
    check.feed(rows)
    check.finish(*_head(entries))
    return check


def test_a_keyed_chain_with_its_checkpoints_verifies():
    entries = _entries(7)
    pins = [Pin(1, 3, _root(entries[:3])), Pin(2, 7, _root(entries)), Pin(3, 7, _root(entries))]
    check = _check(_rows(entries), entries, mac_key=MAC_KEY, pins=pins)
    assert (check.count, check.problems, check.legacy, check.first_mac) == (7, [], 0, 1)


def test_rows_may_come_in_batches():
    entries = _entries(9)
    rows = _rows(entries)
    check = ShardCheck(0, MAC_KEY, [Pin(1, 4, _root(entries[:4])), Pin(2, 9, _root(entries))])
    for start in range(0, 9, 2):
        check.feed(rows[start : start + 2])
    check.finish(*_head(entries))
    assert (check.count, check.problems) == (9, [])


def test_an_entry_forged_with_a_correct_hash_is_named_by_its_mac():
    entries = _entries(4)
    forged = dict(entries[3], actor="mallory")
    forged["hash"] = entry_hash(forged)
    rows = _rows(entries[:3]) + _rows([forged], key=SIGNING_SEED, first_id=103)
    check = _check(rows, [*entries[:3], forged], mac_key=MAC_KEY)
    assert check.problems == [
        ChainBreak(
            0,
            103,
            4,
            "MAC does not match: written or re-hashed by someone without the audit key",
            MAC,
        )
    ]


def test_every_entry_of_a_rehashed_chain_is_named_and_the_checkpoint_too():
    entries = _entries(5)
    pins = [Pin(1, 5, _root(entries))]
    rewritten, prev = [], "0" * 64
    for entry in entries:
        entry = dict(entry, prev_hash=prev, reason="rewritten" if entry["seq"] == 2 else "scan")
        entry["hash"] = prev = entry_hash(entry)
        rewritten.append(entry)
    rows = _rows(rewritten[:1]) + _rows(rewritten[1:], key=b"guessed", first_id=101)
    check = _check(rows, rewritten, mac_key=MAC_KEY, pins=pins)
    assert [(p.entry_id, p.kind) for p in check.problems] == [
        (101, MAC),
        (102, MAC),
        (103, MAC),
        (104, MAC),
        (None, CHECKPOINT),
    ]
    assert check.problems[-1].reason == (
        "its first 5 entries no longer match signed checkpoint 1 (entries altered, inserted or "
        "deleted since)"
    )


def test_a_deleted_tail_with_its_head_rolled_back_is_named_by_the_checkpoint():
    entries = _entries(6)
    pins = [Pin(4, 6, _root(entries))]
    check = _check(_rows(entries[:5]), entries[:5], mac_key=MAC_KEY, pins=pins)
    assert check.problems == [
        ChainBreak(
            0,
            None,
            6,
            "checkpoint 4 covers 6 entries but only 5 remain (entries deleted)",
            CHECKPOINT,
        )
    ]
    # Without a checkpoint covering it, the same deletion goes unseen: the window.
    assert _check(_rows(entries[:5]), entries[:5], mac_key=MAC_KEY).problems == []


def test_only_the_first_failing_checkpoint_is_named():
    entries = _entries(6)
    other = _entries(6, actor="someone else")
    pins = [Pin(1, 2, _root(other[:2])), Pin(2, 4, _root(other[:4])), Pin(3, 6, _root(entries))]
    check = _check(_rows(entries), entries, mac_key=MAC_KEY, pins=pins)
    assert [(p.seq, p.kind) for p in check.problems] == [(2, CHECKPOINT)]
    assert "signed checkpoint 1 " in check.problems[0].reason


def test_an_entry_without_a_mac_after_keyed_ones_is_named():
    entries = _entries(4)
    rows = _rows(entries[:2]) + _rows(entries[2:], key=None, first_id=102)
    check = _check(rows, entries, mac_key=MAC_KEY)
    assert [(p.entry_id, p.kind, p.reason) for p in check.problems] == [
        (102, MAC, "no MAC: written without the audit key"),
        (103, MAC, "no MAC: written without the audit key"),
    ]


def test_every_entry_needs_a_mac_unless_a_checkpoint_says_otherwise():
    entries = _entries(5)
    rows = _rows(entries[:2], key=None) + _rows(entries[2:], first_id=102)
    check = _check(rows, entries, mac_key=MAC_KEY)
    assert [(p.entry_id, p.kind) for p in check.problems] == [(100, MAC), (101, MAC)]
    assert check.first_mac == 3


def test_the_first_checkpoint_accepts_entries_from_before_the_key_up_to_the_first_mac():
    entries = _entries(5)
    rows = _rows(entries[:2], key=None) + _rows(entries[2:], first_id=102)
    check = _check(rows, entries, mac_key=MAC_KEY, mac_from=None)
    assert (check.problems, check.legacy, check.first_mac) == ([], 2, 3)
    # Not after it: a MAC stripped from a later entry is named.
    stripped = rows[:3] + _rows(entries[3:4], key=None, first_id=103) + rows[4:]
    check = _check(stripped, entries, mac_key=MAC_KEY, mac_from=None)
    assert [(p.entry_id, p.kind) for p in check.problems] == [(103, MAC)]


def test_a_checkpoint_pins_where_macs_begin():
    entries = _entries(5)
    # Checkpoint 1 said MACs begin at seq 3: stripping the MACs of 3 … 5 is named.
    pinned = [Pin(1, 5, _root(entries), mac_from=3), Pin(2, 5, _root(entries), mac_from=9)]
    rows = _rows(entries[:2], key=None) + _rows(entries[2:], key=None, first_id=102)
    check = _check(rows, entries, mac_key=MAC_KEY, pins=pinned)
    assert [p.entry_id for p in check.problems] == [102, 103, 104]
    assert check.legacy == 2
    # Lenient as only the first checkpoint is, the same rows pass: why that one pins it.
    assert _check(rows, entries, mac_key=MAC_KEY, mac_from=None).problems == []


def test_without_a_key_macs_are_not_checked():
    entries = _entries(3)
    check = _check(_rows(entries, key=b"any other key"), entries)
    assert (check.problems, check.legacy) == ([], 0)


def test_a_direct_database_change_is_named_and_needs_no_mac():
    entries = _entries(2) + _entries(3, actor="database:postgres")[2:]
    entries[2] = dict(entries[2], prev_hash=entries[1]["hash"])
    entries[2]["hash"] = entry_hash(entries[2])
    rows = _rows(entries[:2]) + _rows(entries[2:], key=None, first_id=102)
    for key in (MAC_KEY, None):
        check = _check(rows, entries, mac_key=key)
        assert check.problems == [
            ChainBreak(
                0,
                102,
                3,
                "direct database change, not through the application: update of bags 3 (bag 3) "
                "by database:postgres at 2026-03-14T09:03:00.000000Z",
                DIRECT,
            )
        ]


def test_the_check_goes_on_after_a_break_naming_each_problem_once():
    entries = _entries(6)
    rows = _rows(entries)
    del rows[1]  # seq 2 deleted: one jump, and no link complaint on top of it
    edited = list(rows[3])
    edited[3 + HASHED_FIELDS.index("reason")] = "edited"  # seq 5 edited in place
    rows[3] = tuple(edited)
    check = _check(rows, entries, mac_key=MAC_KEY)
    assert [(p.entry_id, p.seq, p.kind, p.reason) for p in check.problems] == [
        (102, 3, CHAIN, "sequence jumps from 1 to 3 (entry missing)"),
        (104, 5, CHAIN, "content does not match its hash (the row was altered)"),
    ]


def test_a_check_resumed_after_a_checkpoint_reads_only_what_follows():
    entries = _entries(6)
    check = ShardCheck.resume(0, MAC_KEY, 4, entries[3]["hash"], mac_from=1)
    check.feed(_rows(entries[4:], first_id=104))
    check.finish(*_head(entries))
    assert (check.count, check.problems) == (2, [])
    broken = ShardCheck.resume(0, MAC_KEY, 4, entries[2]["hash"], mac_from=1)
    broken.feed(_rows(entries[4:], first_id=104))
    assert [p.reason for p in broken.problems] == [
        "previous-hash link does not match the preceding entry"
    ]
    # Resumed before MACs began (mac_from 6): seq 5 may lack one, seq 6 may not.
    legacy = ShardCheck.resume(0, MAC_KEY, 4, entries[3]["hash"], mac_from=6)
    legacy.feed(_rows(entries[4:], key=None, first_id=104))
    assert legacy.legacy == 1 and [p.seq for p in legacy.problems] == [6]


def test_a_checkpoint_of_an_empty_shard_asks_nothing():
    check = ShardCheck(0, MAC_KEY, [Pin(1, 0, merkle.EMPTY_ROOT)])
    check.finish(0, "0" * 64)
    assert check.problems == []


def test_a_keyed_mac_state_gives_the_rfc4231_answer_and_can_be_reused():
    """RFC 4231, test case 2 (HMAC-SHA-256): the state keyed once gives each message's MAC."""
    keyed = keyed_mac(b"Jefe")
    for _ in range(2):  # copied per entry: the keyed state itself is never consumed
        mac = keyed.copy()
        mac.update(b"what do ya want for nothing?")
        assert mac.hexdigest() == (
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        )


def test_a_stored_hash_that_is_not_hex_gets_a_leaf_no_entry_has():
    """The checkpoint covering it then fails, rather than the whole check with a traceback."""
    from custody.domain.audit_chain import _leaves

    zeros = "00" * 32
    leaf_of_zeros = hashlib.sha256(b"\x00" + bytes(32)).digest()  # RFC 6962: 0x00 || entry
    leaf_of_nothing = hashlib.sha256(b"\x00").digest()
    assert _leaves([zeros, zeros]) == [leaf_of_zeros, leaf_of_zeros]
    assert _leaves(["not hex", zeros, None]) == [leaf_of_nothing, leaf_of_zeros, leaf_of_nothing]
