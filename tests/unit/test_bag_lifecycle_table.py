"""The bag state machine, written out cell by cell, and each gate that can refuse a move.

Nothing here is read from custody.domain.bag_lifecycle's own tables: adding, removing or
changing a transition, or widening or narrowing a gate, must make one of these tests fail.
"""

from __future__ import annotations

import pytest

from custody.domain.bag_lifecycle import BagSituation, allowed_actions, plan
from custody.domain.errors import IllegalTransition
from custody.models import BagStatus

# Column codes of the table below, and the states they stand for.
STATE_CODES = {
    "FILL": "filled",
    "QUAR": "quarantined",
    "STOR": "stored",
    "RELS": "released",
    "ALLC": "allocated",
    "SHIP": "shipped",
    "RECV": "received",
    "THAW": "thawed",
    "VERI": "verified",
    "INFU": "infused",
    "RETN": "returned",
    "DISC": "discarded",
    "REJC": "rejected",
}
# Every action (row) from every state (column): the state it leads to, "prev" for the state the
# bag had before it was packed, or "-" when the action is refused. Lot released, in date, no
# recall; "move" and "retrieve" are taken from a storage position, everything else from outside.
TABLE = """
             FILL QUAR STOR RELS ALLC SHIP RECV THAW VERI INFU RETN DISC REJC
quarantine   QUAR  -    -    -    -    -    -    -    -    -   QUAR  -    -
store         -   STOR  -   RELS ALLC  -   RECV  -    -    -   RETN  -   REJC
move          -    -   STOR RELS ALLC  -   RECV  -    -    -   RETN  -   REJC
retrieve      -    -   QUAR RELS ALLC  -   RECV  -    -    -   RETN  -   REJC
release       -   RELS RELS  -    -    -    -    -    -    -    -    -    -
allocate      -    -    -   ALLC  -    -   RECV  -    -    -    -    -    -
deallocate    -    -    -    -   RELS SHIP RECV THAW VERI  -    -    -    -
pack          -    -    -   SHIP SHIP  -    -    -    -    -    -    -    -
unpack        -    -    -    -    -   prev  -    -    -    -    -    -    -
handoff       -    -    -    -    -   SHIP  -    -    -    -    -    -    -
receive       -    -    -    -    -   RECV  -    -    -    -    -    -    -
thaw_start    -    -    -    -    -    -   RECV  -    -    -    -    -    -
thaw          -    -    -    -    -    -   THAW  -    -    -    -    -    -
verify        -    -    -    -    -    -    -   VERI VERI  -    -    -    -
infuse        -    -    -    -    -    -    -    -   INFU  -    -    -    -
return        -    -    -    -    -   RETN RETN  -    -    -    -    -    -
reject       REJC REJC REJC REJC REJC  -   REJC  -    -    -   REJC  -    -
discard      DISC DISC DISC DISC DISC  -   DISC DISC DISC  -   DISC  -   DISC
"""

# The actions that bring a bag closer to a patient: only from a released lot, in date, unrecalled.
TOWARDS_PATIENT = (
    "release",
    "allocate",
    "pack",
    "handoff",
    "thaw_start",
    "thaw",
    "verify",
    "infuse",
)
# What may still happen to a bag of a rejected lot: keep it apart, bring it back, destroy it.
REJECTED_LOT_MAY = ("store", "move", "retrieve", "unpack", "receive", "return", "reject", "discard")
# Storage actions: "store" only from outside a storage position, the others only from inside.
FROM_OUTSIDE_STORAGE = ("store",)
FROM_INSIDE_STORAGE = ("move", "retrieve")


def _read_table(table: str) -> dict[str, dict[str, str]]:
    header, *rows = table.strip().splitlines()
    states = [STATE_CODES[code] for code in header.split()]
    expected: dict[str, dict[str, str]] = {}
    for row in rows:
        action, *cells = row.split()
        assert len(cells) == len(states), action
        expected[action] = dict(zip(states, cells, strict=True))
    return expected


EXPECTED = _read_table(TABLE)
ACTIONS = list(EXPECTED)
STATES = list(STATE_CODES.values())
# Every (action, state) pair the table allows, and every pair it refuses.
ALLOWED = [(a, s) for a in ACTIONS for s in STATES if EXPECTED[a][s] != "-"]


def _outcome(action: str, situation: BagSituation) -> str:
    """The state plan() leads to, or "-" when it refuses."""
    try:
        return plan(action, situation)
    except IllegalTransition:
        return "-"


