"""Audit review in a real browser: QA filters the trail and downloads it; an admin checks it.

The trail is the story of `tests/services/audit/test_review.py` (known moments in January
2026); what the browser shows and downloads is compared with the database.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from custody.extensions import db
from custody.models import AuditEntry
from tests.services.audit.test_review import write_story
from tests.web.conftest import browser_sign_in, release_db


def _sign_in(page: Page, live_server: str, username: str) -> None:
    browser_sign_in(page, live_server, username, "/audit")
    expect(page.get_by_role("heading", name="Audit trail", exact=True)).to_be_visible()


def test_qa_filters_by_record_and_person_and_downloads_the_csv(
    page, live_server, make, monkeypatch
):
    story = write_story(monkeypatch, make)
    release_db()
    _sign_in(page, live_server, "quinn")

    form = page.get_by_test_id("audit-filters")
    form.get_by_label("Record type").select_option("users")
    form.get_by_label("Record ID").fill(story.nina_id)
    form.get_by_label("Person").fill("ada")
    with page.expect_navigation():
        form.get_by_role("button", name="Show entries").click()

    query = parse_qs(urlsplit(page.url).query)  # a shareable address
    assert query["record_type"] == ["users"]
    assert query["record_id"] == [story.nina_id]
    assert query["actor"] == ["ada"]
    rows = page.get_by_test_id("audit-entry")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-entry", str(story.nina_renamed))
    expect(rows.first.get_by_test_id("entry-person")).to_contain_text("Ada Lovelace")
    expect(rows.first.get_by_test_id("entry-changes")).to_have_text(
        "full_name: Nina Brandt → Nina Brandt-Okafor"
    )
    expect(rows.first.get_by_test_id("entry-time")).to_have_text("2026-01-10 23:30:00 CST")
    expect(page.get_by_test_id("tamper-check")).to_have_count(0)  # QA: no tamper check

    with page.expect_download() as download_info:
        page.get_by_test_id("export-csv").click()
    download = download_info.value
    assert download.suggested_filename.startswith(
        f"audit-trail_record-type-users_record-id-{story.nina_id}_actor-ada_"
    )
    body = Path(download.path()).read_text(encoding="utf-8-sig")
    (row,) = csv.DictReader(io.StringIO(body))
    assert int(row["entry_id"]) == story.nina_renamed
    assert (row["actor"], row["action"], row["reason"]) == (
        "ada",
        "update",
        "name corrected after marriage",
    )


def test_admin_runs_the_tamper_check_and_sees_it_verify(page, live_server, make):
    make.user("admin", username="ada", name="Ada Lovelace")
    make.user("nurse", username="nina")
    entries = db.session.scalar(select(func.count()).select_from(AuditEntry))
    release_db()
    _sign_in(page, live_server, "ada")
    expect(page.get_by_test_id("check-none")).to_be_visible()

    with page.expect_navigation():
        page.get_by_role("button", name="Check the audit trail now").click()

    result = page.get_by_test_id("check-result")
    expect(result).to_have_attribute("data-state", "ok")
    # Ada's own sign-in is one more entry: a session row opened.
    expect(result).to_contain_text(f"audit OK: {entries + 1} entries, checked at")
    expect(result).to_contain_text("by Ada Lovelace (ada)")
