"""The life cycle of a bag: every action a scan can take, from which states, to which state.

One table (TRANSITIONS) is the whole state machine; services ask `plan()` before they change a
bag, and the scan station asks `allowed_actions()` to offer only what would succeed. Four
things beside the bag's own state gate an action:

- the lot's disposition: nothing reaches a patient (release, allocate, pack, thaw, verify,
  infuse) unless QA released the lot; a rejected lot's bags may only be moved, returned,
  rejected or discarded;
- the product's expiry: an expired bag goes nowhere near a patient;
- where the bag is: only a bag out of storage can be stored; only a stored bag moved or retrieved;
- a recall: while QA's recall covers the bag's lot, nothing brings it closer to a patient.

Pure Python: no Flask, no database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from custody.domain.errors import IllegalTransition

# States (the values of custody.models.BagStatus, kept as strings so the domain stands alone).
FILLED = "filled"
QUARANTINED = "quarantined"
STORED = "stored"
RELEASED = "released"
ALLOCATED = "allocated"
SHIPPED = "shipped"
RECEIVED = "received"
THAWED = "thawed"
VERIFIED = "verified"
INFUSED = "infused"
RETURNED = "returned"
DISCARDED = "discarded"
REJECTED = "rejected"

FINAL_STATES = frozenset({INFUSED, DISCARDED})
# "Unpack" puts a bag back in the state it had before packing; the service knows which.
PREVIOUS = "previous"

# Bags that can sit in a storage position keep their state while stored, moved or retrieved,
# except a bag waiting for release, which is "stored" while in storage.
_STORABLE = {QUARANTINED: STORED, RELEASED: RELEASED, ALLOCATED: ALLOCATED}
_STORABLE |= {RECEIVED: RECEIVED, RETURNED: RETURNED, REJECTED: REJECTED}
_IN_STORAGE = {STORED: STORED} | {s: s for s in _STORABLE.values() if s != STORED}
_NOT_FINAL = (FILLED, QUARANTINED, STORED, RELEASED, ALLOCATED, RECEIVED, RETURNED, REJECTED)

# action -> {from state: to state}
TRANSITIONS: dict[str, dict[str, str]] = {
    "quarantine": {FILLED: QUARANTINED, RETURNED: QUARANTINED},
    "store": _STORABLE,
    "move": _IN_STORAGE,
    "retrieve": {STORED: QUARANTINED} | {s: s for s in _IN_STORAGE if s != STORED},
    "release": {QUARANTINED: RELEASED, STORED: RELEASED},
    # A bag may be allocated in the lab (it then travels allocated) or on arrival at the site;
    # the allocation record, not the state, says whose it is once it has left the lab.
    "allocate": {RELEASED: ALLOCATED, RECEIVED: RECEIVED},
    # Thawed cells cannot go back: a de-allocated thawed bag stays thawed, to be discarded.
    "deallocate": {ALLOCATED: RELEASED, SHIPPED: SHIPPED, RECEIVED: RECEIVED}
    | {
        THAWED: THAWED,
        VERIFIED: VERIFIED,
    },
    "pack": {RELEASED: SHIPPED, ALLOCATED: SHIPPED},
    "unpack": {SHIPPED: PREVIOUS},
    # The courier takes the shipper: possession changes, the state does not.
    "handoff": {SHIPPED: SHIPPED},
    "receive": {SHIPPED: RECEIVED},
    # Thaw start puts the bag in the thawer (the thaw record marks it); thaw ends it.
    "thaw_start": {RECEIVED: RECEIVED},
    "thaw": {RECEIVED: THAWED},
    # A verified bag may be verified again (e.g. a second pair of nurses after a delay).
    "verify": {THAWED: VERIFIED, VERIFIED: VERIFIED},
    "infuse": {VERIFIED: INFUSED},
    "return": {SHIPPED: RETURNED, RECEIVED: RETURNED},
    "reject": {s: REJECTED for s in _NOT_FINAL if s != REJECTED},
    "discard": {s: DISCARDED for s in (*_NOT_FINAL, THAWED, VERIFIED)},
}

# Actions that bring a bag closer to a patient: only from a released lot, only in date.
TOWARDS_PATIENT = frozenset(
    {"release", "allocate", "pack", "handoff", "thaw_start", "thaw", "verify", "infuse"}
)
# What may still happen to a bag of a rejected lot: keep it apart, bring it back, destroy it.
REJECTED_LOT_ALLOWS = frozenset({"store", "move", "retrieve", "receive", "return", "reject"})
REJECTED_LOT_ALLOWS |= {"discard", "unpack"}
RELEASED_DISPOSITIONS = frozenset({"released", "conditionally_released"})

# Storage actions also depend on where the bag is, not just on its state.
NEEDS_OUT_OF_STORAGE = frozenset({"store"})
NEEDS_IN_STORAGE = frozenset({"move", "retrieve"})

# How an action reads in a sentence: "it cannot be <words>".
_PAST = {
    "quarantine": "quarantined",
    "store": "stored",
    "move": "moved",
    "retrieve": "retrieved from storage",
    "release": "released",
    "allocate": "allocated",
    "deallocate": "de-allocated",
    "pack": "packed into a shipment",
    "unpack": "unpacked",
    "handoff": "handed to a courier",
    "receive": "received",
    "thaw_start": "put in the thawer",
    "thaw": "thawed",
    "verify": "verified at the bedside",
    "infuse": "infused",
    "return": "returned",
    "reject": "rejected",
    "discard": "discarded",
}
ACTIONS = tuple(TRANSITIONS)


@dataclass(frozen=True)
class BagSituation:
    """What the rules need to know about a bag at the moment of a scan."""

    status: str
    lot_disposition: str
    expired: bool = False
    in_storage: bool = False
    # The codes of active recalls covering the bag's lot ("" when none).
    recall: str = ""


def allowed_actions(situation: BagSituation) -> list[str]:
    """Every action that would succeed now, in the table's order."""
    return [action for action in ACTIONS if _refusal(action, situation) is None]


