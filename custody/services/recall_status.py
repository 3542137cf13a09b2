"""Whether a recall stops a lot's bags: the one question every scan and check asks.

Kept apart from the recall service so the life-cycle lookups can ask it without importing
what raises and lifts recalls.
"""

from __future__ import annotations

from sqlalchemy import select

from custody.extensions import db
from custody.models import Recall, recall_lots


def active_recall_codes(lot_id: int) -> str:
    """The codes of the active recalls covering `lot_id`, comma-separated; "" when none."""
    codes = db.session.scalars(
        select(Recall.code)
        .join(recall_lots, recall_lots.c.recall_id == Recall.id)
        .where(recall_lots.c.lot_id == lot_id, Recall.lifted_at.is_(None))
        .order_by(Recall.id)
    )
    return ", ".join(codes)
