"""The courier handoff as an electronic signature (21 CFR 11.50, 11.70, 11.200).

The technician who hands the shipper to the courier signs for it: user ID and password again,
the meaning "handed to the courier", and a hash of what was handed over (the shipment, its
bags, courier and person, condition and temperature, the moment). The content is read back
from the custody records whenever the shipment is shown, so a later change to any of them
shows as a signature that no longer holds.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from custody.domain.release_rules import content_hash
from custody.extensions import db
from custody.models import CustodyEvent, Shipment, Signature, User
from custody.services.core.signatures import manifestation, sign

HANDOFF_MEANING = "Handed to the courier: custody of the shipment passes to the courier"
RECORD_TYPE = "shipment"


def handoff_content(shipment: Shipment, signer: str) -> dict[str, Any]:
    """What the handoff signature covers, read from the shipment and its handoff events."""
    events = db.session.scalars(
        select(CustodyEvent)
        .where(CustodyEvent.shipment_id == shipment.id, CustodyEvent.action == "handoff")
        .order_by(CustodyEvent.id)
    ).all()
    first = events[0] if events else None
    return {
        "shipment": shipment.code,
        "destination_site": shipment.destination_site,
        "shipper_id": shipment.shipper_id,
        "logger_id": shipment.logger_id,
        "courier": shipment.courier,
        "handed_over_to": shipment.handed_over_to,
        "handed_over_at": shipment.handed_over_at.isoformat() if shipment.handed_over_at else None,
        "bags": sorted(e.bag.code for e in events if e.bag is not None),
        "condition": first.condition if first else None,
        "temperature_c": first.temperature_c if first else None,
        "signer": signer,
        "meaning": HANDOFF_MEANING,
    }


def sign_handoff(user: User, shipment: Shipment) -> Signature:
    """The signature row, in the dispatch's own transaction, after its events are flushed."""
    db.session.flush()
    content = handoff_content(shipment, user.username)
    return sign(user, HANDOFF_MEANING, RECORD_TYPE, shipment.id, content, shipment.handed_over_at)


def handoff_signature(shipment: Shipment) -> dict[str, Any] | None:
    """The handoff's signature as 11.50 says it is shown, and whether it still holds; None for
    a shipment dispatched without one (an API client that sent no credentials)."""
    signature = db.session.scalar(
        select(Signature)
        .where(Signature.record_type == RECORD_TYPE, Signature.record_id == shipment.id)
        .order_by(Signature.id)
        .limit(1)
    )
    if signature is None:
        return None
    content = handoff_content(shipment, signature.signer.username)
    return manifestation(signature) | {"valid": content_hash(content) == signature.content_hash}
