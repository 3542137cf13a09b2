"""The audit trail: reviewing entries (also as CSV and PDF), and checking the chain.

Admins and QA only. The filters, their checks and the exports are the review page's
(`custody.services.audit.review`, `custody.services.audit.export`).
"""

from flask import Response

from custody.api.parsing import ApiBlueprint
from custody.auth import api_user, requires
from custody.domain.permissions import UseCase
from custody.extensions import db
from custody.schemas.audit import AuditEntriesOut, AuditFilterQuery, AuditQuery, AuditVerifyOut
from custody.services.audit.export import Export, csv_export, pdf_export
from custody.services.audit.review import parse_filter, search
from custody.services.audit.verify import verify_trail
from custody.services.core.facility import site_zone

PREFIX = "/audit"
blp = ApiBlueprint("audit", __name__, description="The append-only, hash-chained audit trail")
FILE = {"type": "string", "format": "binary"}


@blp.get("/entries")
@requires(UseCase.REVIEW_AUDIT_TRAIL)
@blp.arguments(AuditQuery, location="query")
@blp.response(200, AuditEntriesOut)
def entries(query):
    """Matching entries, newest first, a page at a time (`before` = the last page's
    `next_before`)."""
    limit, before = query.pop("limit"), query.pop("before", None)
    page = search(parse_filter(query, site_zone()), limit, before)
    return {"items": page.entries, "more": page.more, "next_before": page.next_before}


@blp.get("/entries.csv")
@requires(UseCase.REVIEW_AUDIT_TRAIL)
@blp.arguments(AuditFilterQuery, location="query")
@blp.response(200, FILE, content_type="text/csv", description="One row per entry")
def entries_csv(query):
    """The matching entries as CSV, newest first, up to the export cap (50 000); the header
    `X-Audit-Export-Capped` says when more matched."""
    zone = site_zone()
    return _download(csv_export(parse_filter(query, zone), zone, api_user()))


@blp.get("/entries.pdf")
@requires(UseCase.REVIEW_AUDIT_TRAIL)
@blp.arguments(AuditFilterQuery, location="query")
@blp.response(200, FILE, content_type="application/pdf", description="A printable extract")
def entries_pdf(query):
    """The matching entries as a landscape PDF with the filters in its header, up to the
    PDF cap (1 000), which a red box on its first page names when more matched."""
    zone = site_zone()
    return _download(pdf_export(parse_filter(query, zone), zone, api_user()))


def _download(export: Export) -> Response:
    return Response(export.body, mimetype=export.mimetype, headers=export.headers())


@blp.get("/verify")
@requires(UseCase.REVIEW_AUDIT_TRAIL)
@blp.response(200, AuditVerifyOut)
def verify():
    report = verify_trail(db.session.connection())
    brk = report.first_break
    return {"ok": report.ok, "entries": report.entries, "first_break": brk and brk.describe()}
