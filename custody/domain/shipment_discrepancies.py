"""How a shipment discrepancy may end: the outcomes a lab records when it closes one.

A discrepancy (a manifest bag that did not arrive, or a bag that arrived and was not on the
manifest) stays open until someone records how it was resolved, with who, when and why. Each
kind ends in its own few ways: a missing bag is found, confirmed lost or destroyed; an
unexpected one goes back to its sender or is destroyed. Pure Python: the schemas take these
value lists, the service applies the rule.
"""

from __future__ import annotations

import enum

from custody.domain.errors import ValidationFailed


class ResolutionOutcome(enum.StrEnum):
    FOUND_AND_RECEIVED = "found_and_received"
    CONFIRMED_LOST = "confirmed_lost"
    RETURNED_TO_SENDER = "returned_to_sender"
    DESTROYED = "destroyed"


OUTCOME_WORDS = {
    ResolutionOutcome.FOUND_AND_RECEIVED: "found and received",
    ResolutionOutcome.CONFIRMED_LOST: "confirmed lost",
    ResolutionOutcome.RETURNED_TO_SENDER: "returned to sender",
    ResolutionOutcome.DESTROYED: "destroyed",
}

# Discrepancy kind -> the outcomes that close it, in the order a form offers them.
OUTCOMES_BY_KIND: dict[str, tuple[ResolutionOutcome, ...]] = {
    "missing": (
        ResolutionOutcome.FOUND_AND_RECEIVED,
        ResolutionOutcome.CONFIRMED_LOST,
        ResolutionOutcome.DESTROYED,
    ),
    "unexpected": (ResolutionOutcome.RETURNED_TO_SENDER, ResolutionOutcome.DESTROYED),
}
MAX_REASON = 2000


def outcome_for(kind: str, outcome: str) -> ResolutionOutcome:
    """`outcome` as an outcome a `kind` discrepancy may end in, or ValidationFailed naming them."""
    allowed = OUTCOMES_BY_KIND[kind]
    if outcome not in allowed:
        words = ", ".join(f"'{o.value}' ({OUTCOME_WORDS[o]})" for o in allowed)
        raise ValidationFailed(
            f"A {kind} bag cannot be resolved as {outcome!r}: choose one of {words}.",
            field="outcome",
            allowed=[o.value for o in allowed],
        )
    return ResolutionOutcome(outcome)


def checked_reason(reason: str) -> str:
    """The reason without surrounding blanks; a resolution without one is refused."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            "Say why: what was found or done, and on whose word (a resolution needs its reason).",
            field="reason",
        )
    if len(reason) > MAX_REASON:
        raise ValidationFailed(
            f"The reason is longer than {MAX_REASON} characters.", field="reason"
        )
    return reason