def _situation(state: str, action: str, **gates) -> BagSituation:
    """The bag in `state`, in or out of storage as `action` needs; the gates as given."""
    gates.setdefault("lot_disposition", "released")
    in_storage = action in FROM_INSIDE_STORAGE
    return BagSituation(state, in_storage=in_storage, **gates)


def test_the_table_has_a_column_for_every_state_a_bag_can_be_in():
    assert sorted(STATES) == sorted(status.value for status in BagStatus)


@pytest.mark.parametrize("action", ACTIONS)
def test_each_action_from_each_state_is_as_written(action):
    wrong = {}
    for state in STATES:
        cell = EXPECTED[action][state]
        expected = {"-": "-", "prev": "previous"}.get(cell) or STATE_CODES[cell]
        actual = _outcome(action, _situation(state, action))
        if actual != expected:
            wrong[state] = (expected, actual)
    assert wrong == {}, "state: (written, found)"


def test_there_is_no_action_beyond_the_table():
    with pytest.raises(IllegalTransition) as refused:
        plan("teleport", BagSituation("stored", "quarantine", in_storage=True))
    assert refused.value.message == (
        "'teleport' is not a bag action. Actions are: quarantine, store, move, retrieve, "
        "release, allocate, deallocate, pack, unpack, handoff, receive, thaw_start, thaw, "
        "verify, infuse, return, reject, discard."
    )
    assert refused.value.details == {
        "action": "teleport",
        "current_state": "stored",
        "allowed_actions": ["move", "retrieve", "reject", "discard"],
    }


@pytest.mark.parametrize("in_storage", [False, True])
@pytest.mark.parametrize("state", STATES)
def test_allowed_actions_are_the_tables_in_its_order(state, in_storage):
    def storage_allows(action):
        if action in FROM_OUTSIDE_STORAGE:
            return not in_storage
        if action in FROM_INSIDE_STORAGE:
            return in_storage
        return True

    expected = [a for a in ACTIONS if EXPECTED[a][state] != "-" and storage_allows(a)]
    assert allowed_actions(BagSituation(state, "released", in_storage=in_storage)) == expected


# --- the gates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("disposition", "allows"),
    [
        ("released", lambda action: True),
        ("conditionally_released", lambda action: True),
        ("quarantine", lambda action: action not in TOWARDS_PATIENT),
        ("rejected", lambda action: action in REJECTED_LOT_MAY),
    ],
)
def test_the_lots_disposition_gates_each_move(disposition, allows):
    wrong = [
        (action, state)
        for action, state in ALLOWED
        if (_outcome(action, _situation(state, action, lot_disposition=disposition)) != "-")
        != allows(action)
    ]
    assert wrong == []


def test_expiry_stops_every_move_towards_a_patient_and_nothing_else():
    wrong = [
        (action, state)
        for action, state in ALLOWED
        if (_outcome(action, _situation(state, action, expired=True)) == "-")
        != (action in TOWARDS_PATIENT)
    ]
    assert wrong == []


def test_a_recall_stops_every_move_towards_a_patient_and_nothing_else():
    wrong = [
        (action, state)
        for action, state in ALLOWED
        if (_outcome(action, _situation(state, action, recall="RC-2026-001")) == "-")
        != (action in TOWARDS_PATIENT)
    ]
    assert wrong == []


def test_where_the_bag_is_gates_only_the_storage_actions():
    wrong = []
    for action, state in ALLOWED:
        for in_storage in (False, True):
            situation = BagSituation(state, "released", in_storage=in_storage)
            if action in FROM_OUTSIDE_STORAGE:
                allowed = not in_storage
            elif action in FROM_INSIDE_STORAGE:
                allowed = in_storage
            else:
                allowed = True
            if (_outcome(action, situation) != "-") != allowed:
                wrong.append((action, state, in_storage))
    assert wrong == []


@pytest.mark.parametrize("state", ["infused", "discarded"])
def test_a_final_bag_refuses_everything_whatever_the_gates(state):
    for situation in (
        BagSituation(state, "released"),
        BagSituation(state, "released", in_storage=True),
        BagSituation(state, "rejected"),
    ):
        assert allowed_actions(situation) == []
        with pytest.raises(IllegalTransition) as refused:
            plan("discard", situation)
        assert f"because a bag that is {state} is final" in refused.value.message


# --- what a refusal says ---------------------------------------------------------------------


def _refusal(action: str, situation: BagSituation) -> IllegalTransition:
    with pytest.raises(IllegalTransition) as refused:
        plan(action, situation)
    return refused.value


