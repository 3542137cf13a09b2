"""The audit trail over the API: review entries by record and person, and check the chain."""

from __future__ import annotations

import csv
import io
import sqlite3

import pytest
from pypdf import PdfReader
from sqlalchemy import make_url, text

from custody.extensions import db
from custody.services.audit import export
from tests.api.responses import error, ok
from tests.services.audit.test_review import DIN_SCAN, write_story
from tests.services.core.test_audit_trail import _drop_guards


@pytest.mark.parametrize("role", ["technician", "nurse"])
def test_only_qa_and_admins_read_the_trail(client, make, role):
    headers = make.auth(role)
    for path in (
        "/api/v1/audit/entries",
        "/api/v1/audit/verify",
        "/api/v1/audit/entries.csv",
        "/api/v1/audit/entries.pdf",
    ):
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


# --- the review filters, paging and exports -------------------------------------------------


@pytest.fixture
def story(app, make, monkeypatch):
    return write_story(monkeypatch, make)


def test_entries_filter_by_person_action_and_local_time(client, make, story):
    headers = make.auth("qa")
    body = ok(client.get("/api/v1/audit/entries?actor=quinn&action=delete", headers=headers), 200)
    assert [e["id"] for e in body["items"]] == [story.token_deleted]
    assert body["items"][0]["record_type"] == "api_tokens"
    assert body["more"] is False and body["next_before"] is None

    day = "from=2026-01-10&to=2026-01-10"
    body = ok(client.get(f"/api/v1/audit/entries?{day}", headers=headers), 200)
    assert [e["id"] for e in body["items"]] == [story.nina_renamed, story.nina_created]
    assert body["items"][0]["occurred_at"] == "2026-01-11T05:30:00.000000Z"

    body = ok(
        client.get("/api/v1/audit/entries?record_key=nina&reason=MARRIAGE", headers=headers), 200
    )
    assert [e["id"] for e in body["items"]] == [story.nina_renamed]
    assert body["items"][0]["changes"] == {"full_name": ["Nina Brandt", "Nina Brandt-Okafor"]}


def test_entries_page_with_before(client, make, story):
    headers = make.auth("admin")
    url = "/api/v1/audit/entries?actor=quinn&limit=2"
    seen, before = [], None
    for _ in range(5):
        body = ok(client.get(url + (f"&before={before}" if before else ""), headers=headers), 200)
        seen += [e["id"] for e in body["items"]]
        if not body["more"]:
            break
        before = body["next_before"]
    assert seen == [*sorted(story.batch, reverse=True), story.token_deleted, story.nina_created]


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("from=14/01/2026", "YYYY-MM-DD"),
        ("to=2026-13-01", "not a real date"),
        ("from=2026-02-01&to=2026-01-01", "is after"),
        ("record_type=passwords", "not one the audit trail records"),
        ("record_id=3", "record type too"),
        ("action=erase", "create, update, delete"),
    ],
)
@pytest.mark.parametrize("path", ["entries", "entries.csv", "entries.pdf"])
def test_bad_filters_are_422_in_words(client, make, path, query, words):
    response = client.get(f"/api/v1/audit/{path}?{query}", headers=make.auth("qa"))
    assert words in error(response, 422, "validation_error")["message"]


@pytest.mark.parametrize(
    ("before", "words"), [("999999", "no audit entry 999999"), ("x", "before"), ("0", "before")]
)
def test_a_bad_paging_cursor_is_422(client, make, before, words):
    response = client.get(f"/api/v1/audit/entries?before={before}", headers=make.auth("qa"))
    assert words in error(response, 422, "validation_error")["message"]


def test_entries_csv_with_the_same_filters(client, make, story):
    response = client.get(
        "/api/v1/audit/entries.csv?actor=ada&record_type=api_tokens", headers=make.auth("qa")
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="audit-trail_record-type-api-tokens')
    assert "_actor-ada_" in disposition and disposition.endswith('.csv"')
    rows = list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert [int(r["entry_id"]) for r in rows] == [story.token_created]
    assert rows[0]["reason"] == "'" + DIN_SCAN
    assert response.headers["X-Audit-Entries"] == "1"
    assert "X-Audit-Export-Capped" not in response.headers


def test_entries_pdf_with_the_same_filters(client, make, story):
    headers = make.auth("admin", username="adele", name="Adele Admin")
    response = client.get("/api/v1/audit/entries.pdf?actor=quinn&action=delete", headers=headers)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pages = PdfReader(io.BytesIO(response.get_data())).pages
    words = " ".join(" ".join(page.extract_text().split()) for page in pages)
    assert "Person: quinn" in words and "Action: delete" in words
    assert "by Adele Admin (adele)" in words
    assert "token revoked" in words and f"api_tokens {story.token_id}" in words
    assert "name corrected" not in words


def test_a_mangled_entry_is_still_listed_and_exported(client, make, story):
    _drop_guards()
    db.session.execute(
        text("UPDATE audit_entries SET changes = '{not json', occurred_at = 'x' WHERE id = :id"),
        {"id": story.nina_renamed},
    )
    headers = make.auth("admin")
    body = ok(client.get("/api/v1/audit/entries?record_key=nina", headers=headers), 200)
    assert body["items"][0]["changes"] == "{not json"
    for path in ("entries.csv", "entries.pdf"):
        response = client.get(f"/api/v1/audit/{path}?record_key=nina", headers=headers)
        assert response.status_code == 200 and response.headers["X-Audit-Entries"] == "2"


def test_the_pdf_export_draws_with_no_snapshot_held_open(app, client, make, story, monkeypatch):
    """The export reads its rows, then lets go of its snapshot before the seconds of drawing:
    meanwhile the WAL can be checkpointed whole (an open reader would hold it back)."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "sqlite":
        pytest.skip("SQLite's WAL checkpoint; PostgreSQL has no such reader hold")
    checkpoints = []
    draw = export.render_audit_report

    def draw_after_a_checkpoint(data):
        other = sqlite3.connect(url.database, isolation_level=None)
        try:
            checkpoints.append(other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone())
        finally:
            other.close()
        return draw(data)

    monkeypatch.setattr(export, "render_audit_report", draw_after_a_checkpoint)
    response = client.get("/api/v1/audit/entries.pdf", headers=make.auth("qa"))
    assert response.status_code == 200
    ((busy, _, _),) = checkpoints
    assert busy == 0  # 1 when a reader's snapshot kept the checkpoint from finishing
