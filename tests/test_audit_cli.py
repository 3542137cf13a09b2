"""`custody audit`: verify names every forgery once a checkpoint covers the trail, checkpoints
are signed on demand, proofs are exported and checked with the public key alone, keys are
made safely, and `custody serve` does not start without one. Never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text

from custody.cli import custody_command
from custody.extensions import db
from custody.services.bags.scans import ScanRequest, scan
from tests.conftest import TEST_SECRET, change_settings
from tests.services.audit import tampering


def _lines(result) -> list[str]:
    """What the command said, standard output and error together, in order; it ended on its
    own (an exit status, never an exception's traceback)."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.output.strip().splitlines()


@pytest.fixture
def trail(make, make_lot, quality):
    """Accounts, QA's approval of a specification (an e-signature, so a checkpoint) and a bag
    the tracker filled and quarantined."""
    for n in range(20):
        make.user("technician", username=f"cli{n}")
    quality.specification()
    (bag,) = make_lot(bags=1, status="filled").bags
    scan(make.person("tech"), ScanRequest(action="quarantine", bag=bag.code))
    db.session.commit()
    return bag


def _checkpoint(runner) -> list[str]:
    db.session.commit()  # the test's transaction must not hold SQLite's lock the command needs
    result = runner.invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    return _lines(result)


def _verify(runner, exit_code: int) -> list[str]:
    db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == exit_code, result.output
    return _lines(result)


def test_verify_and_checkpoint_on_an_intact_trail(runner, trail, audit_key):
    (line,) = _checkpoint(runner)
    assert line.startswith("checkpoint 2 signed (key ")  # the e-signature made checkpoint 1
    assert line.endswith(f"appended to {audit_key[1]}")
    assert _checkpoint(runner) == [
        "no entry written since the last checkpoint: nothing new to sign"
    ]
    lines = _verify(runner, 0)
    assert lines[0].startswith("note: 2 checkpoints checked; the latest, 2, was made at ")
    assert lines[0].endswith(" (custody audit checkpoint)")
    assert lines[-1].startswith("audit OK: ") and lines[-1].endswith(" entries")


def test_a_forged_entry_with_its_head_updated_is_named(runner, trail):
    _checkpoint(runner)
    tampering.drop_guards()
    forged = tampering.forge_entry(tampering.busiest_shard())
    lines = _verify(runner, 1)
    assert lines[-2].startswith(f"audit FAILED at entry {forged} (shard ")
    assert lines[-2].endswith(
        "MAC does not match: written or re-hashed by someone without the audit key"
    )
    assert lines[-1].startswith("audit FAILED: 1 problems in the trail and 0 records")


def test_a_rehashed_shard_is_named(runner, trail):
    _checkpoint(runner)
    tampering.drop_guards()
    shard = tampering.busiest_shard()
    rewritten = tampering.rehash_shard(shard, 1, reason="nothing to see")
    output = "\n".join(_verify(runner, 1))
    assert (
        f"audit FAILED at entries {rewritten[0]}–{rewritten[-1]} (shard {shard}, seq 1–" in output
    )
    assert f"shard {shard}: its first " in output and "no longer match signed checkpoint" in output


def test_a_deleted_last_entry_with_its_head_rolled_back_is_named(runner, trail):
    _checkpoint(runner)
    tampering.drop_guards()
    shard = tampering.busiest_shard()
    tampering.delete_last(shard)
    lines = _verify(runner, 1)
    assert lines[-2].startswith(f"audit FAILED at shard {shard}: checkpoint ")
    assert lines[-2].endswith(" entries but only " + lines[-2].split("only ")[1])
    assert "(entries deleted)" in lines[-2]


def test_a_direct_update_of_a_quarantined_bag_is_named(runner, trail):
    _checkpoint(runner)
    tampering.as_dba("UPDATE bags SET status = 'released' WHERE id = :id", id=trail.id)
    output = "\n".join(_verify(runner, 1))
    assert (
        f"mismatch: bag {trail.code}: reads released but its last custody event (" in output
        and "quarantine) left it quarantined: the state was changed without a custody record"
        in output
    )
    if db.engine.dialect.name == "postgresql":  # and the tripwire's entry, first
        assert "audit FAILED at entry " in output
        assert (
            "direct database change, not through the application: update of bags "
            f"{trail.id} ({trail.code}) by database:" in output
        )
        assert "audit FAILED: 1 problems in the trail and 1 records out of step" in output
    else:
        assert f"audit FAILED at mismatch: bag {trail.code}" in output
        assert "audit FAILED: 0 problems in the trail and 1 records out of step" in output


def test_an_entry_whose_hash_is_not_even_hex_is_named_and_the_check_goes_on(runner, trail):
    _checkpoint(runner)
    tampering.drop_guards()
    shard = tampering.busiest_shard()
    first = tampering.entries(shard)[0]["id"]
    tampering.as_dba("UPDATE audit_entries SET hash = 'not a hash' WHERE id = :id", id=first)
    output = "\n".join(_verify(runner, 1))
    assert f"audit FAILED at entry {first} (shard {shard}, seq 1): content does not match" in output
    assert f"shard {shard}: its first " in output and "no longer match signed checkpoint" in output


@contextmanager
def _a_writer_holding_its_lock(database_url: str) -> Iterator[None]:
    """Another writer in the middle of its transaction: on SQLite it holds the write lock (and
    a reader that asked for it would wait, then fail); on PostgreSQL it holds the heads' rows."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.begin()
            conn.execute(text("SELECT shard FROM audit_chain_heads FOR UPDATE"))
        try:
            yield
        finally:
            conn.rollback()
    engine.dispose()


def test_the_installed_command_verifies_without_waiting_for_a_writer(
    runner, trail, database_url, audit_key
):
    """`custody audit verify` as an operator runs it builds no app: the same settings give the
    same report, and it reads a snapshot, never waiting for a writer (a scan) to finish."""
    _checkpoint(runner)
    in_app = _verify(runner, 0)
    key_file, checkpoint_log = audit_key
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODY_")}
    env |= {
        "CUSTODY_DATABASE_URL": database_url,
        "CUSTODY_SECRET_KEY": TEST_SECRET,
        "CUSTODY_AUDIT_KEY_FILE": str(key_file),
        "CUSTODY_AUDIT_CHECKPOINT_LOG": str(checkpoint_log),
    }
    with _a_writer_holding_its_lock(database_url):
        result = subprocess.run(
            [sys.executable, "-m", "custody.cli", "audit", "verify"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines() == in_app
    assert in_app[-1].startswith("audit OK: ")


def test_without_a_key_verify_says_so_and_checkpoints_are_refused(app, runner, make):
    change_settings(app, CUSTODY_AUDIT_KEY_FILE="")
    make.user("qa", username="nokey")
    lines = _verify(runner, 0)
    assert lines[0].startswith("note: MACs and checkpoints not checked: no audit key is configured")
    result = runner.invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 2
    (line,) = _lines(result)
    assert line.startswith("error: no audit key is configured: set CUSTODY_AUDIT_KEY_FILE")


def test_a_proof_is_exported_and_checked_with_the_public_key_alone(runner, trail, tmp_path):
    _checkpoint(runner)
    db.session.commit()
    public = _lines(runner.invoke(args=["audit", "public-key"]))
    assert public[0].startswith("key id: ") and public[2] == "-----BEGIN PUBLIC KEY-----"
    key_hex = public[1].removeprefix("public key: ")
    entry_id = db.session.scalar(text("SELECT max(id) FROM audit_entries"))
    db.session.commit()
    proof = tmp_path / "proof.json"
    result = runner.invoke(args=["audit", "proof", str(entry_id), "--output", str(proof)])
    assert result.exit_code == 0, result.output
    # The inspector's side: the command itself, no app, no database, no secret.
    pem = tmp_path / "public.pem"
    pem.write_text("\n".join(public[2:]) + "\n")
    for key in (key_hex, str(pem)):
        checked = runner.invoke(
            custody_command, ["audit", "check-proof", str(proof), "--public-key", key]
        )
        assert checked.exit_code == 0, checked.output
        assert _lines(checked)[0].startswith(f"proof OK: entry {entry_id} (shard ")
    document = json.loads(proof.read_text())
    document["entry"]["reason"] = "edited"
    proof.write_text(json.dumps(document))
    checked = runner.invoke(
        custody_command, ["audit", "check-proof", str(proof), "--public-key", key_hex]
    )
    assert checked.exit_code == 1
    assert _lines(checked) == [
        f"proof FAILED: entry {entry_id}'s fields do not hash to its hash: it was altered"
    ]
    bad_key = runner.invoke(
        custody_command, ["audit", "check-proof", str(proof), "--public-key", "abc"]
    )
    assert bad_key.exit_code == 2
    assert _lines(bad_key) == ["error: a public key is 64 hexadecimal digits (or a PEM block)"]


def test_a_proof_needs_a_checkpoint_that_covers_the_entry(runner, make, app, tmp_path):
    change_settings(app, CUSTODY_AUDIT_CHECKPOINT_LOG=tmp_path / "empty.jsonl")
    make.user("qa", username="uncovered")
    entry_id = db.session.scalar(text("SELECT max(id) FROM audit_entries"))
    db.session.commit()
    result = runner.invoke(args=["audit", "proof", str(entry_id)])
    assert result.exit_code == 1
    assert _lines(result) == [
        f"error: no checkpoint covers entry {entry_id} yet: run `custody audit checkpoint` first"
    ]


def test_keygen_makes_a_private_file_once_and_never_in_the_databases_folder(runner, tmp_path):
    key = tmp_path / "keys" / "audit.key"
    made = runner.invoke(
        custody_command, ["audit", "keygen", str(key)], env={"CUSTODY_DATABASE_URL": ""}
    )
    assert made.exit_code == 0, made.output
    assert (key.stat().st_mode & 0o777, key.parent.stat().st_mode & 0o777) == (0o600, 0o700)
    assert len(key.read_text().strip()) == 64
    again = runner.invoke(custody_command, ["audit", "keygen", str(key)])
    assert again.exit_code == 2
    assert _lines(again) == [f"error: {key} exists already: an audit key is never overwritten"]
    kept = runner.invoke(custody_command, ["audit", "keygen", "--if-missing", str(key)])
    assert (kept.exit_code, _lines(kept)) == (0, [f"audit key file {key} kept"])
    printed = runner.invoke(custody_command, ["audit", "keygen", "-"])
    assert len(_lines(printed)[0]) == 64
    database = tmp_path / "db" / "custody.sqlite3"
    refused = runner.invoke(
        custody_command,
        ["audit", "keygen", str(database.parent / "audit.key")],
        env={"CUSTODY_DATABASE_URL": f"sqlite:///{database}"},
    )
    assert refused.exit_code == 2
    (line,) = _lines(refused)
    assert line.endswith("a copy of the database would carry its key; choose a path elsewhere")


def test_serve_does_not_start_without_an_audit_key(database_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODY_")}
    env |= {"CUSTODY_SECRET_KEY": TEST_SECRET, "CUSTODY_DATABASE_URL": database_url, "PORT": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "custody.cli", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: no audit key is configured: ")
    assert line.endswith("`custody serve` does not start without one")
