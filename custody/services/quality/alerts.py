"""Quality alerts: news about a lot that must reach the people its bags reached.

A positive result arriving after a conditional release is the case DOMAIN.md §6 names: the
alert lists every bag of the lot with where it is in its life, and every recipient it is
allocated to or was infused into, as they stood when the alert was raised.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from custody.domain.errors import Conflict, NotFound, ValidationFailed
from custody.extensions import db
from custody.models import Allocation, Bag, Infusion, Lot, QcResult, QualityAlert, Recipient, User
from custody.models.base import utcnow
from custody.services.core.transactions import write


def raise_alert(
    lot: Lot, result: QcResult | None, message: str, affected: list[dict] | None = None
) -> QualityAlert:
    """Inside the caller's transaction: the alert and its snapshot of who is affected (read
    here unless the caller, e.g. a recall spanning many lots, has read it already)."""
    alert = QualityAlert(
        public_id=str(uuid.uuid4()),
        lot_id=lot.id,
        result_id=result.id if result is not None else None,
        message=message,
        affected=affected if affected is not None else affected_bags(lot),
    )
    db.session.add(alert)
    return alert


def affected_bags(lot: Lot) -> list[dict]:
    return affected_bags_of(lot.bags)


def affected_bags_of(bags: list[Bag]) -> list[dict]:
    """Each bag with its state and the recipient it is allocated to or was infused into, in
    two queries however many bags (a recall may span many lots)."""
    bag_ids = [b.id for b in bags]
    allocated = _subjects(
        select(Allocation.bag_id, Recipient.subject_id)
        .join(Recipient, Recipient.id == Allocation.recipient_id)
        .where(Allocation.bag_id.in_(bag_ids), Allocation.active)
    )
    infused = _subjects(
        select(Infusion.bag_id, Recipient.subject_id)
        .join(Recipient, Recipient.id == Infusion.recipient_id)
        .where(Infusion.bag_id.in_(bag_ids))
    )
    return [
        {
            "bag": b.code,
            "status": b.status.value,
            "recipient": infused.get(b.id) or allocated.get(b.id),
            "infused": b.id in infused,
        }
        for b in sorted(bags, key=lambda b: b.code)
    ]


def _subjects(query) -> dict[int, str]:
    return dict(db.session.execute(query).all())


def list_alerts(open_only: bool = False, lot_number: str | None = None) -> list[dict]:
    query = select(QualityAlert, Lot.lot_number).join(Lot, Lot.id == QualityAlert.lot_id)
    if open_only:
        query = query.where(QualityAlert.acknowledged_at.is_(None))
    if lot_number:
        query = query.where(Lot.lot_number == lot_number)
    rows = db.session.execute(query.order_by(QualityAlert.id.desc())).all()
    return [alert_summary(alert, number) for alert, number in rows]


def alert_summary(alert: QualityAlert, lot_number: str) -> dict:
    acknowledged_by = (
        db.session.get(User, alert.acknowledged_by_id) if alert.acknowledged_by_id else None
    )
    return {
        "id": alert.public_id,
        "lot": lot_number,
        "raised_at": alert.raised_at,
        "message": alert.message,
        "affected": alert.affected,
        "recipients": sorted({a["recipient"] for a in alert.affected if a["recipient"]}),
        "acknowledged_at": alert.acknowledged_at,
        "acknowledged_by": acknowledged_by.full_name if acknowledged_by else None,
        "acknowledgement": alert.acknowledgement,
    }


def acknowledge_alert(user: User, public_id: str, note: str) -> dict:
    """QA records what was done about the alert (e.g. physicians informed); once only."""
    if not note.strip():
        raise ValidationFailed(
            "Say what was done about the alert (e.g. 'treating physicians informed').",
            field="note",
        )
    race = "Someone acknowledged this alert at the same moment; look at it again."
    with write(user, "quality alert acknowledged", race):
        alert = db.session.scalar(
            select(QualityAlert).where(QualityAlert.public_id == public_id).with_for_update()
        )
        if alert is None:
            raise NotFound(f"No alert {public_id} is known here.", alert=public_id)
        if alert.acknowledged_at is not None:
            raise Conflict("This alert was acknowledged already.", alert=public_id)
        alert.acknowledged_by_id = user.id
        alert.acknowledged_at = utcnow()
        alert.acknowledgement = note.strip()
        lot_number = db.session.get(Lot, alert.lot_id).lot_number
    return alert_summary(alert, lot_number)
