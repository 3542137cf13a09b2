"""Whether QA's release still holds: the one question every step towards a patient asks.

A disposition's signature covers a hash of the lot's content (`signed_content`): its identity,
donors and their eligibility, bags, deviations and current results, the decision and the signer.
`signature_status` recomputes that content from the database, so a change that bypassed the
services shows as a signature that no longer holds; `release_holds` asks it of a lot's latest
decision; `reopen_for_review` withdraws the signature when the services change the content.
The reading lives in `services/bags/release_status.py`, because packing, hand-off and thaw in
`bags` ask it too; this module is its home for every caller above.
"""

from __future__ import annotations

from custody.models import Disposition, Lot, ReleaseDecision
from custody.models.base import utcnow
from custody.services.bags.release_status import (
    latest_decision,
    lot_content,
    release_holds,
    signature_status,
    signed_content,
)

__all__ = [
    "latest_decision",
    "lot_content",
    "release_holds",
    "reopen_for_review",
    "signature_status",
    "signed_content",
]


def reopen_for_review(lot: Lot, why: str) -> ReleaseDecision | None:
    """The lot's content changed after QA signed it: the signature no longer holds, and the lot
    goes back to quarantine for re-review. Call inside the transaction that made the change."""
    decision = latest_decision(lot)
    if decision is None or decision.invalidated_at is not None:
        return None
    if decision.disposition == Disposition.QUARANTINE and lot.disposition is Disposition.QUARANTINE:
        return None
    decision.invalidated_at = utcnow()
    decision.invalidation_reason = why
    lot.disposition = Disposition.QUARANTINE
    return decision
