"""Whether QA's release still holds, read from the records: the question every step towards a
patient asks, packing, hand-off and thaw here in `bags` as much as allocation and the bedside.

A disposition's signature covers a hash of the lot's content (`signed_content`): its identity,
donors and their eligibility, bags, deviations and current results, the decision and the
signer. `signature_status` recomputes that content from the database, so a change that
bypassed the services shows as a signature that no longer holds; `release_holds` asks it of a
lot's latest decision. It lives in `bags`, the lowest context that asks; the quality context
that signs and withdraws releases (`services/quality/release_signature.py`) is its home for
every other caller.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import select

from custody.domain import eligibility
from custody.domain.release_rules import content_hash
from custody.extensions import db
from custody.models import Lot, QcResult, ReleaseDecision
from custody.services.bags.queries import lot_determinations


def current_results(lot: Lot) -> list[QcResult]:
    """The results in force: each test's latest entry, corrections having replaced the rest."""
    return list(
        db.session.scalars(
            select(QcResult)
            .where(QcResult.lot_id == lot.id, QcResult.superseded_by_id.is_(None))
            .order_by(QcResult.id)
        )
    )


def latest_decision(lot: Lot) -> ReleaseDecision | None:
    return db.session.scalar(
        select(ReleaseDecision)
        .where(ReleaseDecision.lot_id == lot.id)
        .order_by(ReleaseDecision.id.desc())
        .limit(1)
    )


def lot_content(lot: Lot, results: Iterable[QcResult]) -> dict:
    """The lot's record as a signature covers it: identity, donors, bags, batch deviations and
    results. Investigation notes are left out on purpose: an investigation may go on after a
    rejection without reopening the lot; they are audited like every other change."""
    determination = lot_determinations({lot.id})[lot.id]
    spec = lot.specification
    return {
        "lot": lot.lot_number,
        "product": lot.product_description_code,
        "specification": [spec.product_description_code, spec.version] if spec else None,
        "dins": sorted(d.din for d in lot.donations),
        "donor_eligibility": determination,
        "warnings": eligibility.warnings_for(determination),
        "bags": [
            [b.code, b.volume_ml, b.viable_car_nk_cells, b.total_cells]
            for b in sorted(lot.bags, key=lambda b: b.product_code)
        ],
        "deviations": [[s.sequence, s.step, s.deviation_reason] for s in lot.steps if s.deviation],
        "results": [
            [r.id, r.test, r.value_numeric, r.value_text, r.unit, r.within_spec]
            for r in sorted(results, key=lambda r: r.id)
        ],
    }


def signed_content(lot, decision, results, signer: str, meaning: str, signed_at) -> dict:
    """Everything a disposition's signature covers: the lot's record, the decision, who signed
    with what meaning and when."""
    return {
        "record": "lot",
        **lot_content(lot, results),
        "disposition": decision.disposition,
        "pending": decision.pending_tests,
        "exceptional": [decision.physician, decision.physician_request, decision.justification]
        if decision.exceptional
        else None,
        "reason": decision.reason,
        "meaning": meaning,
        "signer": signer,
        "signed_at": signed_at.isoformat(),
    }


def release_holds(lot: Lot) -> tuple[bool, str]:
    """Whether QA's latest signed decision on `lot` still holds, and if not, why: what lets a
    bag go towards a patient is the signature, not the disposition the lot reads."""
    decision = latest_decision(lot)
    return signature_status(decision) if decision else (False, "no signed decision")


def signature_status(decision: ReleaseDecision) -> tuple[bool, str]:
    """Whether the signature still covers the lot as it is now, and if not, why.

    Recomputes the content from the database: a change that bypassed the services (or one
    they missed) shows here even if nobody withdrew the signature.
    """
    if decision.invalidated_at is not None:
        return False, decision.invalidation_reason
    signature = decision.signature
    signed = json.loads(decision.signed_content)
    if content_hash(signed) != signature.content_hash:
        return False, "The signed record does not match its signature's hash."
    lot = db.session.get(Lot, decision.lot_id)
    # Results that arrived for tests named pending were not signed and do not count here.
    signed_ids = {row[0] for row in signed["results"]}
    pending = set(decision.pending_tests)
    results = [r for r in current_results(lot) if r.id in signed_ids or r.test not in pending]
    now = signed_content(
        lot, decision, results, signed["signer"], signature.meaning, signature.signed_at
    )
    if content_hash(now) != signature.content_hash:
        return False, "The lot's record changed after it was signed."
    return True, ""
