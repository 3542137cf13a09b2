"""Audit review (QA and admins): the trail filtered in the browser, its exports, and for
admins the tamper check.

Server-rendered from `custody.services.audit.review`, with no JavaScript: the filter form is
a GET, so the address of a filtered view can be shared and bookmarked, and the export links
carry the same filters to the same service the API uses. A bad filter (an impossible date,
an unknown record type) is shown above the form in the service's words, with what was typed
left in place to correct.

The tamper check re-hashes the whole trail (`verify_trail`, seconds at a million entries),
so it runs only when an admin asks, by a POST with the CSRF token. Its result is kept in that
admin's session, not in a table: it is a reading, not a record, and the next check replaces
it. QA see neither the button nor the result; the API's `/audit/verify` serves scripts.
"""

from __future__ import annotations

from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, redirect, render_template, request, session, url_for
from flask_login import current_user

from custody.auth import may, page_requires
from custody.domain.audit_chain import ENTRY_ACTIONS
from custody.domain.errors import ValidationFailed
from custody.domain.permissions import UseCase
from custody.extensions import db
from custody.models.base import utcnow
from custody.services.audit.export import CSV_CAP, PDF_CAP, Export, csv_export, pdf_export
from custody.services.audit.review import (
    FILTER_NAMES,
    PAGE_SIZE,
    AuditFilter,
    change_lines,
    names_of,
    parse_before,
    parse_filter,
    people,
    record_types,
    search,
)
from custody.services.audit.verify import verify_trail
from custody.web.local_time import moment, site_zone

bp = Blueprint("audit_review", __name__, template_folder="../templates")

LAST_CHECK = "audit_check"  # the session key of this admin's latest tamper check


@bp.get("/audit")
@page_requires(UseCase.REVIEW_AUDIT_TRAIL)
def review():
    zone = site_zone()
    typed = {name: request.args.get(name, "") for name in FILTER_NAMES}
    try:
        flt = parse_filter(request.args, zone)
        page = search(flt, PAGE_SIZE, parse_before(request.args.get("before")))
    except ValidationFailed as failure:
        return _render(typed, zone, error=failure.message), 422
    return _render(typed, zone, flt=flt, page=page, first_page=not request.args.get("before"))


def _render(typed: dict, zone: ZoneInfo, error: str | None = None, flt=None, page=None, **extra):
    entries = page.entries if page else []
    names = names_of(e.actor for e in entries)
    return render_template(
        "audit/review.html",
        typed=typed,
        error=error,
        filters=flt.summary() if flt else [],
        entries=[_entry(e, zone, names) for e in entries],
        more_url=_more_url(flt, page),
        newest_url=url_for(".review", **flt.entered) if flt else None,
        csv_url=url_for(".export_csv", **flt.entered) if flt else None,
        pdf_url=url_for(".export_pdf", **flt.entered) if flt else None,
        record_types=record_types(),
        actions=ENTRY_ACTIONS,
        people=people(),
        zone=zone.key,
        page_size=PAGE_SIZE,
        caps={"csv": CSV_CAP, "pdf": PDF_CAP},
        can_check=may(UseCase.CHECK_AUDIT_TRAIL),
        last_check=_last_check(zone) if may(UseCase.CHECK_AUDIT_TRAIL) else None,
        back=request.query_string.decode("utf-8", "replace"),
        **extra,
    )


def _entry(entry, zone: ZoneInfo, names: dict[str, str]) -> dict:
    return {
        "id": entry.id,
        "when": _when(entry.occurred_at, zone),
        "actor": entry.actor,
        "name": names.get(entry.actor),
        "action": entry.action,
        "record_type": entry.record_type,
        "record_id": entry.record_id,
        "record_key": entry.record_key,
        "changes": change_lines(entry.action, entry.changes),
        "reason": entry.reason,
    }


def _when(stored: str, zone: ZoneInfo) -> dict:
    """The entry's moment; a time no longer readable (a row edited by hand) is shown as
    stored, so the page still lists what the tamper check will name."""
    try:
        return moment(stored, zone)
    except ValueError:
        return {"iso": "", "local": stored, "utc": "not a valid time"}


def _more_url(flt: AuditFilter | None, page) -> str | None:
    if not (flt and page and page.more):
        return None
    return url_for(".review", **flt.entered, before=page.next_before)


# --- exports ------------------------------------------------------------------------------


@bp.get("/audit/export.csv")
@page_requires(UseCase.REVIEW_AUDIT_TRAIL)
def export_csv():
    return _download(csv_export)


@bp.get("/audit/export.pdf")
@page_requires(UseCase.REVIEW_AUDIT_TRAIL)
def export_pdf():
    return _download(pdf_export)


def _download(exporter) -> Response:
    """A bad filter here is shown on the error page (a link, not the form, was followed)."""
    zone = site_zone()
    export: Export = exporter(parse_filter(request.args, zone), zone, current_user)
    return Response(export.body, mimetype=export.mimetype, headers=export.headers())


# --- the tamper check (admins) ------------------------------------------------------------


@bp.post("/audit/check")
@page_requires(UseCase.CHECK_AUDIT_TRAIL)
def check_trail():
    """Re-hash every shard's chain now; the result waits in the session for the page."""
    report = verify_trail(db.session.connection())
    session[LAST_CHECK] = {
        "ok": report.ok,
        "entries": report.entries,
        "first_break": report.first_break.describe() if report.first_break else None,
        "checked_at": utcnow().isoformat(),
        "by": f"{current_user.full_name} ({current_user.username})",
    }
    return redirect(_back_to_review(request.form.get("back", "")))


def _back_to_review(query: str) -> str:
    """The review page with the filters it was showing; nothing else from the form is kept,
    so the redirect can only ever land on this page."""
    kept = {k: v for k, v in parse_qsl(query[:2000]) if k in (*FILTER_NAMES, "before")}
    return url_for(".review", **kept)


def _last_check(zone: ZoneInfo) -> dict | None:
    found = session.get(LAST_CHECK)
    if not isinstance(found, dict) or "checked_at" not in found:
        return None
    return {**found, "when": moment(found["checked_at"], zone)}
