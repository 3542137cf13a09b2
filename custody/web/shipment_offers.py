"""What the shipment pages offer: each action with whether the server would take it, and why not.

Two questions, asked of their one home each: the role (the permissions table, through `may`)
and the shipment's state (`shipment_actions`, the functions the services refuse with). A button
is drawn only when both answer yes; otherwise the page shows these words in its place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask_login import current_user

from custody.auth import may
from custody.domain.permissions import UseCase, role_names, roles_for
from custody.models import Shipment, ShipmentDiscrepancy
from custody.services.bags import discrepancy_resolutions, shipment_actions

# How a refusal names each action: "Only admin or technician may <words>; ...".
ACTION_WORDS = {
    "pack": "pack bags into a shipment",
    "unpack": "take bags out of a shipment",
    "dispatch": "hand a shipment to the courier",
    "import_temperatures": "import a logger file",
    "receive": "scan bags in from a shipment",
    "record_discrepancy": "record a discrepancy",
    "complete_receipt": "complete a shipment's receipt",
    "resolve": "resolve a discrepancy",
}


@dataclass(frozen=True)
class Offer:
    """An action as the page shows it: offered, or the reasons it is not."""

    offered: bool
    why_not: list[str] = field(default_factory=list)


def role_refusal(use_case: UseCase, action: str) -> str | None:
    """Words for a role the permissions table does not give `use_case`, or None."""
    if may(use_case):
        return None
    return (
        f"Only {role_names(roles_for(use_case))} may {ACTION_WORDS[action]}; you are signed "
        f"in as {current_user.role.value}."
    )


def offer(shipment: Shipment, action: str) -> Offer:
    refused = role_refusal(shipment_actions.USE_CASES[action], action)
    if refused:
        return Offer(False, [refused])
    found = shipment_actions.blockers(shipment, action)
    return Offer(not found, [b.message for b in found])


def offers(shipment: Shipment) -> dict[str, Offer]:
    """Every shipment-wide action of the page's current status, for the signed-in person."""
    return {action: offer(shipment, action) for action in shipment_actions.USE_CASES}


def resolution_offer(discrepancy: ShipmentDiscrepancy) -> dict[str, Any]:
    """A discrepancy's resolve form: offered or why not, and its outcomes (each with what
    blocks it now, so the form offers only those the server takes)."""
    refused = role_refusal(UseCase.RESOLVE_DISCREPANCY, "resolve")
    if refused:
        return {"offer": Offer(False, [refused]), "choices": []}
    found = shipment_actions.resolution_blockers(discrepancy)
    if found:
        return {"offer": Offer(False, [b.message for b in found]), "choices": []}
    return {
        "offer": Offer(True),
        "choices": discrepancy_resolutions.outcome_choices(discrepancy),
    }
