"""The `custody` command as CONTRACT.md gives it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from sqlalchemy import text

from custody.cli import custody_command
from custody.extensions import db
from custody.models import User
from tests.conftest import TEST_SECRET, change_settings
from tests.factories import PASSWORD


def test_isbt128_check_prints_k_and_flags(runner):
    result = runner.invoke(custody_command, ["isbt128", "check", "G123417654321"])
    assert result.exit_code == 0
    assert result.output.strip() == "K=A flags=70"


def test_isbt128_check_refuses_an_invalid_din_with_exit_2(runner):
    result = runner.invoke(custody_command, ["isbt128", "check", "O123417654321"])
    assert result.exit_code == 2
    assert "error:" in result.output


def test_isbt128_parse_prints_json(runner):
    result = runner.invoke(custody_command, ["isbt128", "parse", "=G12341765432100"])
    assert result.exit_code == 0
    (structure,) = json.loads(result.output)
    assert structure["din"] == "G123417654321"


def test_isbt128_parse_refuses_garbage_with_exit_2(runner):
    result = runner.invoke(custody_command, ["isbt128", "parse", "hello"])
    assert result.exit_code == 2


def test_user_create_reads_the_password_from_stdin_and_token_is_last_line(runner, client):
    result = runner.invoke(
        args=["user", "create", "grace", "--role", "qa", "--name", "Grace Okafor"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.query(User).filter_by(username="grace").one()
    assert user.full_name == "Grace Okafor"
    result = runner.invoke(args=["user", "token", "grace"])
    assert result.exit_code == 0
    token = result.output.strip().splitlines()[-1]
    me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.get_json()["username"] == "grace"


def test_user_create_refuses_a_short_password(runner):
    result = runner.invoke(
        args=["user", "create", "x1", "--role", "qa", "--name", "X"], input="short\n"
    )
    assert result.exit_code == 2
    assert "at least" in result.output


def test_audit_verify_ok_then_names_a_tampered_entry(runner, make):
    make.user("qa", username="q1")
    make.user("nurse", username="n1")
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1].startswith("audit OK: ")
    count = int(result.output.strip().split()[-2])
    assert count >= 2

    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER USER"))
    else:
        db.session.execute(text("DROP TRIGGER audit_entries_no_update"))
    victim = db.session.execute(text("SELECT min(id) FROM audit_entries")).scalar()
    db.session.execute(
        text("UPDATE audit_entries SET reason = 'nothing to see' WHERE id = :id"), {"id": victim}
    )
    db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"entry {victim} " in result.output


def test_demo_loads_accounts_for_every_role_and_is_deterministic(runner):
    result = runner.invoke(args=["demo", "--seed", "7"])
    assert result.exit_code == 0, result.output
    roles = {u.role.value for u in db.session.query(User)}
    assert roles == {"technician", "qa", "nurse", "admin"}
    for username in ("tech", "qa", "nurse", "admin"):
        assert username in result.output
    again = runner.invoke(args=["demo", "--if-empty"])
    assert "already" in again.output
    assert "nurse" in again.output  # `make run` shows the accounts every time


def test_labels_check_lists_the_templates_and_fails_on_an_invalid_one(app, runner, tmp_path):
    result = runner.invoke(args=["labels", "check"])
    assert result.exit_code == 0, result.output
    assert "final_product v1: awaiting approval" in result.output
    (tmp_path / "final_product.v1.toml").write_text('name = "final_product"\n', encoding="utf-8")
    change_settings(app, CUSTODY_LABEL_TEMPLATES=tmp_path)
    result = runner.invoke(args=["labels", "check"])
    assert result.exit_code == 1
    assert "final_product.v1.toml: invalid" in result.output
    assert "version: Missing data for required field." in result.output


# What only serving the app needs: the pages, the API and the libraries behind them.
APP_ONLY = (
    "custody.api",
    "custody.web",
    "custody.documents",
    "custody.labels",
    "custody.schemas",
    "reportlab",
    "matplotlib",
    "pypdfium2",
    "barcode",
    "zxingcpp",
    "fhir",
    "flask_smorest",
    "marshmallow",
    "PIL",
)


def _custody(*args: str, cwd, python_options=(), **environ: str) -> subprocess.CompletedProcess:
    """The installed command in a process of its own, with only the settings given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODY_")} | environ
    command = [sys.executable, *python_options, "-m", "custody.cli", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=cwd)


def test_help_lists_every_command_without_building_the_app(tmp_path):
    # A setting the app refuses: building it to list the commands would stop the help.
    result = _custody("--help", cwd=tmp_path, CUSTODY_TIMEZONE="Mars/Base")
    assert result.returncode == 0, result.stderr
    listed = {line.split()[0] for line in result.stdout.split("Commands:")[1].splitlines() if line}
    assert {"audit", "db", "demo", "isbt128", "labels", "serve", "user"} <= listed
    # The commands found by name do not build it either.
    found = _custody("db", "--help", cwd=tmp_path, CUSTODY_TIMEZONE="Mars/Base")
    assert found.returncode == 0 and "upgrade" in found.stdout, found.stderr


def test_audit_verify_imports_neither_the_pages_nor_the_api_nor_their_libraries(
    database_url, audit_key, tmp_path
):
    key_file, checkpoint_log = audit_key
    result = _custody(
        "audit",
        "verify",
        cwd=tmp_path,
        python_options=("-X", "importtime"),
        CUSTODY_DATABASE_URL=database_url,
        CUSTODY_SECRET_KEY=TEST_SECRET,
        CUSTODY_AUDIT_KEY_FILE=str(key_file),
        CUSTODY_AUDIT_CHECKPOINT_LOG=str(checkpoint_log),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "audit OK: 0 entries"
    imported = {
        line.split("|")[-1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "custody.services.audit.verify" in imported  # what -X importtime says is read right
    assert not {m for m in imported if m.split(".")[0] in APP_ONLY or m.startswith(APP_ONLY)}


def test_the_commands_read_engine_opens_the_apps_database_whatever_the_url(tmp_path):
    """A relative SQLite path is the instance folder's file for the app's engine; the engine of
    a command that builds no app must open that same file, not one in the working folder."""
    from custody import create_app
    from custody.cli.snapshot import read_engine
    from custody.config import load_settings

    for url in ("sqlite:///relative.sqlite3", f"sqlite:///{tmp_path / 'absolute.sqlite3'}"):
        app = create_app({"CUSTODY_DATABASE_URL": url, "CUSTODY_SECRET_KEY": TEST_SECRET})
        with app.app_context():
            expected = db.engine.url.database
        environment = {"CUSTODY_DATABASE_URL": url, "CUSTODY_SECRET_KEY": TEST_SECRET}
        engine = read_engine(load_settings(environment))
        assert engine.url.database == expected
        engine.dispose()
