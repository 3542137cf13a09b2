"""The audit review page, rendered on the server: filters, paging, exports, roles, and the
admins' tamper check.

The page needs no JavaScript, so the Flask test client reads what a person reads. The trail
is the one `tests/services/audit/test_review.py` writes at known moments in January 2026.
"""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from pypdf import PdfReader
from sqlalchemy import text

from custody.extensions import db
from custody.models import AuditEntry
from custody.web import audit_pages
from tests.services.audit.test_review import DIN_SCAN, Story, write_story
from tests.services.core.test_audit_trail import _drop_guards
from tests.web.test_bag_page import Marked, sign_in


@pytest.fixture
def story(app, make, monkeypatch) -> Story:
    return write_story(monkeypatch, make)


def _page(client, query: str = "", status: int = 200) -> Marked:
    response = client.get(f"/audit{query}")
    assert response.status_code == status, response.get_data(as_text=True)
    return Marked(response.get_data(as_text=True))


def _entry_ids(page: Marked) -> list[int]:
    return [int(a["data-entry"]) for a in page.attributes("audit-entry")]


def _csrf(client) -> str:
    html = client.get("/audit").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def _tamper_with(entry_id: int, **values: str) -> None:
    """What someone with database rights would do: drop the guards, edit a row."""
    _drop_guards()
    columns = ", ".join(f"{column} = :{column}" for column in values)
    db.session.execute(
        text(f"UPDATE audit_entries SET {columns} WHERE id = :id"), {"id": entry_id, **values}
    )
    db.session.commit()


# --- who may look -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["technician", "nurse"])
@pytest.mark.parametrize(
    "path", ["/audit", "/audit/export.csv", "/audit/export.pdf", "/audit?actor=quinn"]
)
def test_technicians_and_nurses_are_refused_in_words(client, make, role, path):
    sign_in(client, make.user(role).username)
    response = client.get(path)
    assert response.status_code == 403
    message = Marked(response.get_data(as_text=True)).one("error-message")
    assert message == f"Only admin or qa may do this; you are signed in as {role}."


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/audit")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_qa_reviews_the_trail_without_the_tamper_check(client, story):
    sign_in(client, "quinn")
    page = _page(client)
    assert set(story.all()) <= set(_entry_ids(page))
    assert page.all("tamper-check") == [] and page.all("check-button") == []
    response = client.post("/audit/check", data={"csrf_token": _csrf(client)})
    assert response.status_code == 403


def test_admins_see_the_tamper_check(client, story):
    sign_in(client, "ada")
    page = _page(client)
    assert page.one("check-button") == "Check the audit trail now"
    assert page.one("check-none") == "Not checked in this session yet."


# --- filters ----------------------------------------------------------------------------------


def test_an_entry_reads_time_person_action_record_key_changes_and_reason(client, story):
    sign_in(client, "quinn")
    page = _page(client, f"?record_type=users&record_id={story.nina_id}")
    assert _entry_ids(page) == [story.nina_renamed, story.nina_created]
    assert page.all("entry-time") == ["2026-01-10 23:30:00 CST", "2026-01-10 09:00:00 CST"]
    assert page.all("entry-person") == ["ada Ada Lovelace", "quinn Quinn Adeyemi"]
    assert page.all("entry-action") == ["update", "create"]
    assert page.all("entry-record") == [f"users {story.nina_id}"] * 2
    assert page.all("entry-key") == ["nina", "nina"]
    assert page.all("entry-changes")[0] == "full_name: Nina Brandt → Nina Brandt-Okafor"
    assert "username: nina" in page.all("entry-changes")[1]
    assert page.all("entry-reason") == ["name corrected after marriage", "new ward nurse"]
    assert page.one("filter-summary") == (
        f"Showing entries where Record type users; Record ID {story.nina_id}."
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?actor=ada", lambda s: [s.token_created, s.nina_renamed]),
        ("?action=delete", lambda s: [s.token_deleted]),
        ("?record_key=nina", lambda s: [s.nina_renamed, s.nina_created]),
        ("?from=2026-01-10&to=2026-01-10", lambda s: [s.nina_renamed, s.nina_created]),
        ("?from=2026-01-12+08:00&to=2026-01-13", lambda s: [s.token_deleted, s.token_created]),
        ("?reason=revoked", lambda s: [s.token_deleted]),
        ("?actor=quinn&record_type=api_tokens", lambda s: [s.token_deleted]),
        ("?actor=ada&from=2026-01-11&action=create", lambda s: [s.token_created]),
    ],
)
def test_each_filter_alone_and_combined(client, story, query, expected):
    sign_in(client, "quinn")
    assert _entry_ids(_page(client, query)) == expected(story)


