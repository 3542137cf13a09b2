"""Audit review: filtering the trail by record, person, time, action and reason; paging; and
the CSV and PDF exports.

The trail is written the way the application writes it (the flush listener, under
`acting_as`), at fixed moments: the listener's clock is pinned for each step of a short story,
so time filters can be checked against known local and UTC times. The site's zone is the
default America/Chicago (UTC-6 in January).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from custody.domain.errors import ValidationFailed
from custody.domain.permissions import Role
from custody.extensions import db
from custody.models import ApiToken, AuditEntry, User
from custody.services.audit import export as audit_export
from custody.services.audit.export import (
    csv_export,
    entries_digest,
    file_stem,
    guard_formula,
    pdf_export,
)
from custody.services.audit.review import parse_before, parse_filter, search
from custody.services.core import audit_trail
from custody.services.core.audit_trail import acting_as

CHICAGO = ZoneInfo("America/Chicago")
DIN_SCAN = "=W00002600012300 scanned at receipt"


@dataclass(frozen=True)
class Story:
    """Entry ids of each step, and the records they are about."""

    nina_created: int
    nina_renamed: int
    token_created: int
    token_deleted: int
    batch: tuple[int, ...]  # three accounts in one transaction: one instant
    nina_id: str
    token_id: str

    def all(self) -> set[int]:
        steps = {self.nina_created, self.nina_renamed, self.token_created, self.token_deleted}
        return steps | set(self.batch)


def write_story(monkeypatch, make) -> Story:
    """Quinn (QA) and Ada (admin) change accounts at known moments in January 2026.

    - Jan 10 15:00Z (09:00 local): quinn creates nina
    - Jan 11 05:30Z (Jan 10 23:30 local): ada renames nina
    - Jan 12 14:00Z: ada issues nina a token (reason as a scanner types: starts with '=')
    - Jan 13 14:00Z: quinn deletes the token
    - Jan 14 14:00Z: quinn creates three accounts in one transaction
    """
    make.user("qa", username="quinn", name="Quinn Adeyemi")
    make.user("admin", username="ada", name="Ada Lovelace")
    real_clock = audit_trail.utcnow

    def step(when: str, actor: str, reason: str, change) -> list[int]:
        before = db.session.scalar(select(func.max(AuditEntry.id))) or 0
        monkeypatch.setattr(audit_trail, "utcnow", lambda: datetime.fromisoformat(when))
        with acting_as(actor, reason=reason):
            change()
            db.session.commit()
        return list(db.session.scalars(select(AuditEntry.id).where(AuditEntry.id > before)))

    nina = User(username="nina", full_name="Nina Brandt", role=Role.NURSE, password_hash="x")
    (created,) = step(
        "2026-01-10T15:00:00+00:00", "quinn", "new ward nurse", lambda: db.session.add(nina)
    )
    (renamed,) = step(
        "2026-01-11T05:30:00+00:00",
        "ada",
        "name corrected after marriage",
        lambda: setattr(nina, "full_name", "Nina Brandt-Okafor"),
    )
    token = ApiToken(user_id=nina.id, token_hash="f" * 64, label="ward scanner")
    (token_created,) = step(
        "2026-01-12T14:00:00+00:00", "ada", DIN_SCAN, lambda: db.session.add(token)
    )
    token_id = str(token.id)
    (token_deleted,) = step(
        "2026-01-13T14:00:00+00:00", "quinn", "token revoked", lambda: db.session.delete(token)
    )
    batch = step(
        "2026-01-14T14:00:00+00:00",
        "quinn",
        "accounts for the night shift",
        lambda: db.session.add_all(
            User(username=f"night{n}", full_name=f"Night {n}", role=Role.NURSE, password_hash="x")
            for n in range(3)
        ),
    )
    monkeypatch.setattr(audit_trail, "utcnow", real_clock)
    return Story(
        created, renamed, token_created, token_deleted, tuple(batch), str(nina.id), token_id
    )


@pytest.fixture
def story(app, make, monkeypatch) -> Story:
    return write_story(monkeypatch, make)


def _found(args: dict, limit: int = 100) -> list[int]:
    return [e.id for e in search(parse_filter(args, CHICAGO), limit).entries]


def _in_story(story: Story, args: dict) -> list[int]:
    """Matching ids among the story's entries (set-up accounts are written at the real time)."""
    return [i for i in _found(args) if i in story.all()]


