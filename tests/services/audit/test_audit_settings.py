"""The audit key's settings, pinned as tests/test_settings.py pins every variable: the defaults,
each bad value refused in one line that names it, and the key never echoed back."""

from __future__ import annotations

from pathlib import Path

import pytest

from custody.config import SettingsError, audit_secret, load_settings, read_audit_key
from custody.services.core.audit_keys import write_key_file

SECRET = "s" * 32
KEY = "ab" * 32


def _load(tmp_path: Path, **environ: str):
    return load_settings({"CUSTODY_SECRET_KEY": SECRET, **environ}, instance_path=tmp_path)


def _refused(tmp_path: Path, **environ: str) -> list[str]:
    with pytest.raises(SettingsError) as refused:
        _load(tmp_path, **environ)
    return refused.value.problems


@pytest.fixture
def key_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "audit.key"
    write_key_file(path)
    return path


def test_no_key_by_default_and_the_log_under_instance(tmp_path):
    s = load_settings({}, instance_path=tmp_path)
    assert (s.audit_key_file, s.audit_key) == (None, None)
    assert s.audit_checkpoint_log == tmp_path / "audit-checkpoints.jsonl"
    assert audit_secret(s) is None


def test_a_key_file_or_a_key_is_read_into_the_secret(tmp_path, key_file):
    s = _load(tmp_path, CUSTODY_AUDIT_KEY_FILE=str(key_file))
    assert s.audit_key_file == key_file and audit_secret(s) == read_audit_key(key_file)
    assert len(audit_secret(s)) == 32
    s = _load(tmp_path, CUSTODY_AUDIT_KEY=KEY.upper(), CUSTODY_AUDIT_CHECKPOINT_LOG="/tmp/c.jsonl")
    assert (s.audit_key, audit_secret(s)) == (KEY, bytes.fromhex(KEY))
    assert s.audit_checkpoint_log == Path("/tmp/c.jsonl")


def test_a_key_file_must_exist_be_private_and_hold_a_key(tmp_path, key_file):
    missing = tmp_path / "nowhere" / "audit.key"
    assert _refused(tmp_path, CUSTODY_AUDIT_KEY_FILE=str(missing)) == [
        f"CUSTODY_AUDIT_KEY_FILE={missing} cannot be used: there is no such file; make one with "
        f"`custody audit keygen {missing}`; set it like "
        "CUSTODY_AUDIT_KEY_FILE=/etc/custody/audit.key"
    ]
    key_file.chmod(0o644)
    (line,) = _refused(tmp_path, CUSTODY_AUDIT_KEY_FILE=str(key_file))
    assert line == (
        f"CUSTODY_AUDIT_KEY_FILE={key_file} cannot be used: others may read it (mode 0644): make "
        f"it readable by the tracker's user alone with `chmod 600 {key_file}`; set it like "
        "CUSTODY_AUDIT_KEY_FILE=/etc/custody/audit.key"
    )
    empty = key_file.with_name("empty.key")
    empty.write_text("not a key\n")
    empty.chmod(0o600)
    (line,) = _refused(tmp_path, CUSTODY_AUDIT_KEY_FILE=str(empty))
    assert "the file does not hold an audit key: it must be 64 hexadecimal digits" in line
    (line,) = _refused(tmp_path, CUSTODY_AUDIT_KEY_FILE="audit.key")
    assert line.startswith(
        "CUSTODY_AUDIT_KEY_FILE=audit.key cannot be used: it must be an absolute"
    )


def test_a_key_file_in_the_databases_folder_is_refused(tmp_path):
    database = tmp_path / "data" / "custody.sqlite3"
    database.parent.mkdir()
    inside = database.parent / "keys" / "audit.key"
    write_key_file(inside)
    (line,) = _refused(
        tmp_path, CUSTODY_DATABASE_URL=f"sqlite:///{database}", CUSTODY_AUDIT_KEY_FILE=str(inside)
    )
    assert line == (
        f"CUSTODY_AUDIT_KEY_FILE={inside} cannot be used: it is in the database's folder "
        f"({database.parent}), so a copy of the database would carry its key: keep it "
        "elsewhere; set it like CUSTODY_AUDIT_KEY_FILE=/etc/custody/audit.key"
    )
    # The same file is fine beside a server database.
    _load(
        tmp_path, CUSTODY_DATABASE_URL="postgresql://db/custody", CUSTODY_AUDIT_KEY_FILE=str(inside)
    )


def test_never_the_session_secret_and_never_both(tmp_path, key_file):
    secret_file = tmp_path / "secret.key"
    secret_file.write_text(KEY)
    secret_file.chmod(0o600)
    (line,) = _refused(tmp_path, CUSTODY_SECRET_KEY=KEY, CUSTODY_AUDIT_KEY_FILE=str(secret_file))
    assert "it holds the session secret (CUSTODY_SECRET_KEY)" in line
    assert _refused(tmp_path, CUSTODY_SECRET_KEY=KEY, CUSTODY_AUDIT_KEY=KEY) == [
        "CUSTODY_AUDIT_KEY=… cannot be used: it is the session secret (CUSTODY_SECRET_KEY); the "
        "audit key must be a secret of its own"
    ]
    assert _refused(tmp_path, CUSTODY_AUDIT_KEY=KEY, CUSTODY_AUDIT_KEY_FILE=str(key_file)) == [
        "CUSTODY_AUDIT_KEY and CUSTODY_AUDIT_KEY_FILE are both set: set only one of them"
    ]


def test_the_key_is_never_echoed_back(tmp_path):
    (line,) = _refused(tmp_path, CUSTODY_AUDIT_KEY="hunter2-hunter2")
    assert "hunter2" not in line
    assert line == (
        "CUSTODY_AUDIT_KEY=… cannot be used: it must be 64 hexadecimal digits (a 256-bit key, as "
        "`custody audit keygen` makes); set it like CUSTODY_AUDIT_KEY=$(custody audit keygen -)"
    )


def test_the_checkpoint_log_needs_a_folder_once_there_is_a_key(tmp_path):
    log = tmp_path / "missing" / "checkpoints.jsonl"
    _load(tmp_path, CUSTODY_AUDIT_CHECKPOINT_LOG=str(log))  # no key: no checkpoint is made
    assert _refused(tmp_path, CUSTODY_AUDIT_KEY=KEY, CUSTODY_AUDIT_CHECKPOINT_LOG=str(log)) == [
        f"CUSTODY_AUDIT_CHECKPOINT_LOG={log} cannot be used: its folder {log.parent} does not "
        "exist; set it like CUSTODY_AUDIT_CHECKPOINT_LOG=/srv/custody-audit/checkpoints.jsonl"
    ]
    (line,) = _refused(tmp_path, CUSTODY_AUDIT_CHECKPOINT_LOG="relative.jsonl")
    assert line.startswith("CUSTODY_AUDIT_CHECKPOINT_LOG=relative.jsonl cannot be used: it must")
