"""Derived state reconciled with the records it derives from, on every database.

A bag's status is where its custody events left it: every change of state the application
makes writes a custody event with the state before and after, in the same transaction, so the
bag reads what its last event (by time, then id) says. A lot's disposition is what QA's latest
signed decision made it (quarantine again once that decision was withdrawn; quarantine while
there is none), and that decision's stored content must still hash to what its signature
covers. A write that bypassed the application (`UPDATE bags SET status = 'released'`, with or
without the PostgreSQL tripwire's marker set) breaks one of these, and is named here.

Whether the lot's record as it is now still matches the signed content is asked by every step
towards a patient (`release_signature.release_holds`), which refuses to move its bags.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import String, cast, func, select
from sqlalchemy.engine import Connection

from custody.domain.release_rules import content_hash
from custody.models import Bag, CustodyEvent, Lot, ReleaseDecision, Signature

QUARANTINE = "quarantine"


@dataclass(frozen=True)
class Mismatch:
    record_type: str
    record_key: str
    reason: str

    def describe(self) -> str:
        return f"{self.record_type} {self.record_key}: {self.reason}"


def reconcile(conn: Connection) -> list[Mismatch]:
    """Every bag and lot whose state does not follow from its records, bags first."""
    return _bags(conn) + _lots(conn)


def _bags(conn: Connection) -> list[Mismatch]:
    bags, events = Bag.__table__, CustodyEvent.__table__
    latest = events.alias("latest")
    # The bag's last custody event as the tracker reads it (services.bags.lookup.last_event):
    # by time, then by id; one index seek per bag (bag_id, occurred_at).
    last_id = (
        select(latest.c.id)
        .where(latest.c.bag_id == bags.c.id)
        .order_by(latest.c.occurred_at.desc(), latest.c.id.desc())
        .limit(1)
        .correlate(bags)
        .scalar_subquery()
    )
    status = cast(bags.c.status, String)
    rows = conn.execute(
        select(bags.c.code, status, events.c.id, events.c.action, events.c.to_status)
        .select_from(bags.outerjoin(events, events.c.id == last_id))
        .where((events.c.id.is_(None)) | (events.c.to_status != status))
        .order_by(bags.c.code)
    )
    out = []
    for code, state, event_id, action, to_status in rows:
        if event_id is None:
            reason = f"reads {state} but has no custody event at all (not filled by the tracker)"
        else:
            reason = (
                f"reads {state} but its last custody event ({event_id}, {action}) left it "
                f"{to_status}: the state was changed without a custody record"
            )
        out.append(Mismatch("bag", code, reason))
    return out


def _lots(conn: Connection) -> list[Mismatch]:
    lots, decisions, signatures = Lot.__table__, ReleaseDecision.__table__, Signature.__table__
    latest = (
        select(decisions.c.lot_id, func.max(decisions.c.id).label("decision_id"))
        .group_by(decisions.c.lot_id)
        .subquery()
    )
    rows = conn.execute(
        select(
            lots.c.id,
            lots.c.lot_number,
            cast(lots.c.disposition, String),
            decisions.c.id,
            decisions.c.disposition,
            decisions.c.invalidated_at,
            decisions.c.signed_content,
            signatures.c.id,
            signatures.c.content_hash,
            signatures.c.record_type,
            signatures.c.record_id,
        )
        .select_from(lots)
        .outerjoin(latest, latest.c.lot_id == lots.c.id)
        .outerjoin(decisions, decisions.c.id == latest.c.decision_id)
        .outerjoin(signatures, signatures.c.id == decisions.c.signature_id)
        .order_by(lots.c.lot_number)
    )
    out = []
    for row in rows:
        reason = _lot_problem(*row)
        if reason:
            out.append(Mismatch("lot", row[1], reason))
    return out


def _lot_problem(
    lot_id,
    lot_number,
    disposition,
    decision_id,
    decided,
    withdrawn,
    signed,
    sig_id,
    sig_hash,
    sig_type,
    sig_record,
) -> str | None:
    if decision_id is None:
        if disposition != QUARANTINE:
            return f"reads {disposition} but QA never signed a decision on it"
        return None
    if sig_id is None:
        return f"QA's decision {decision_id} has no signature"
    if (sig_type, sig_record) != ("lot", lot_id):
        return f"QA's decision {decision_id} carries a signature given to another record"
    try:
        holds = content_hash(json.loads(signed)) == sig_hash
    except (ValueError, TypeError):
        holds = False
    if not holds:
        return (
            f"the content of QA's decision {decision_id} no longer hashes to what its signature "
            "covers: the signed record was changed"
        )
    expected = QUARANTINE if withdrawn is not None else decided
    if disposition != expected:
        why = "withdrawn, so the lot belongs in quarantine" if withdrawn else f"made it {decided}"
        return f"reads {disposition} but QA's latest signed decision ({decision_id}) {why}"
    return None