# --- each filter alone ----------------------------------------------------------------------


def test_no_filter_lists_everything_newest_first_with_one_instant_ordered_by_id(story):
    found = _found({})
    assert set(story.all()) <= set(found)
    story_order = [i for i in found if i in story.all()]
    assert story_order == [
        *sorted(story.batch, reverse=True),
        story.token_deleted,
        story.token_created,
        story.nina_renamed,
        story.nina_created,
    ]


def test_a_record_is_found_by_type_and_id(story):
    assert _found({"record_type": "users", "record_id": story.nina_id}) == [
        story.nina_renamed,
        story.nina_created,
    ]
    assert _found({"record_type": "api_tokens", "record_id": story.token_id}) == [
        story.token_deleted,
        story.token_created,
    ]


def test_a_record_type_alone_lists_every_record_of_that_table(story):
    assert _found({"record_type": "api_tokens"})[:2] == [story.token_deleted, story.token_created]
    assert story.token_created not in _in_story(story, {"record_type": "users"})


def test_a_record_is_found_by_its_key(story):
    assert _found({"record_key": "nina"}) == [story.nina_renamed, story.nina_created]
    assert _found({"record_key": "Nina"}) == []  # exact: keys are identifiers


def test_a_person_is_found_by_username(story):
    assert _found({"actor": "ada"}) == [story.token_created, story.nina_renamed]
    assert _found({"actor": "mallory"}) == []


def test_an_action_filter(story):
    assert _in_story(story, {"action": "delete"}) == [story.token_deleted]
    assert _in_story(story, {"action": "update"}) == [story.nina_renamed]
    assert len(_in_story(story, {"action": "create"})) == 5


def test_reason_text_matches_anywhere_ignoring_case_and_treats_wildcards_as_text(story):
    assert _found({"reason": "MARRIAGE"}) == [story.nina_renamed]
    assert _found({"reason": "=W0000"}) == [story.token_created]
    assert _found({"reason": "%"}) == []
    assert _found({"reason": "_"}) == []


def test_times_are_local_dates_and_to_includes_the_whole_day(story):
    # Jan 10 local holds 09:00 and 23:30 (the latter is Jan 11 in UTC).
    day = {"from": "2026-01-10", "to": "2026-01-10"}
    assert _found(day) == [story.nina_renamed, story.nina_created]
    assert _found({"to": "2026-01-10"}) == [story.nina_renamed, story.nina_created]
    assert _in_story(story, {"from": "2026-01-13"}) == [
        *sorted(story.batch, reverse=True),
        story.token_deleted,
    ]


def test_times_with_minutes_and_seconds_bound_at_that_precision(story):
    assert _found({"from": "2026-01-10 09:00", "to": "2026-01-10 09:00"}) == [story.nina_created]
    assert _found({"from": "2026-01-10T09:00:01", "to": "2026-01-10 23:30:00"}) == [
        story.nina_renamed
    ]
    assert _found({"from": "2026-01-10 09:01", "to": "2026-01-10 23:29"}) == []


def test_filters_combine(story):
    assert _found({"actor": "quinn", "action": "delete"}) == [story.token_deleted]
    assert _found({"actor": "ada", "record_type": "users", "record_id": story.nina_id}) == [
        story.nina_renamed
    ]
    assert _found({"actor": "ada", "from": "2026-01-11", "to": "2026-01-12"}) == [
        story.token_created
    ]
    assert _found({"record_key": "nina", "actor": "quinn", "reason": "ward"}) == [
        story.nina_created
    ]
    assert _found({"actor": "ada", "action": "delete"}) == []


# --- paging -----------------------------------------------------------------------------------


def test_pages_follow_on_without_gaps_or_repeats_across_one_instant(story):
    flt = parse_filter({"actor": "quinn", "from": "2026-01-01", "to": "2026-01-31"}, CHICAGO)
    seen, before, pages = [], None, 0
    while True:
        page = search(flt, 2, before)
        pages += 1
        seen += [e.id for e in page.entries]
        if not page.more:
            assert page.next_before is None
            break
        assert page.next_before == page.entries[-1].id
        before = page.next_before
    expected = [*sorted(story.batch, reverse=True), story.token_deleted, story.nina_created]
    assert seen == expected
    assert pages == 3


