"""Start-up as an operator meets it: the real `custody` command, in its own process.

A bad setting, a database that does not answer or one that is not migrated stops `custody
serve` and `custody db upgrade` with one line and exit status 2, never a traceback; commands
that need no database neither check the settings they do not use nor connect.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TEST_SECRET

# A port nothing listens on: connecting is refused at once.
UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/custody"


def custody(
    *args: str, tmp_path: Path, stdin: str = "", **environ: str
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODY_")}
    env |= {
        "CUSTODY_SECRET_KEY": TEST_SECRET,
        "CUSTODY_DATABASE_URL": f"sqlite:///{tmp_path / 'custody.sqlite3'}",
        # Far from any port a test server uses: serve must stop before it binds.
        "PORT": "1",
    }
    env |= environ
    return subprocess.run(
        [sys.executable, "-m", "custody.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    return line.removeprefix("error: ")


BAD = {
    "CUSTODY_AUDIT_SHARDS": "0",
    "CUSTODY_TIMEZONE": "Mars/Base",
    "CUSTODY_MAX_FAILED_LOGINS": "abc",
    "CUSTODY_DATABASE_URL": "not a database url",
}


@pytest.mark.parametrize("command", [("serve",), ("db", "upgrade")], ids=" ".join)
@pytest.mark.parametrize("name", BAD)
def test_a_bad_setting_stops_the_start_in_one_line(tmp_path, command, name):
    line = one_error_line(custody(*command, tmp_path=tmp_path, **{name: BAD[name]}))
    assert line.startswith(f"{name}={BAD[name]} cannot be used: ")
    assert f"set it like {name}=" in line


@pytest.mark.parametrize("command", [("serve",), ("db", "upgrade")], ids=" ".join)
def test_a_database_that_does_not_answer_stops_the_start_in_one_line(tmp_path, command):
    line = one_error_line(custody(*command, tmp_path=tmp_path, CUSTODY_DATABASE_URL=UNREACHABLE))
    assert line.startswith(f"CUSTODY_DATABASE_URL={UNREACHABLE} cannot be used: ")
    assert "Connection refused" in line
    assert line.endswith("start the database or correct the URL")


def test_an_unmigrated_database_is_not_served_until_custody_db_upgrade(tmp_path):
    line = one_error_line(custody("serve", tmp_path=tmp_path))
    assert line.endswith(
        "is not migrated (empty; this version needs 0013): run `custody db upgrade`"
    )
    upgraded = custody("db", "upgrade", tmp_path=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    # A command that needs the tables says the same before they exist, and works after.
    created = custody(
        "user",
        "create",
        "ada",
        "--role",
        "admin",
        "--name",
        "Ada",
        tmp_path=tmp_path,
        stdin="a long enough password\n",
    )
    assert created.returncode == 0, created.stderr


def test_commands_without_records_ignore_the_database_and_its_settings(tmp_path):
    result = custody(
        "isbt128",
        "check",
        "G123417654321",
        tmp_path=tmp_path,
        CUSTODY_DATABASE_URL=UNREACHABLE,
        CUSTODY_TIMEZONE="Mars/Base",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "K=A flags=70"
    assert not (tmp_path / "custody.sqlite3").exists()


def test_a_command_on_records_before_migration_says_to_migrate(tmp_path):
    result = custody("audit", "verify", tmp_path=tmp_path)
    line = one_error_line(result)
    assert line.endswith("has no tracker tables yet: run `custody db upgrade`")
