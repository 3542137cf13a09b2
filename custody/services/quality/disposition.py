"""QA's disposition of a lot, by electronic signature: release, conditional release, reject,
return to quarantine.

The order is the system's to enforce (21 CFR 11.10(f),(g)): only QA signs; nothing is
released with a required result missing or out of specification unless QA records an
exceptional release at a physician's request; product of an ineligible or not fully evaluated
donor is released only with its statements acknowledged; and whoever entered a result does not
release the lot. Everything that stands in the way is listed at once by `release_blockers`,
which the lot page asks before any dialog opens. The signature covers a hash of the lot's
content (`release_signature`), which also says afterwards whether it still holds.
"""

from __future__ import annotations

from datetime import datetime

from custody.domain.permissions import UseCase
from custody.domain.release_rules import DispositionAction, canonical_json, disposition_action
from custody.extensions import db
from custody.models import Disposition, Lot, QcResult, ReleaseDecision, User
from custody.models.base import utcnow
from custody.services.bags.lookup import locked_lot
from custody.services.core.signatures import check_signer, reauthenticate, sign
from custody.services.core.transactions import write
from custody.services.quality.certificates import issue_certificate
from custody.services.quality.disposition_facts import NEEDS_STATEMENTS, DispositionRequest
from custody.services.quality.lot_quality import current_results
from custody.services.quality.release_blockers import disposition_blockers, refuse_if_blocked
from custody.services.quality.release_signature import signed_content

__all__ = ["NEEDS_STATEMENTS", "DispositionRequest", "check_request", "sign_disposition"]


def sign_disposition(user: User, lot_number: str, request: DispositionRequest) -> ReleaseDecision:
    """Sign the lot's disposition; for a release, conditional release or rejection, issue the
    certificate in the same transaction and keep its bytes."""
    check_signer(user, UseCase.SIGN_DISPOSITION, "a lot's disposition")
    reauthenticate(user, request.username, request.password)
    race = f"Someone signed lot {lot_number} at the same moment; look at it again."
    reason = f"lot {request.action.replace('_', ' ')}: {request.reason.strip()}".strip(": ")
    with write(user, reason, race, lot=lot_number):
        lot = locked_lot(lot_number)
        results = current_results(lot)
        refuse_if_blocked(
            disposition_blockers(lot, request.action, user, request=request, results=results)
        )
        rule = disposition_action(request.action, lot.disposition.value, lot_number)
        decision = signed_decision(user, lot, rule, request, results)
        lot.disposition = Disposition(rule.disposition)
        if rule.disposition != Disposition.QUARANTINE:
            issue_certificate(decision, lot)
    return decision


def check_request(
    lot: Lot,
    rule: DispositionAction,
    request: DispositionRequest,
    results: list[QcResult],
    segregation: bool,
    user: User,
) -> None:
    """For loaders of past records (the demo), which sign with `signed_decision` themselves
    on lots that already hold their final disposition: refuse the request on its first
    blocker, from the one list the lot page shows (`release_blockers`), taking `rule` as the
    caller's judgement that the action is legal."""
    blockers = disposition_blockers(
        lot,
        request.action,
        user,
        request=request,
        results=results,
        segregation=segregation,
        rule=rule,
    )
    refuse_if_blocked(blockers)


def signed_decision(
    user: User,
    lot: Lot,
    rule: DispositionAction,
    request: DispositionRequest,
    results: list[QcResult],
    now: datetime | None = None,
    previous_disposition: str | None = None,
) -> ReleaseDecision:
    """The decision and its signature over the lot's content, inside the caller's transaction,
    once `check_request` has passed. `now` and `previous_disposition` are for loaders of past
    records (the demo), which write lots with their final disposition."""
    now = now or utcnow()
    pending = sorted({t.strip() for t in request.pending_tests if t.strip()})
    decision = ReleaseDecision(
        lot_id=lot.id,
        disposition=rule.disposition,
        previous_disposition=previous_disposition or lot.disposition.value,
        reason=request.reason.strip(),
        exceptional=request.exceptional,
        physician=request.physician.strip(),
        physician_request=request.physician_request.strip(),
        justification=request.justification.strip(),
        pending_tests=pending,
        decided_at=now,
    )
    content = signed_content(lot, decision, results, user.username, rule.meaning, now)
    decision.signed_content = canonical_json(content)
    decision.signature = sign(
        user, rule.meaning, "lot", lot.id, content, now, reason=decision.reason
    )
    db.session.add(decision)
    db.session.flush()
    return decision
