"""Reading a lot's quality record for QA: results against specification, signatures, the queue.

The same dictionaries feed the API and the QA pages, so a signature's manifestation (printed
name, time, meaning) reads the same wherever the lot is shown (21 CFR 11.50).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from custody.domain.errors import NotFound
from custody.domain.release_rules import criterion_words, result_problems, verdict
from custody.extensions import db
from custody.models import AuditEntry, Disposition, Lot, QcResult, ReleaseDecision, Signature
from custody.services.audit.review import entries_of
from custody.services.core.signatures import manifestation
from custody.services.quality.alerts import list_alerts
from custody.services.quality.certificates import result_words
from custody.services.quality.lot_quality import (
    all_results,
    criteria_of,
    current_results,
    readings_of,
)
from custody.services.quality.release_signature import latest_decision, signature_status


def lot_quality(lot_number: str) -> dict[str, Any]:
    """The lot's specification with each test's current result, verdict and history; what
    still stands in the way of release; every signed decision with its validity."""
    lot = _lot(lot_number)
    history = all_results(lot)
    current = [r for r in history if r.current]
    criteria = criteria_of(lot)
    readings = readings_of(current)
    decision = latest_decision(lot)
    pending = decision.pending_tests if _conditional(lot, decision) else []
    spec = lot.specification
    return {
        "lot": lot.lot_number,
        "status": lot.disposition.value,
        "specification": {"product": spec.product_description_code, "version": spec.version}
        if spec
        else None,
        "tests": [
            {
                "test": c.test,
                "title": c.title,
                "kind": c.kind,
                "unit": c.unit,
                "criterion": criterion_words(c),
                "allowed_values": list(c.allowed_values),
                "may_be_pending": c.may_be_pending,
                "verdict": verdict(c, readings.get(c.test)),
                "result": _result(next((r for r in current if r.test == c.test), None)),
                "history": [_result(r) for r in history if r.test == c.test and not r.current],
            }
            for c in criteria
        ],
        "release_problems": result_problems(criteria, readings, pending)
        if criteria
        else ["the lot has no approved specification"],
        "decisions": [decision_summary(d) for d in _decisions(lot)],
        "alerts": list_alerts(lot_number=lot.lot_number),
    }


def lot_history(lot_number: str, limit: int) -> list[AuditEntry]:
    """The audit trail of the lot's release record, newest first: the lot itself, every QC
    result ever entered for it (corrected ones included) and every signed decision."""
    lot = _lot(lot_number)
    records = [
        ("lots", lot.id),
        *(("qc_results", r.id) for r in all_results(lot)),
        *(("release_decisions", d.id) for d in _decisions(lot)),
    ]
    return entries_of(records, limit)


def _lot(lot_number: str) -> Lot:
    lot = db.session.scalar(select(Lot).where(Lot.lot_number == lot_number))
    if lot is None:
        raise NotFound(f"No lot {lot_number} is known here.", lot=lot_number)
    return lot


def _conditional(lot: Lot, decision: ReleaseDecision | None) -> bool:
    return decision is not None and lot.disposition is Disposition.CONDITIONALLY_RELEASED


def _result(result: QcResult | None) -> dict | None:
    if result is None:
        return None
    return {
        "id": result.id,
        "value": result_words(result),
        "value_numeric": result.value_numeric,
        "value_text": result.value_text,
        "unit": result.unit,
        "within_spec": result.within_spec,
        "method": result.method,
        "instrument": result.instrument,
        "attachment_ref": result.attachment_ref,
        "entered_by": result.entered_by.full_name,
        "entered_at": result.entered_at,
        "investigation_note": result.investigation_note,
        "needs_investigation": result.within_spec is False and not result.investigation_note,
        "correction_reason": result.correction_reason,
        "superseded": not result.current,
    }


def _decisions(lot: Lot) -> list[ReleaseDecision]:
    return list(
        db.session.scalars(
            select(ReleaseDecision)
            .where(ReleaseDecision.lot_id == lot.id)
            .options(selectinload(ReleaseDecision.signature))
            .order_by(ReleaseDecision.id.desc())
        )
    )


def decision_summary(decision: ReleaseDecision, check: bool = True) -> dict:
    """A signed decision as shown: manifestation, validity, certificate, exceptional facts."""
    holds, why = signature_status(decision) if check else (decision.invalidated_at is None, "")
    return {
        "disposition": decision.disposition,
        "previous_disposition": decision.previous_disposition,
        "decided_at": decision.decided_at,
        "signature": manifestation(decision.signature),
        "signature_valid": holds,
        "invalid_because": why or decision.invalidation_reason,
        "reason": decision.reason,
        "pending_tests": decision.pending_tests,
        "exceptional": decision.exceptional,
        "physician": decision.physician,
        "physician_request": decision.physician_request,
        "justification": decision.justification,
        "certificate_number": decision.certificate_number,
        "certificate_sha256": decision.certificate_sha256,
    }


def with_release(summary: dict, check: bool = False) -> dict:
    """A lot's summary with its latest signed decision (None before QA signed): wherever a
    lot is shown, so is the signature behind its status. `check` recomputes the signature's
    hash, which costs a few queries: one lot, not lists (see `with_releases`)."""
    decision = latest_decision(_lot(summary["lot"]))
    summary["release"] = decision_summary(decision, check) if decision is not None else None
    return summary


def with_releases(summaries: list[dict]) -> list[dict]:
    """`with_release` for a list of lots, in one query for all their latest decisions."""
    numbers = [s["lot"] for s in summaries]
    latest = (
        select(func.max(ReleaseDecision.id))
        .join(Lot, Lot.id == ReleaseDecision.lot_id)
        .where(Lot.lot_number.in_(numbers))
        .group_by(ReleaseDecision.lot_id)
    )
    rows = db.session.execute(
        select(Lot.lot_number, ReleaseDecision)
        .join(Lot, Lot.id == ReleaseDecision.lot_id)
        .where(ReleaseDecision.id.in_(latest))
        .options(selectinload(ReleaseDecision.signature).selectinload(Signature.signer))
    ).all()
    decisions = {number: decision for number, decision in rows}
    for summary in summaries:
        decision = decisions.get(summary["lot"])
        summary["release"] = decision_summary(decision, False) if decision else None
    return summaries


def review_queue() -> list[dict]:
    """Lots waiting for QA: in quarantine with bags filled, or conditionally released with
    the awaited results now in. Ready ones first, then oldest first."""
    lots = db.session.scalars(
        select(Lot)
        .where(Lot.disposition.in_([Disposition.QUARANTINE, Disposition.CONDITIONALLY_RELEASED]))
        .options(selectinload(Lot.bags))
        .order_by(Lot.id)
    ).all()
    queue = [_queue_entry(lot) for lot in lots if lot.bags]
    queue = [q for q in queue if q["status"] == "quarantine" or not q["release_problems"]]
    return sorted(queue, key=lambda q: (bool(q["release_problems"]), q["created_at"]))


def _queue_entry(lot: Lot) -> dict:
    results = current_results(lot)
    criteria = criteria_of(lot)
    readings = readings_of(results)
    decision = latest_decision(lot)
    return {
        "lot": lot.lot_number,
        "status": lot.disposition.value,
        "created_at": lot.created_at,
        "bags": len(lot.bags),
        "results_in": len([c for c in criteria if c.test in readings]),
        "results_required": len(criteria),
        "out_of_spec": sorted(r.test for r in results if r.within_spec is False),
        "release_problems": result_problems(criteria, readings)
        if criteria
        else ["the lot has no approved specification"],
        "reopened": decision is not None and decision.invalidated_at is not None,
        "reopened_because": decision.invalidation_reason if decision is not None else "",
    }
