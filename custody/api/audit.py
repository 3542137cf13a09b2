"""The audit trail: reading entries, and checking the chain (admins and QA)."""

from custody.api.parsing import ApiBlueprint
from custody.auth import require_role
from custody.extensions import db
from custody.schemas.audit import AuditEntriesOut, AuditQuery, AuditVerifyOut
from custody.services.audit_review import recent_entries
from custody.services.audit_verify import verify_trail

PREFIX = "/audit"
blp = ApiBlueprint("audit", __name__, description="The append-only, hash-chained audit trail")


@blp.get("/entries")
@require_role("admin", "qa")
@blp.arguments(AuditQuery, location="query")
@blp.response(200, AuditEntriesOut)
def entries(query):
    return {"items": recent_entries(**query)}


@blp.get("/verify")
@require_role("admin", "qa")
@blp.response(200, AuditVerifyOut)
def verify():
    report = verify_trail(db.session.connection())
    brk = report.first_break
    return {"ok": report.ok, "entries": report.entries, "first_break": brk and brk.describe()}