def plan(action: str, situation: BagSituation) -> str:
    """The state `action` leads to (PREVIOUS for unpack), or IllegalTransition saying why not."""
    if action not in TRANSITIONS:
        raise IllegalTransition(
            f"'{action}' is not a bag action. Actions are: {', '.join(ACTIONS)}.",
            action=action,
            current_state=situation.status,
            allowed_actions=allowed_actions(situation),
        )
    reason = _refusal(action, situation)
    if reason is not None:
        allowed = allowed_actions(situation)
        raise IllegalTransition(
            f"This bag is {_state_words(situation)}: it cannot be {_PAST[action]}, "
            f"{reason}. {_allowed_words(allowed)}",
            action=action,
            current_state=situation.status,
            lot_disposition=situation.lot_disposition,
            allowed_actions=allowed,
        )
    return TRANSITIONS[action][situation.status]


def _refusal(action: str, s: BagSituation) -> str | None:
    """Why `action` is refused in situation `s`, in words; None when it is allowed."""
    if s.status in FINAL_STATES:
        return f"because a bag that is {s.status} is final"
    if s.status not in TRANSITIONS[action]:
        return f"because only a bag that is {_either(TRANSITIONS[action])} can be"
    if action in TOWARDS_PATIENT and s.recall:
        return f"because it is under recall {s.recall}; only QA lifting the recall allows it"
    if action in TOWARDS_PATIENT and s.lot_disposition not in RELEASED_DISPOSITIONS:
        return f"because its lot is {_disposition_words(s.lot_disposition)}, not released by QA"
    if s.lot_disposition == "rejected" and action not in REJECTED_LOT_ALLOWS:
        return "because its lot was rejected by QA"
    if action in TOWARDS_PATIENT and s.expired:
        return "because the product has expired"
    if action in NEEDS_OUT_OF_STORAGE and s.in_storage:
        return "because it is already in a storage position (scan 'move' to change position)"
    if action in NEEDS_IN_STORAGE and not s.in_storage:
        return "because it is not in a storage position"
    return None


def _state_words(s: BagSituation) -> str:
    where = " and in storage" if s.in_storage and s.status != STORED else ""
    return f"{s.status.upper()}{where}"


def _allowed_words(allowed: list[str]) -> str:
    if not allowed:
        return "Nothing more can be done with it."
    return f"Allowed now: {', '.join(allowed)}."


def _either(states: Iterable[str]) -> str:
    names = sorted(states)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _disposition_words(disposition: str) -> str:
    return {"quarantine": "in quarantine", "rejected": "rejected"}.get(disposition, disposition)
