"""Reading the audit trail for review: newest entries first, filtered by record or person."""

from __future__ import annotations

from sqlalchemy import select

from custody.extensions import db
from custody.models.audit import AuditEntry


def recent_entries(
    limit: int,
    record_type: str | None = None,
    record_id: str | None = None,
    actor: str | None = None,
) -> list[AuditEntry]:
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if record_type is not None:
        stmt = stmt.where(AuditEntry.record_type == record_type)
    if record_id is not None:
        stmt = stmt.where(AuditEntry.record_id == record_id)
    if actor is not None:
        stmt = stmt.where(AuditEntry.actor == actor)
    return list(db.session.scalars(stmt))
