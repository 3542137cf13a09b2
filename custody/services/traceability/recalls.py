"""Recall and quarantine: QA stops everything behind a donor, donation, lot or reagent lot at once.

One signed action (QA re-enters user ID and password, 21 CFR 11.200) resolves the starting
point to its lots through `trace` (the same queries lookback answers with), and from the moment
it commits every bag of those lots is refused anything that brings it closer to a patient:
allocation, packing, hand-off, thaw, bedside verification and infusion all ask
`bags.recall_status.active_recall_codes` through the bag's situation. Bags already infused cannot be
stopped: their recipients are listed for clinical follow-up, and a quality alert per lot
reaching a recipient puts the follow-up on QA's queue until someone records what was done.

Lifting a recall is a second signed action with its reason; the recall and both signatures stay.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from custody.domain.errors import Conflict, NotFound, ValidationFailed
from custody.domain.permissions import UseCase
from custody.domain.release_rules import canonical_json
from custody.extensions import db
from custody.models import Bag, Lot, Recall, Signature, User
from custody.models.base import utcnow
from custody.services.core.signatures import check_signer, reauthenticate, sign
from custody.services.core.transactions import write
from custody.services.quality.alerts import affected_bags_of, raise_alert
from custody.services.traceability import trace

RAISE_MEANING = "recall"
LIFT_MEANING = "recall lifted"
# States in which a bag can no longer be stopped: it is gone.
GONE = frozenset({"infused", "discarded"})


@dataclass(frozen=True)
class SignedRequest:
    """What QA sends: the reason and both components of the signature."""

    reason: str
    username: str
    password: str


def preview(scope: str, value: str) -> dict[str, Any]:
    """What a recall from this starting point would reach, without writing anything."""
    value = trace.normalised(scope, value)
    lots = _lots(trace.lot_ids_from(scope, value), lock=False)
    affected = _affected(lots)
    return {"scope": scope, "value": value, **_consequences(lots, affected)}


def raise_recall(user: User, scope: str, value: str, request: SignedRequest) -> dict[str, Any]:
    """Sign the recall: every bag of the lots reached is blocked when this returns."""
    check_signer(user, UseCase.RAISE_RECALL, "a recall")
    value = trace.normalised(scope, value)
    reason = _reason(request.reason)
    _refuse_empty(scope, value, trace.lot_ids_from(scope, value))
    reauthenticate(user, request.username, request.password)
    race = "Someone changed these lots at the same moment; look at them again and sign again."
    with write(user, f"recall: {reason}", race, **{scope: value}):
        lots = _lots(trace.lot_ids_from(scope, value), lock=True)
        _refuse_empty(scope, value, [lot.id for lot in lots])
        affected = _affected(lots)
        recall = _recall_row(user, scope, value, reason, lots, affected)
        _sign(recall, user, RAISE_MEANING, reason)
        _alert_follow_up(recall, lots, affected)
        detail = recall_detail(recall)
    return detail


def lift_recall(user: User, code: str, request: SignedRequest) -> dict:
    """Sign the lifting of a recall (e.g. the positive result proved false): bags go on."""
    check_signer(user, UseCase.LIFT_RECALL, "the lifting of a recall")
    reason = _reason(request.reason)
    recall_by_code(code)
    reauthenticate(user, request.username, request.password)
    race = f"Someone lifted recall {code} at the same moment; look at it again."
    with write(user, f"recall lifted: {reason}", race, recall=code):
        recall = recall_by_code(code, lock=True)
        if not recall.active:
            raise Conflict(f"Recall {recall.code} was lifted already.", recall=recall.code)
        recall.lifted_at = utcnow()
        recall.lifted_by_id = user.id
        recall.lift_reason = reason
        recall.lift_signature_id = _sign(recall, user, LIFT_MEANING, reason).id
        detail = recall_detail(recall)
    return detail


# --- reading ------------------------------------------------------------------------------------


def recall_by_code(code: str, *, lock: bool = False) -> Recall:
    query = select(Recall).where(Recall.code == code.strip().upper())
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    recall = db.session.scalar(query)
    if recall is None:
        raise NotFound(f"No recall {code.strip().upper()} is known here.", recall=code)
    return recall


def list_recalls(active_only: bool = False) -> list[dict[str, Any]]:
    query = select(Recall).order_by(Recall.id.desc())
    if active_only:
        query = query.where(Recall.lifted_at.is_(None))
    return [recall_summary(r) for r in db.session.scalars(query)]


def recall_summary(recall: Recall) -> dict[str, Any]:
    affected = recall.affected
    return {
        "code": recall.code,
        "scope": recall.scope,
        "value": recall.scope_value,
        "reason": recall.reason,
        "active": recall.active,
        "raised_at": recall.raised_at,
        "raised_by": recall.raised_by.full_name,
        "lifted_at": recall.lifted_at,
        "lifted_by": recall.lifted_by.full_name if recall.lifted_by else None,
        "lift_reason": recall.lift_reason,
        "lots": sorted({a["lot"] for a in affected}),
        "blocked_count": sum(1 for a in affected if a["blocked"]),
        "infused_recipients": _infused_recipients(affected),
    }


def recall_detail(recall: Recall) -> dict[str, Any]:
    """The order as signed, the bags as they are now, and the signatures."""
    now = {b.code: b.status.value for b in _bags_now(recall.affected)}
    signatures = _signatures(recall)
    return {
        **recall_summary(recall),
        "bags": [{**a, "status_now": now.get(a["bag"], a["status"])} for a in recall.affected],
        "allocated_recipients": _allocated_recipients(recall.affected),
        "signature": signatures.get(recall.signature_id),
        "lift_signature": signatures.get(recall.lift_signature_id),
    }


# --- helpers ------------------------------------------------------------------------------------


def _reason(raw: str) -> str:
    reason = (raw or "").strip()
    if not reason:
        raise ValidationFailed(
            "Say why, in words QA would sign (e.g. 'donor HIV NAT positive on look-back').",
            field="reason",
        )
    return reason


def _refuse_empty(scope: str, value: str, lot_ids: list[int]) -> None:
    if not lot_ids:
        raise ValidationFailed(
            f"No lot has been made from {trace.SCOPE_WORDS[scope]} {value} yet: there is "
            "nothing to recall. Record the finding where it belongs (e.g. the donor's "
            "eligibility) so no lot is made from it.",
            field="value",
        )


def _lots(lot_ids: list[int], *, lock: bool) -> list[Lot]:
    """The lots, and with `lock` their bags row-locked in code order (the order allocation
    locks them in), so a scan in flight finishes before the recall reads the bags' states."""
    if not lot_ids:
        return []
    if lock:
        db.session.scalars(
            select(Bag.id).where(Bag.lot_id.in_(lot_ids)).order_by(Bag.code).with_for_update()
        ).all()
    query = select(Lot).where(Lot.id.in_(lot_ids)).order_by(Lot.lot_number)
    query = query.options(selectinload(Lot.bags)).execution_options(populate_existing=lock)
    return list(db.session.scalars(query))