def test_the_form_shows_what_was_filtered_and_choices(client, story):
    sign_in(client, "quinn")
    html = client.get("/audit?record_type=api_tokens&action=delete&actor=quinn").get_data(
        as_text=True
    )
    assert '<option value="api_tokens" selected>api tokens</option>' in html
    assert '<option value="delete" selected>delete</option>' in html
    assert 'id="actor" name="actor" value="quinn"' in html
    assert '<option value="ada">Ada Lovelace</option>' in html  # the people list


def test_no_match_says_so(client, story):
    sign_in(client, "quinn")
    page = _page(client, "?actor=mallory")
    assert page.one("no-entries") == "No audit entry matches these filters."
    assert _entry_ids(page) == []


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("?from=10%2F01%2F2026", "From '10/01/2026' is not a date or time: write it as YYYY-MM-DD"),
        ("?to=2026-02-30", "To '2026-02-30' is not a real date or time"),
        ("?from=2026-02-01&to=2026-01-01", "is after 'To'"),
        ("?record_type=secrets", "Record type 'secrets' is not one the audit trail records"),
        ("?record_id=4", "choose its record type too"),
        ("?action=erase", "Action 'erase' is not known"),
        ("?reason=a%00b", "cannot be searched"),
        ("?before=x", "audit entry number"),
        ("?before=99999999", "no audit entry 99999999"),
    ],
)
def test_bad_filters_are_explained_above_the_form_never_a_crash(client, story, query, words):
    sign_in(client, "quinn")
    page = _page(client, query, status=422)
    assert words in page.one("filter-error")
    assert page.all("audit-entries") == [] and page.all("export-csv") == []
    assert page.all("audit-filters")  # the form stays, to correct


def test_a_bad_date_stays_in_the_form_to_correct(client, story):
    sign_in(client, "quinn")
    html = client.get("/audit?from=2026-13-01&actor=ada").get_data(as_text=True)
    assert 'name="from" value="2026-13-01"' in html and 'name="actor" value="ada"' in html


# --- paging -----------------------------------------------------------------------------------


def test_older_entries_follow_on_a_page_at_a_time(client, story, monkeypatch):
    monkeypatch.setattr(audit_pages, "PAGE_SIZE", 2)
    sign_in(client, "quinn")
    query, seen, pages = "?actor=quinn", [], 0
    while True:
        page = _page(client, query)
        pages += 1
        seen += _entry_ids(page)
        older = page.attributes("older-entries")
        if not older:
            assert page.one("no-more") == "No older entries match."
            break
        link = urlsplit(older[0]["href"])
        assert parse_qs(link.query)["actor"] == ["quinn"]  # the filters go along
        query = f"?{link.query}"
        assert page.all("newest-entries") == ([] if pages == 1 else ["← Newest entries"])
    assert pages == 3
    # Newest first: Quinn's own sign-in (a session row opened), then the story's entries.
    signed_in = db.session.get(AuditEntry, seen[0])
    assert (signed_in.record_type, signed_in.action) == ("user_sessions", "create")
    assert seen[1:] == [
        *sorted(story.batch, reverse=True),
        story.token_deleted,
        story.nina_created,
    ]


