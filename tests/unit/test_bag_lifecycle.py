"""The bag life cycle: one table decides, and every refusal says where the bag is and what next."""

import pytest

from custody.domain import bag_lifecycle as life
from custody.domain.bag_lifecycle import BagSituation, allowed_actions, plan
from custody.domain.errors import IllegalTransition
from custody.models import BagStatus, Disposition


def test_the_table_speaks_only_of_real_states():
    states = {s.value for s in BagStatus}
    for action, moves in life.TRANSITIONS.items():
        assert set(moves) <= states, action
        assert set(moves.values()) <= states | {life.PREVIOUS}, action
    assert {d.value for d in Disposition} >= life.RELEASED_DISPOSITIONS


@pytest.mark.parametrize(
    ("path", "end"),
    [
        (["quarantine", "store", "release", "allocate", "retrieve", "pack", "handoff"], "shipped"),
        (
            ["quarantine", "store", "release", "pack", "receive", "thaw", "verify", "infuse"],
            "infused",
        ),
        (["quarantine", "store", "reject", "discard"], "discarded"),
    ],
)
def test_a_released_bag_walks_from_fill_to_the_patient(path, end):
    status, in_storage = "filled", False
    disposition = "quarantine"
    for action in path:
        if action == "release" or action == "reject":
            disposition = "released" if action == "release" else "rejected"
        status = plan(action, BagSituation(status, disposition, in_storage=in_storage))
        if action in ("store", "move"):
            in_storage = True
        elif action in ("retrieve", "pack", "discard"):
            in_storage = False
    assert status == end


def test_shipping_a_quarantined_bag_names_state_and_what_is_allowed():
    with pytest.raises(IllegalTransition) as refused:
        plan("pack", BagSituation("quarantined", "quarantine"))
    message = refused.value.message
    assert "QUARANTINED" in message and "cannot be packed into a shipment" in message
    assert "Allowed now: store" in message
    assert refused.value.details["allowed_actions"] == allowed_actions(
        BagSituation("quarantined", "quarantine")
    )


def test_storing_an_infused_bag_is_refused_as_final():
    with pytest.raises(IllegalTransition, match=r"final\. Nothing more can be done"):
        plan("store", BagSituation("infused", "released"))
    assert allowed_actions(BagSituation("infused", "released")) == []


# Every move towards a patient, from a state the table allows it from (written out here, not
# read from the rules, so that dropping one from the rules' set fails these tests).
TOWARDS_PATIENT = [
    ("release", "quarantined"),
    ("allocate", "released"),
    ("pack", "released"),
    ("handoff", "shipped"),
    ("thaw_start", "received"),
    ("thaw", "received"),
    ("verify", "thawed"),
    ("infuse", "verified"),
]


@pytest.mark.parametrize(("action", "from_state"), TOWARDS_PATIENT)
@pytest.mark.parametrize("disposition", ["quarantine", "rejected"])
def test_nothing_goes_towards_a_patient_from_an_unreleased_lot(action, from_state, disposition):
    plan(action, BagSituation(from_state, "released"))  # from a released lot, it goes
    with pytest.raises(IllegalTransition, match=r"not released by QA"):
        plan(action, BagSituation(from_state, disposition))


@pytest.mark.parametrize(("action", "from_state"), TOWARDS_PATIENT)
def test_nothing_goes_towards_a_patient_once_expired(action, from_state):
    plan(action, BagSituation(from_state, "released"))  # in date, it goes
    with pytest.raises(IllegalTransition, match="because the product has expired"):
        plan(action, BagSituation(from_state, "released", expired=True))


def test_a_rejected_lot_only_keeps_apart_returns_or_destroys():
    allowed = allowed_actions(BagSituation("stored", "rejected", in_storage=True))
    assert allowed == ["move", "retrieve", "reject", "discard"]
    allowed = allowed_actions(BagSituation("received", "rejected"))
    assert allowed == ["store", "return", "reject", "discard"]


def test_storage_actions_depend_on_where_the_bag_is():
    out = allowed_actions(BagSituation("released", "released", in_storage=False))
    inside = allowed_actions(BagSituation("released", "released", in_storage=True))
    assert "store" in out and "move" not in out and "retrieve" not in out
    assert "store" not in inside and {"move", "retrieve"} <= set(inside)
    with pytest.raises(IllegalTransition, match="already in a storage position"):
        plan("store", BagSituation("released", "released", in_storage=True))


def test_unknown_action_lists_the_real_ones():
    with pytest.raises(IllegalTransition, match="not a bag action"):
        plan("teleport", BagSituation("stored", "quarantine", in_storage=True))


def test_conditional_release_counts_as_released():
    assert plan("pack", BagSituation("released", "conditionally_released")) == "shipped"
