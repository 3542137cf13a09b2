"""The audit trail: reading entries, and checking the chain (admins and QA)."""

from sqlalchemy import select

from custody.api.parsing import ApiBlueprint
from custody.auth import require_role
from custody.extensions import db
from custody.models.audit import AuditEntry
from custody.schemas.audit import AuditEntriesOut, AuditQuery, AuditVerifyOut
from custody.services.audit_verify import verify_trail

PREFIX = "/audit"
blp = ApiBlueprint("audit", __name__, description="The append-only, hash-chained audit trail")


@blp.get("/entries")
@require_role("admin", "qa")
@blp.arguments(AuditQuery, location="query")
@blp.response(200, AuditEntriesOut)
def entries(query):
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(query["limit"])
    for field in ("record_type", "record_id", "actor"):
        if field in query:
            stmt = stmt.where(getattr(AuditEntry, field) == query[field])
    return {"items": db.session.scalars(stmt).all()}


@blp.get("/verify")
@require_role("admin", "qa")
@blp.response(200, AuditVerifyOut)
def verify():
    report = verify_trail(db.session.connection())
    brk = report.first_break
    return {"ok": report.ok, "entries": report.entries, "first_break": brk and brk.describe()}
