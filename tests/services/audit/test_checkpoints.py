"""Signed checkpoints: an RFC 6962 tree head per shard, signed with Ed25519, appended to a log
outside the database at every e-signature and on demand; verification reads them."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from custody.domain import merkle
from custody.domain.audit_chain import CHECKPOINT, entry_leaf
from custody.extensions import db
from custody.models import AuditChainHead, AuditEntry
from custody.services.audit.proofs import check_proof, entry_proof
from custody.services.audit.verify import verify_trail
from custody.services.core.audit_keys import audit_keys, keys_from_secret
from custody.services.core.checkpoints import (
    CheckpointRefused,
    make_checkpoint,
    parse_checkpoint,
    read_log,
)
from tests.races import race
from tests.services.audit import tampering


@pytest.fixture
def log(audit_key):
    return audit_key[1]


def _checkpoint(log, reason: str = "test"):
    db.session.commit()
    return make_checkpoint(db.engine, audit_keys(), log, reason)


def _verify():
    db.session.commit()
    with db.engine.connect() as conn:
        return verify_trail(conn)


def _users(make, count: int, prefix: str = "cp") -> None:
    for n in range(count):
        make.user("technician", username=f"{prefix}{n}")


def _leaves(shard: int) -> list[bytes]:
    hashes = db.session.scalars(
        select(AuditEntry.hash).where(AuditEntry.shard == shard).order_by(AuditEntry.seq)
    )
    return [entry_leaf(h) for h in hashes]


def test_a_checkpoint_signs_the_tree_head_of_every_shard(make, log):
    _users(make, 8)
    checkpoint = _checkpoint(log, "cron")
    heads = {h.shard: h.seq for h in db.session.scalars(select(AuditChainHead))}
    assert {h.shard: h.size for h in checkpoint.shards} == heads
    for head in checkpoint.shards:
        assert head.root == merkle.root(_leaves(head.shard)).hex()
        assert head.mac_from == 1
    assert (checkpoint.number, checkpoint.reason, checkpoint.previous) == (1, "cron", "0" * 64)
    assert checkpoint.key_id == audit_keys().key_id
    assert checkpoint.signed_by(audit_keys().public)
    assert not checkpoint.signed_by(keys_from_secret(b"another secret" * 3).public)
    ((number, line),) = read_log(log)
    assert parse_checkpoint(line) == checkpoint and number == 1
    document = json.loads(line)
    assert list(document) == sorted(document)  # canonical JSON, as documented
    assert document["format"] == "custody-audit-checkpoint/1"


def test_each_checkpoint_extends_the_one_before_and_proves_it(make, log):
    _users(make, 5, "a")
    first = _checkpoint(log)
    _users(make, 9, "b")
    second = _checkpoint(log)
    assert (second.number, second.previous) == (2, first.line_hash)
    for old in first.shards:
        new = second.head(old.shard)
        leaves = _leaves(old.shard)
        proof = merkle.consistency_proof(old.size, new.size, merkle.leaves_subtree(leaves))
        assert merkle.verify_consistency(
            old.size, new.size, bytes.fromhex(old.root), bytes.fromhex(new.root), proof
        )
    assert _checkpoint(log) is None  # nothing new: nothing signed
    assert len(read_log(log)) == 2
    report = _verify()
    assert report.ok and report.checkpoints == 2


def test_an_e_signature_is_followed_by_a_checkpoint_covering_it(make, make_lot, log):
    lot = make_lot(disposition="released")
    checkpoints = [parse_checkpoint(line) for _, line in read_log(log)]
    assert checkpoints[-1].reason.startswith("e-signature: signature ")
    report = _verify()
    assert report.ok
    assert not any("not yet covered" in note for note in report.notes), report.notes
    assert lot.lot_number


def test_a_deleted_last_entry_with_its_head_rolled_back_is_named_once_covered(make, log):
    _users(make, 30)
    tampering.drop_guards()
    shard = tampering.busiest_shard()
    # Before a checkpoint covers it, a deleted tail goes unseen: the window README states.
    tampering.delete_last(shard)
    report = _verify()
    assert report.ok
    assert any("no signed checkpoint yet" in note for note in report.notes)
    _checkpoint(log)
    tampering.delete_last(shard)
    report = _verify()
    assert not report.ok
    (problem,) = report.problems
    assert (problem.shard, problem.kind) == (shard, CHECKPOINT)
    assert "entries deleted" in problem.describe()


def test_a_checkpoint_is_never_signed_over_a_trail_that_no_longer_holds(make, log):
    _users(make, 6)
    _checkpoint(log)
    tampering.drop_guards()
    shard = tampering.busiest_shard()
    tampering.rehash_shard(shard, 2, reason="quietly rewritten")
    _users(make, 2, "later")
    with pytest.raises(CheckpointRefused, match="nothing was signed"):
        _checkpoint(log)
    (tmp_state := log.with_name(log.name + ".state")).unlink()
    with pytest.raises(CheckpointRefused, match=f"shard {shard} no longer matches checkpoint 1"):
        _checkpoint(log)
    assert len(read_log(log)) == 1 and not tmp_state.exists()


def test_a_forged_entry_after_the_checkpoint_stops_the_next_one(make, log):
    _users(make, 4)
    _checkpoint(log)
    tampering.drop_guards()
    forged = tampering.forge_entry(tampering.busiest_shard())
    with pytest.raises(CheckpointRefused, match=f"entry {forged} .*MAC does not match"):
        _checkpoint(log)


def test_the_frontier_cache_is_only_a_cache(make, log):
    _users(make, 7)
    _checkpoint(log)
    state = log.with_name(log.name + ".state")
    document = json.loads(state.read_text())
    some = next(iter(document["shards"].values()))
    some["frontier"] = ["00" * 32] * len(some["frontier"])  # a wrong frontier is not used
    state.write_text(json.dumps(document))
    _users(make, 7, "more")
    second = _checkpoint(log)
    for head in second.shards:
        assert head.root == merkle.root(_leaves(head.shard)).hex()
    state.unlink()
    _users(make, 2, "again")
    third = _checkpoint(log)
    assert all(h.root == merkle.root(_leaves(h.shard)).hex() for h in third.shards)
    assert _verify().ok


def _rewrite_log(log, lines: list[str]) -> None:
    log.write_text("".join(line + "\n" for line in lines), encoding="ascii")


def test_the_log_is_checked_line_by_line(make, log):
    for batch in range(3):
        _users(make, 3, f"l{batch}")
        _checkpoint(log)
    lines = [line for _, line in read_log(log)]
    document = json.loads(lines[1])
    document["shards"][0][1] += 1  # claims one more entry than was signed
    altered = json.dumps(document, sort_keys=True, separators=(",", ":"))
    _rewrite_log(log, [lines[0], altered, lines[2]])
    problems = [p.describe() for p in _verify().problems]
    assert problems[0] == (
        "checkpoint log line 2: checkpoint 2's signature does not hold (the line was altered)"
    )
    assert "checkpoint log line 3: checkpoint 3 follows checkpoint 1" in problems[1]
    _rewrite_log(log, [lines[0], lines[2]])  # a checkpoint removed
    problems = [p.describe() for p in _verify().problems]
    assert problems == [
        "checkpoint log line 2: checkpoint 3 follows checkpoint 1: checkpoints were removed "
        "from the log"
    ]
    _rewrite_log(log, [lines[0], lines[1], lines[2], "not json"])
    problems = [p.describe() for p in _verify().problems]
    assert problems[0].startswith("checkpoint log line 4: it cannot be read as a checkpoint")


def test_a_log_signed_with_another_key_is_named(app, make, log, tmp_path_factory):
    from custody.services.core.audit_keys import write_key_file
    from tests.conftest import change_settings

    _users(make, 3)
    _checkpoint(log)
    other = tmp_path_factory.mktemp("other-key") / "audit.key"
    write_key_file(other)
    change_settings(app, CUSTODY_AUDIT_KEY_FILE=other)
    report = _verify()
    assert any("was signed with another key" in p.describe() for p in report.problems)
    with pytest.raises(CheckpointRefused, match="signed with another key"):
        _checkpoint(log)


def test_checkpoints_made_at_once_follow_each_other(app, make, log):
    make.user("technician", username="racer0")
    make.user("technician", username="racer1")

    def write_and_checkpoint(user, n=[0]):  # noqa: B006 - a counter shared by the threads
        from custody.services.core.audit_trail import acting_as

        name = user.username
        for _ in range(3):
            n[0] += 1
            with acting_as(name, reason="race"):
                user.full_name = f"Racer {n[0]}"
                db.session.commit()  # and no read after it: checkpoints run outside transactions
            make_checkpoint(db.engine, audit_keys(), log, f"by {name}")
        return "done"

    assert race(app, ("racer0", write_and_checkpoint), ("racer1", write_and_checkpoint)) == [
        "done",
        "done",
    ]
    numbers = [parse_checkpoint(line).number for _, line in read_log(log)]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 2
    assert _verify().ok


def test_an_inclusion_proof_is_checked_with_the_public_key_alone(make, log):
    _users(make, 9)
    _checkpoint(log)
    entry_id = db.session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
    db.session.commit()
    with db.engine.connect() as conn:
        document = json.loads(json.dumps(entry_proof(conn, audit_keys(), log, entry_id)))
    public = audit_keys().public
    verdict = check_proof(document, public)
    assert verdict.startswith(f"proof OK: entry {entry_id} (shard ")
    assert "under checkpoint 1" in verdict
    for damage, why in (
        (lambda d: d["entry"].update(actor="mallory"), "fields do not hash to its hash"),
        (lambda d: d["checkpoint"].update(made_at="2020-01-01T00:00:00.000000Z"), "signature"),
        (lambda d: d["audit_path"].append("00" * 32), "does not lead to the signed root"),
        (lambda d: d.update(leaf_index=d["leaf_index"] + 1), "position does not match"),
    ):
        broken = json.loads(json.dumps(document))
        damage(broken)
        with pytest.raises(ValueError, match=why):
            check_proof(broken, public)
    with pytest.raises(ValueError, match="signature does not hold for this public key"):
        check_proof(document, keys_from_secret(b"x" * 32).public)
