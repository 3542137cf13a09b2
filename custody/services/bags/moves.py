"""A bag moved by the life cycle, with the custody event that records the move.

Allocation, bedside verification and infusion each move a bag as part of a larger use case;
they share this one step so that every such move asks the life-cycle table first and leaves
the same kind of record (before and after state, who, when) as a scan does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from custody.domain import bag_lifecycle
from custody.extensions import db
from custody.models import Bag, BagStatus, CustodyEvent, User
from custody.services.bags.lookup import situation


def move_bag(
    bag: Bag, action: str, actor: User, occurred_at: datetime, **event: Any
) -> CustodyEvent:
    """Apply `action` to `bag` (IllegalTransition if the life cycle refuses) and add its
    custody event; `event` carries the event's other fields (notes, raw_scan, station …)."""
    before = bag.status.value
    after = bag_lifecycle.plan(action, situation(bag))
    bag.status = BagStatus(after)
    record = CustodyEvent(
        bag=bag,
        action=action,
        from_status=before,
        to_status=after,
        occurred_at=occurred_at,
        actor_id=actor.id,
        **event,
    )
    db.session.add(record)
    return record
