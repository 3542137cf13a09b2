"""The `custody` command as CONTRACT.md gives it."""

from __future__ import annotations

import json

from sqlalchemy import text

from custody.cli import custody_command
from custody.extensions import db
from custody.models import User
from tests.conftest import change_settings
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
