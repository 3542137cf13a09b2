"""The audit trail over the API: review entries by record and person, and check the chain."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from custody.extensions import db


@pytest.mark.parametrize("role", ["technician", "nurse"])
def test_only_qa_and_admins_read_the_trail(client, make, role):
    headers = make.auth(role)
    for path in ("/api/v1/audit/entries", "/api/v1/audit/verify"):
        response = client.get(path, headers=headers)
        assert response.status_code == 403
        assert response.get_json()["error"]["code"] == "forbidden"


def test_entries_are_newest_first_and_filter_by_record_and_actor(client, make):
    headers = make.auth("qa", username="quinn")
    nina_id = make.user("nurse", username="nina").id
    make.user("nurse", username="noor")

    newest = client.get("/api/v1/audit/entries?limit=1", headers=headers).get_json()["items"]
    assert [e["record_key"] for e in newest] == ["noor"]

    nina = client.get(
        f"/api/v1/audit/entries?record_type=users&record_id={nina_id}", headers=headers
    ).get_json()["items"]
    assert [(e["action"], e["record_key"]) for e in nina] == [("create", "nina")]
    assert nina[0]["changes"]["username"] == [None, "nina"]

    by_test = client.get("/api/v1/audit/entries?actor=system:test", headers=headers).get_json()
    assert {e["actor"] for e in by_test["items"]} == {"system:test"}
    nobody = client.get("/api/v1/audit/entries?actor=mallory", headers=headers).get_json()
    assert nobody["items"] == []


def test_verify_reports_ok_then_names_the_tampered_entry(client, make):
    headers = make.auth("admin")
    body = client.get("/api/v1/audit/verify", headers=headers).get_json()
    assert body["ok"] is True
    assert body["entries"] >= 2
    assert body["first_break"] is None

    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER USER"))
    else:
        db.session.execute(text("DROP TRIGGER audit_entries_no_update"))
    victim = db.session.execute(text("SELECT min(id) FROM audit_entries")).scalar()
    db.session.execute(
        text("UPDATE audit_entries SET actor = 'mallory' WHERE id = :id"), {"id": victim}
    )
    body = client.get("/api/v1/audit/verify", headers=headers).get_json()
    assert body["ok"] is False
    assert body["first_break"].startswith(f"entry {victim} ")
