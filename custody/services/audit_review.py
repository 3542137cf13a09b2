"""Reading the audit trail for review: newest entries first, filtered by record or person."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import and_, or_, select

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


def entries_of(records: Iterable[tuple[str, int]], limit: int) -> list[AuditEntry]:
    """The newest entries about any of `records` ((table, id) pairs), in one query on the
    (record_type, record_id) index, however many records a history spans."""
    ids_by_type: dict[str, list[str]] = defaultdict(list)
    for record_type, record_id in records:
        ids_by_type[record_type].append(str(record_id))
    if not ids_by_type:
        return []
    which = or_(
        *(
            and_(AuditEntry.record_type == record_type, AuditEntry.record_id.in_(ids))
            for record_type, ids in ids_by_type.items()
        )
    )
    stmt = select(AuditEntry).where(which).order_by(AuditEntry.id.desc()).limit(limit)
    return list(db.session.scalars(stmt))