def test_a_page_that_holds_every_match_says_there_is_no_more(story):
    page = search(parse_filter({"actor": "ada"}, CHICAGO), 2)
    assert [e.id for e in page.entries] == [story.token_created, story.nina_renamed]
    assert page.more is False


# --- bad input, in words -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "field", "words"),
    [
        ({"from": "10/01/2026"}, "from", "YYYY-MM-DD"),
        ({"to": "2026-02-30"}, "to", "not a real date"),
        ({"from": "2026-01-10 25:00"}, "from", "not a real date"),
        ({"from": "١٢٣٤-01-01"}, "from", "not a date or time"),
        ({"to": "0999-01-01"}, "to", "outside the years"),
        ({"from": "2026-01-12", "to": "2026-01-11"}, "from", "is after"),
        ({"record_type": "passwords"}, "record_type", "not one the audit trail records"),
        ({"record_id": "12"}, "record_id", "record type too"),
        ({"action": "erase"}, "action", "create, update, delete"),
        ({"actor": "x" * 65}, "actor", "at most 64"),
        ({"reason": "a\x00b"}, "reason", "cannot be searched"),
    ],
)
def test_bad_filters_are_refused_naming_the_field(app, args, field, words):
    with pytest.raises(ValidationFailed) as refused:
        parse_filter(args, CHICAGO)
    assert refused.value.details["field"] == field
    assert words in refused.value.message


def test_a_bad_date_names_the_format_and_the_zone(app):
    with pytest.raises(ValidationFailed) as refused:
        parse_filter({"from": "yesterday"}, CHICAGO)
    assert refused.value.message == (
        "From 'yesterday' is not a date or time: write it as YYYY-MM-DD, YYYY-MM-DD HH:MM or "
        "YYYY-MM-DD HH:MM:SS, in local time (America/Chicago)."
    )


@pytest.mark.parametrize("before", ["abc", "0", "-3", "1.5", "9" * 30])
def test_a_bad_paging_cursor_is_refused(app, before):
    with pytest.raises(ValidationFailed, match="audit entry number"):
        parse_before(before)


def test_a_cursor_naming_no_entry_is_refused(app):
    with pytest.raises(ValidationFailed, match="no audit entry 999999"):
        search(parse_filter({}, CHICAGO), 10, before=999_999)


def test_blank_filters_mean_no_filter(story):
    flt = parse_filter({"actor": "  ", "from": "", "record_type": None}, CHICAGO)
    assert flt.summary() == []
    assert set(story.all()) <= {e.id for e in search(flt).entries}


# --- exports ---------------------------------------------------------------------------------


def _csv_rows(export) -> list[dict]:
    text = export.body.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_has_one_row_per_entry_with_every_column(story, make):
    admin = db.session.scalar(select(User).where(User.username == "ada"))
    flt = parse_filter({"record_type": "users", "record_id": story.nina_id}, CHICAGO)
    export = csv_export(flt, CHICAGO, admin)
    rows = _csv_rows(export)
    assert [int(r["entry_id"]) for r in rows] == [story.nina_renamed, story.nina_created]
    renamed = rows[0]
    stored = db.session.get(AuditEntry, story.nina_renamed)
    assert renamed["occurred_at_utc"] == "2026-01-11T05:30:00.000000Z"
    assert renamed["local_time"] == "2026-01-10 23:30:00 CST"
    assert (renamed["actor"], renamed["action"], renamed["record_type"]) == (
        "ada",
        "update",
        "users",
    )
    assert (renamed["record_id"], renamed["record_key"]) == (story.nina_id, "nina")
    assert json.loads(renamed["changes"]) == {"full_name": ["Nina Brandt", "Nina Brandt-Okafor"]}
    assert renamed["reason"] == "name corrected after marriage"
    assert (int(renamed["shard"]), int(renamed["seq"]), renamed["hash"]) == (
        stored.shard,
        stored.seq,
        stored.hash,
    )
    assert export.mimetype == "text/csv"
    assert (
        export.filename == f"audit-trail_record-type-users_record-id-{story.nina_id}_{_today()}.csv"
    )
    assert export.entries == 2 and not export.capped
    assert "X-Audit-Export-Capped" not in export.headers()
    assert export.headers()["Content-Disposition"] == f'attachment; filename="{export.filename}"'