@pytest.mark.parametrize(
    ("action", "situation", "message", "allowed"),
    [
        (
            "pack",
            BagSituation("quarantined", "quarantine"),
            "This bag is QUARANTINED: it cannot be packed into a shipment, because only a bag "
            "that is allocated or released can be. Allowed now: store, reject, discard.",
            ["store", "reject", "discard"],
        ),
        (
            "infuse",
            BagSituation("thawed", "released"),
            "This bag is THAWED: it cannot be infused, because only a bag that is verified can "
            "be. Allowed now: deallocate, verify, discard.",
            ["deallocate", "verify", "discard"],
        ),
        (
            "store",
            BagSituation("stored", "quarantine", in_storage=True),
            "This bag is STORED: it cannot be stored, because only a bag that is allocated, "
            "quarantined, received, rejected, released or returned can be. "
            "Allowed now: move, retrieve, reject, discard.",
            ["move", "retrieve", "reject", "discard"],
        ),
        (
            "store",
            BagSituation("released", "released", in_storage=True),
            "This bag is RELEASED and in storage: it cannot be stored, because it is already in "
            "a storage position (scan 'move' to change position). "
            "Allowed now: move, retrieve, allocate, pack, reject, discard.",
            ["move", "retrieve", "allocate", "pack", "reject", "discard"],
        ),
        (
            "move",
            BagSituation("returned", "released"),
            "This bag is RETURNED: it cannot be moved, because it is not in a storage position. "
            "Allowed now: quarantine, store, reject, discard.",
            ["quarantine", "store", "reject", "discard"],
        ),
        (
            "release",
            BagSituation("stored", "quarantine", in_storage=True),
            "This bag is STORED: it cannot be released, because its lot is in quarantine, not "
            "released by QA. Allowed now: move, retrieve, reject, discard.",
            ["move", "retrieve", "reject", "discard"],
        ),
        (
            "allocate",
            BagSituation("released", "rejected"),
            "This bag is RELEASED: it cannot be allocated, because its lot is rejected, not "
            "released by QA. Allowed now: store, reject, discard.",
            ["store", "reject", "discard"],
        ),
        (
            "deallocate",
            BagSituation("allocated", "rejected"),
            "This bag is ALLOCATED: it cannot be de-allocated, because its lot was rejected by "
            "QA. Allowed now: store, reject, discard.",
            ["store", "reject", "discard"],
        ),
        (
            "thaw",
            BagSituation("received", "released", expired=True),
            "This bag is RECEIVED: it cannot be thawed, because the product has expired. "
            "Allowed now: store, deallocate, return, reject, discard.",
            ["store", "deallocate", "return", "reject", "discard"],
        ),
        (
            "verify",
            BagSituation("thawed", "quarantine", expired=True, recall="RC-7, RC-9"),
            "This bag is THAWED: it cannot be verified at the bedside, because it is under "
            "recall RC-7, RC-9; only QA lifting the recall allows it. "
            "Allowed now: deallocate, discard.",
            ["deallocate", "discard"],
        ),
        (
            "receive",
            BagSituation("infused", "released"),
            "This bag is INFUSED: it cannot be received, because a bag that is infused is final. "
            "Nothing more can be done with it.",
            [],
        ),
    ],
)
def test_a_refusal_names_the_state_the_reason_and_what_is_allowed(
    action, situation, message, allowed
):
    refused = _refusal(action, situation)
    assert refused.message == message
    assert refused.details == {
        "action": action,
        "current_state": situation.status,
        "lot_disposition": situation.lot_disposition,
        "allowed_actions": allowed,
    }


def test_the_gates_are_tried_in_order_recall_disposition_expiry():
    # A quarantined-lot bag that is expired: the disposition is named, not the expiry.
    refused = _refusal("thaw", BagSituation("received", "quarantine", expired=True))
    assert "because its lot is in quarantine, not released by QA" in refused.message
    # A rejected lot names the rejection before an expired product.
    refused = _refusal("thaw", BagSituation("received", "rejected", expired=True))
    assert "because its lot is rejected, not released by QA" in refused.message
    # The table comes before every gate.
    refused = _refusal("thaw", BagSituation("shipped", "quarantine", expired=True, recall="R"))
    assert "because only a bag that is received can be" in refused.message


def test_a_disposition_the_rules_do_not_know_is_not_released():
    refused = _refusal("allocate", BagSituation("released", "pending_review"))
    assert "because its lot is pending_review, not released by QA" in refused.message
    assert plan("store", BagSituation("released", "pending_review")) == "released"