# --- exports ----------------------------------------------------------------------------------


def test_export_links_carry_the_filters(client, story):
    sign_in(client, "quinn")
    page = _page(client, "?actor=ada&from=2026-01-11")
    for testid, path in (("export-csv", "/audit/export.csv"), ("export-pdf", "/audit/export.pdf")):
        link = urlsplit(page.attributes(testid)[0]["href"])
        assert link.path == path
        assert parse_qs(link.query) == {"actor": ["ada"], "from": ["2026-01-11"]}


def test_csv_export_from_the_page(client, story):
    sign_in(client, "quinn")
    response = client.get("/audit/export.csv?actor=ada")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'attachment; filename="audit-trail_actor-ada_' in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert [int(r["entry_id"]) for r in rows] == [story.token_created, story.nina_renamed]
    assert rows[0]["reason"] == "'" + DIN_SCAN  # never run as a formula
    assert rows[1]["local_time"] == "2026-01-10 23:30:00 CST"


def test_pdf_export_from_the_page(client, story):
    sign_in(client, "ada")
    response = client.get("/audit/export.pdf?record_key=nina")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pages = PdfReader(io.BytesIO(response.get_data())).pages
    words = " ".join(" ".join(page.extract_text().split()) for page in pages)
    assert "Record key: nina" in words and "by Ada Lovelace (ada)" in words
    assert "name corrected after marriage" in words and "new ward nurse" in words


def test_an_export_with_a_bad_filter_shows_the_words(client, story):
    sign_in(client, "quinn")
    response = client.get("/audit/export.csv?to=tomorrow")
    assert response.status_code == 422
    message = Marked(response.get_data(as_text=True)).one("error-message")
    assert "To 'tomorrow' is not a date or time" in message


# --- the tamper check -------------------------------------------------------------------------


def test_admin_checks_the_trail_and_sees_it_verify(client, story):
    sign_in(client, "ada")
    response = client.post(
        "/audit/check", data={"csrf_token": _csrf(client), "back": "actor=quinn&evil=1"}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/audit?actor=quinn"  # filters kept, nothing else
    total = db.session.execute(text("SELECT count(*) FROM audit_entries")).scalar()
    page = _page(client, "?actor=quinn")
    result = page.one("check-result")
    assert page.attributes("check-result")[0]["data-state"] == "ok"
    assert re.fullmatch(
        rf"✔ audit OK: {total} entries, checked at \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d C[SD]T "
        r"by Ada Lovelace \(ada\)",
        result,
    ), result


def test_admin_sees_a_tampered_entry_named_in_red(client, story):
    _tamper_with(story.nina_renamed, reason="nothing to see")
    sign_in(client, "ada")
    client.post("/audit/check", data={"csrf_token": _csrf(client)})
    page = _page(client)
    assert page.attributes("check-result")[0]["data-state"] == "broken"
    assert page.one("check-break").startswith(f"entry {story.nina_renamed} (shard ")
    assert page.one("check-break").endswith("content does not match its hash (the row was altered)")
    assert "does not verify" in page.one("check-result")


def test_the_check_needs_the_csrf_token(client, story):
    sign_in(client, "ada")
    response = client.post("/audit/check", data={})
    assert response.status_code == 400
    assert _page(client).one("check-none") == "Not checked in this session yet."


def test_an_entry_whose_changes_and_time_were_mangled_is_still_listed(client, story):
    _tamper_with(story.nina_renamed, changes="{not json", occurred_at="yesterday")
    sign_in(client, "ada")
    page = _page(client, "?record_key=nina")
    assert page.all("entry-changes")[0] == "{not json"
    assert page.all("entry-time")[0] == "yesterday"
    assert client.get("/audit/export.pdf?record_key=nina").status_code == 200
    client.post("/audit/check", data={"csrf_token": _csrf(client)})
    assert _page(client).one("check-break").startswith(f"entry {story.nina_renamed} ")
