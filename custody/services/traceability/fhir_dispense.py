"""A recipient's infusions as FHIR R5 BiologicallyDerivedProductDispense resources (DOMAIN.md §7).

One dispense per infusion. A bag is infused once (the database holds it to that), so the bag's
code is also the dispense's id and business identifier, and the product reference resolves
through the BiologicallyDerivedProduct endpoint.

The status. R5's codes describe the dispense, the hand-over of product from the supplying
lab to the clinical team, not its administration:

    preparation       the dispense process has started but not yet completed
    in-progress       the dispense process is in progress
    allocated         allocated and ready for transport
    issued            the dispensed product has been picked up
    unfulfilled       the dispense could not be completed
    returned          the dispensed product was returned
    entered-in-error  nullified
    unknown

An infusion is recorded only once the bag has reached the ward, been thawed and passed the
two-person bedside verification: the hand-over is complete whether the infusion is still
running or has ended. Both therefore map to `issued`. `in-progress` would report a finished
hand-over as unfinished; how far the infusion itself has got is an administration fact, and
shows here as the volume given (`quantity`, once the end is recorded) and in the note. The
other codes belong to records this export does not serve: a bag allocated but not yet infused
(allocated, in-progress) or sent back (returned).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from custody.domain.errors import NotFound
from custody.domain.time_zones import local_time
from custody.extensions import db
from custody.models import Allocation, Bag, BedsideVerification, Infusion, Recipient, User
from custody.models.base import utcnow
from custody.services.bags.lookup import bag_by_code
from custody.services.clinic.recipients import recipient_by_subject_id
from custody.services.core.facility import site_zone
from custody.services.traceability import fhir

DISPENSE = "BiologicallyDerivedProductDispense"
INFUSED_STATUS = "issued"
VERIFIERS = (
    ("first-verifier", "First bedside verifier"),
    ("second-verifier", "Second bedside verifier"),
)


def dispense_bundle(subject_id: str, base_url: str, self_url: str) -> dict[str, Any]:
    """A searchset Bundle of the recipient's infusions, first infusion first.

    `base_url` is the FHIR base the entries' fullUrl hangs from (…/api/v1/fhir); `self_url`
    the search as asked. NotFound for a subject ID no recipient carries; a recipient not yet
    infused gets an empty bundle (total 0).
    """
    recipient = recipient_by_subject_id(subject_id)
    infusions = db.session.scalars(
        select(Infusion)
        .where(Infusion.recipient_id == recipient.id)
        .order_by(Infusion.infusion_number, Infusion.started_at, Infusion.id)
    ).all()
    resources = [dispense(infusion) for infusion in infusions]
    return fhir.compact(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "timestamp": fhir.date_time(utcnow()),
            "total": len(resources),
            "link": [{"relation": "self", "url": self_url}],
            "entry": [
                {
                    "fullUrl": f"{base_url}/{DISPENSE}/{resource['id']}",
                    "resource": resource,
                    "search": {"mode": "match"},
                }
                for resource in resources
            ],
        }
    )


def dispense_of_bag(code: str) -> dict[str, Any]:
    """The dispense of bag `code`'s infusion; NotFound for an unknown or uninfused bag."""
    bag = bag_by_code(code)
    infusion = db.session.scalar(select(Infusion).where(Infusion.bag_id == bag.id))
    if infusion is None:
        raise NotFound(f"Bag {bag.code} has not been infused: there is no dispense.", bag=bag.code)
    return dispense(infusion)


def dispense(infusion: Infusion) -> dict[str, Any]:
    bag = db.session.get(Bag, infusion.bag_id)
    recipient = infusion.recipient
    allocation: Allocation = infusion.allocation
    volume = infusion.volume_ml
    return fhir.compact(
        {
            "resourceType": DISPENSE,
            "id": bag.code,
            "identifier": [{"system": fhir.own_identifier_system("infusion"), "value": bag.code}],
            "status": INFUSED_STATUS,
            "originRelationshipType": fhir.concept(
                fhir.ORIGIN_RELATIONSHIP_SYSTEM, "allogeneic", "Allogeneic"
            ),
            "product": fhir.product_reference(bag),
            "patient": _patient(recipient),
            "performer": _performers(infusion),
            "quantity": fhir.quantity(volume, "mL", "mL") if volume is not None else None,
            "preparedDate": fhir.date_time(allocation.allocated_at),
            "whenHandedOver": fhir.date_time(infusion.started_at),
            "note": [_course(infusion, recipient)],
        }
    )


def _patient(recipient: Recipient) -> dict[str, Any]:
    """A logical reference: Patient resources are not served, the trial's subject ID is the
    identifier the receiving system matches on."""
    return {
        "type": "Patient",
        "identifier": {
            "system": fhir.own_identifier_system("subject"),
            "value": recipient.subject_id,
        },
        "display": recipient.name,
    }


def _performers(infusion: Infusion) -> list[dict[str, Any]]:
    """The two people who verified recipient and bag at the bedside before the infusion."""
    people = (infusion.first_verifier_id, infusion.second_verifier_id)
    return [
        {
            "function": {
                "coding": [
                    fhir.coding(fhir.PARTICIPATION_TYPE_SYSTEM, "VRF", "verifier"),
                    fhir.coding(fhir.own_code_system("performer-function"), code, words),
                ],
                "text": words,
            },
            "actor": fhir.practitioner(db.session.get(User, user_id)),
        }
        for (code, words), user_id in zip(VERIFIERS, people, strict=True)
    ]


def _course(infusion: Infusion, recipient: Recipient) -> dict[str, Any]:
    """The infusion in words: number, start, end or not yet, verification and reactions."""
    zone = site_zone()
    parts = [
        f"Infusion {infusion.infusion_number} to {recipient.subject_id} started "
        f"{local_time(infusion.started_at, zone)}"
    ]
    if infusion.ended_at is not None:
        parts.append(f"ended {local_time(infusion.ended_at, zone)}")
    else:
        parts.append("its end is not yet recorded")
    if infusion.verification_id is not None:
        verification = db.session.get(BedsideVerification, infusion.verification_id)
        parts.append(f"after bedside verification {verification.uid}")
    text = "; ".join(parts) + "."
    if infusion.reactions:
        text += f" Reactions: {infusion.reactions}"
    return {"time": fhir.date_time(infusion.ended_at or infusion.started_at), "text": text}