def test_csv_cells_that_a_spreadsheet_would_run_are_kept_as_text(story):
    admin = db.session.scalar(select(User).where(User.username == "ada"))
    export = csv_export(parse_filter({"actor": "ada", "action": "create"}, CHICAGO), CHICAGO, admin)
    (row,) = _csv_rows(export)
    # An ISBT 128 DIN as scanned starts with '=': the cell is text, not a formula.
    assert row["reason"] == "'" + DIN_SCAN
    assert row["reason"][1:] == db.session.get(AuditEntry, story.token_created).reason


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=SUM(A1:A2)", "'=SUM(A1:A2)"),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("'=x", "''=x"),  # an apostrophe already there is guarded too: one rule to read back
        ("W0000", "W0000"),
        ("a=b", "a=b"),
        (None, ""),
        (12, "12"),
    ],
)
def test_formula_guard(value, cell):
    assert guard_formula(value) == cell


def test_an_export_over_its_cap_says_so(story, monkeypatch):
    admin = db.session.scalar(select(User).where(User.username == "ada"))
    monkeypatch.setattr(audit_export, "CSV_CAP", 2)
    export = csv_export(parse_filter({"actor": "quinn"}, CHICAGO), CHICAGO, admin)
    assert [int(r["entry_id"]) for r in _csv_rows(export)] == sorted(story.batch, reverse=True)[:2]
    assert export.capped
    assert export.headers()["X-Audit-Export-Capped"] == (
        "More entries match; only the newest 2 are exported."
    )


def _pdf_text(body: bytes) -> str:
    return " ".join(
        " ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(body)).pages
    )


def test_pdf_prints_the_filters_who_generated_it_and_each_entry(story):
    admin = db.session.scalar(select(User).where(User.username == "ada"))
    flt = parse_filter({"actor": "ada", "from": "2026-01-10", "to": "2026-01-12"}, CHICAGO)
    export = pdf_export(flt, CHICAGO, admin)
    text = _pdf_text(export.body)
    assert "Audit trail extract" in text
    assert "Person: ada" in text and "From: 2026-01-10" in text and "To: 2026-01-12" in text
    assert "by Ada Lovelace (ada)" in text
    assert "Entries listed 2, newest first" in text
    assert "2026-01-10 23:30:00 CST" in text and "2026-01-11 05:30:00 UTC" in text
    assert "full_name: Nina Brandt -> Nina Brandt-Okafor" in text
    assert "name corrected after marriage" in text
    assert DIN_SCAN in text  # '=' and '<' survive (escaped for reportlab, never dropped)
    assert "Page 1 of 1" in text
    hashes = [db.session.get(AuditEntry, i).hash for i in (story.token_created, story.nina_renamed)]
    assert f"Listed entries' SHA-256: {entries_digest(hashes)}" in text
    assert export.filename.endswith(".pdf") and export.mimetype == "application/pdf"
    assert "CUT SHORT" not in text


def test_pdf_escapes_markup_in_entries_and_says_when_cut_short(story, monkeypatch, make):
    admin = db.session.scalar(select(User).where(User.username == "ada"))
    with acting_as("ada", reason="bag =<A0001 & <b>bold</b>"):
        db.session.add(User(username="lt", full_name="L <T> & Co", role=Role.QA, password_hash="x"))
        db.session.commit()
    monkeypatch.setattr(audit_export, "PDF_CAP", 1)
    export = pdf_export(parse_filter({"actor": "ada"}, CHICAGO), CHICAGO, admin)
    text = _pdf_text(export.body)
    assert "bag =<A0001 & <b>bold</b>" in text
    assert "full_name: L <T> & Co" in text
    assert "CUT SHORT" in text and "Only the newest 1 are listed" in text
    assert export.capped and export.entries == 1


def test_file_names_carry_the_filters_in_safe_characters(app):
    flt = parse_filter(
        {"actor": "quinn", "record_key": "=W0000 26/../x", "from": "2026-01-10"}, CHICAGO
    )
    stem = file_stem(flt, datetime(2026, 3, 14))
    assert stem == "audit-trail_record-key-W0000-26-..-x_actor-quinn_from-2026-01-10_2026-03-14"


def _today() -> str:
    from custody.models.base import utcnow

    return f"{utcnow().astimezone(CHICAGO):%Y-%m-%d}"