def _affected(lots: list[Lot]) -> list[dict[str, Any]]:
    bags = [bag for lot in lots for bag in lot.bags]
    lot_of = {bag.id: lot.lot_number for lot in lots for bag in lot.bags}
    code_to_id = {bag.code: bag.id for bag in bags}
    return [
        {**a, "lot": lot_of[code_to_id[a["bag"]]], "blocked": a["status"] not in GONE}
        for a in affected_bags_of(bags)
    ]


def _consequences(lots: list[Lot], affected: list[dict]) -> dict[str, Any]:
    return {
        "lots": [lot.lot_number for lot in lots],
        "bags": affected,
        "blocked_count": sum(1 for a in affected if a["blocked"]),
        "infused_recipients": _infused_recipients(affected),
        "allocated_recipients": _allocated_recipients(affected),
    }


def _infused_recipients(affected: list[dict]) -> list[dict[str, Any]]:
    """Recipients already infused from the recalled product: for clinical follow-up."""
    return _by_recipient(a for a in affected if a["infused"])


def _allocated_recipients(affected: list[dict]) -> list[dict[str, Any]]:
    """Recipients waiting for a bag the recall now blocks: they need another product."""
    return _by_recipient(a for a in affected if a["recipient"] and not a["infused"])


def _by_recipient(entries) -> list[dict[str, Any]]:
    bags: dict[str, list[str]] = {}
    for entry in entries:
        bags.setdefault(entry["recipient"], []).append(entry["bag"])
    return [{"subject_id": s, "bags": sorted(b)} for s, b in sorted(bags.items())]


def _recall_row(user, scope, value, reason, lots, affected) -> Recall:
    recall = Recall(
        code=f"RCL-{uuid.uuid4().hex[:8].upper()}",
        scope=scope,
        scope_value=value,
        reason=reason,
        raised_by_id=user.id,
        raised_at=utcnow(),
        affected=affected,
        lots=lots,
    )
    db.session.add(recall)
    db.session.flush()
    return recall


def _sign(recall: Recall, user: User, meaning: str, reason: str) -> Signature:
    """The signature covers the order as signed: what, why, which lots and bags, by whom."""
    signed_at = utcnow()
    content = {
        "record": "recall",
        "code": recall.code,
        "scope": recall.scope,
        "value": recall.scope_value,
        "reason": reason,
        "affected": canonical_json({"bags": recall.affected}),
        "meaning": meaning,
        "signer": user.username,
        "signed_at": signed_at.isoformat(),
    }
    signature = sign(user, meaning, "recall", recall.id, content, signed_at, reason=reason)
    if meaning == RAISE_MEANING:
        recall.signature_id = signature.id
    return signature


def _alert_follow_up(recall: Recall, lots: list[Lot], affected: list[dict]) -> None:
    """A quality alert for each lot that reached a recipient: QA's queue keeps the follow-up
    open until someone records that the treating physicians were told."""
    reached = {a["lot"] for a in affected if a["recipient"]}
    for lot in lots:
        if lot.lot_number in reached:
            snapshot = [
                {key: a[key] for key in ("bag", "status", "recipient", "infused")}
                for a in affected
                if a["lot"] == lot.lot_number
            ]
            raise_alert(
                lot,
                None,
                f"Recall {recall.code}: {recall.reason} Recipients of lot {lot.lot_number} "
                "need clinical follow-up; allocated bags are blocked and need replacing.",
                snapshot,
            )


def _bags_now(affected: list[dict]) -> list[Bag]:
    codes = [a["bag"] for a in affected]
    if not codes:
        return []
    return list(db.session.scalars(select(Bag).where(Bag.code.in_(codes))))


def _signatures(recall: Recall) -> dict[int, dict[str, Any]]:
    ids = [i for i in (recall.signature_id, recall.lift_signature_id) if i is not None]
    rows = db.session.scalars(select(Signature).where(Signature.id.in_(ids))) if ids else []
    return {
        s.id: {"printed_name": s.printed_name, "signed_at": s.signed_at, "meaning": s.meaning}
        for s in rows
    }
