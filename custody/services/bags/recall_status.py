"""Whether a recall stops a lot's bags: the one question every scan and check asks.

Kept apart from the recall service so the life-cycle lookups can ask it without importing
what raises and lifts recalls.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from custody.extensions import db
from custody.models import Recall, recall_lots


def active_recall_codes(lot_id: int) -> str:
    """The codes of the active recalls covering `lot_id`, comma-separated; "" when none."""
    return active_recalls_by_lot([lot_id]).get(lot_id, "")


def active_recalls_by_lot(lot_ids: Iterable[int]) -> dict[int, str]:
    """For each of `lot_ids` under an active recall, the recalls' codes; in one query."""
    rows = db.session.execute(
        select(recall_lots.c.lot_id, Recall.code)
        .join(Recall, Recall.id == recall_lots.c.recall_id)
        .where(recall_lots.c.lot_id.in_(list(lot_ids)), Recall.lifted_at.is_(None))
        .order_by(Recall.id)
    )
    codes: dict[int, list[str]] = {}
    for lot_id, code in rows:
        codes.setdefault(lot_id, []).append(code)
    return {lot_id: ", ".join(found) for lot_id, found in codes.items()}
