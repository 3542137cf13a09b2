"""Lookback both ways: from a donor, a DIN, a lot or a reagent lot forward to every bag and
recipient reached, and from a recipient back to everything behind them (the world they read is
described in tests/services/traceability/lookback_world.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event

from custody.domain.errors import ValidationFailed
from custody.domain.isbt128 import check_character
from custody.extensions import db
from custody.services.traceability.lookback import lookback
from tests.services.traceability.lookback_world import (
    ENDED,
    T0,
    World,
    allocation_rows,
    bag_rows,
    build_world,
    codes,
    infusion_rows,
    pooled_bags,
    recipient_rows,
)


@pytest.fixture
def world(make, clinic) -> World:
    return build_world(make, clinic)


# --- forward --------------------------------------------------------------------------------


def test_from_a_donor_every_lot_bag_division_and_recipient_reached_with_the_infusions(world):
    w = world
    answer = lookback("donor", w.donor["A"].lower())

    assert answer["query"] == {"scope": "donor", "value": w.donor["A"]}
    assert codes(answer, "donors", "donor") == sorted([w.donor["A"], w.donor["B"]])
    assert codes(answer, "donations", "din") == sorted([w.din["a1"], w.din["a2"], w.din["b"]])
    assert [(lot["lot"], lot["status"], lot["din"], lot["dins"]) for lot in answer["lots"]] == [
        (w.lot["P"], "released", w.din["P"], sorted([w.din["a1"], w.din["b"]])),
        (w.lot["S"], "released", w.din["a2"], [w.din["a2"]]),
    ]
    assert bag_rows(answer) == sorted(
        [
            *pooled_bags(w),
            (w.bag["S-A0"], "A0", "infused", w.subject["R1"], True),
            (w.bag["S-B0"], "B0", "allocated", w.subject["R2"], False),
        ]
    )
    infused = sorted([w.bag["P-Aa"], w.bag["S-A0"]])
    assert recipient_rows(answer) == [
        (w.subject["R1"], infused, infused),
        (w.subject["R2"], sorted([w.bag["P-Ab"], w.bag["S-B0"]]), []),
        (w.subject["R3"], [w.bag["P-Ab"]], []),
    ]
    assert infusion_rows(answer) == [
        (w.bag["P-Aa"], w.subject["R1"], 1, T0),
        (w.bag["S-A0"], w.subject["R1"], 2, T0 + timedelta(days=7)),
    ]
    assert allocation_rows(answer) == sorted(
        [
            (w.bag["P-Aa"], w.subject["R1"], 1, True),
            (w.bag["P-Ab"], w.subject["R2"], 1, False),
            (w.bag["P-Ab"], w.subject["R3"], 1, True),
            (w.bag["S-A0"], w.subject["R1"], 2, True),
            (w.bag["S-B0"], w.subject["R2"], 1, True),
        ]
    )


def test_the_de_allocation_is_shown_with_when_and_why(world):
    answer = lookback("lot", world.lot["P"])
    ended = [a for a in answer["allocations"] if not a["active"]]
    assert [(a["recipient"], a["ended_at"], a["end_reason"]) for a in ended] == [
        (world.subject["R2"], T0 - timedelta(days=1), ENDED)
    ]


def test_from_a_pooled_donation_the_whole_pool_and_both_donors(world):
    w = world
    answer = lookback("din", w.din["b"] + check_character(w.din["b"]))

    assert answer["query"] == {"scope": "din", "value": w.din["b"]}
    assert codes(answer, "donors", "donor") == sorted([w.donor["A"], w.donor["B"]])
    assert codes(answer, "donations", "din") == sorted([w.din["a1"], w.din["b"]])
    assert codes(answer, "lots", "lot") == [w.lot["P"]]
    assert bag_rows(answer) == pooled_bags(w)
    assert recipient_rows(answer) == [
        (w.subject["R1"], [w.bag["P-Aa"]], [w.bag["P-Aa"]]),
        (w.subject["R2"], [w.bag["P-Ab"]], []),
        (w.subject["R3"], [w.bag["P-Ab"]], []),
    ]
    assert infusion_rows(answer) == [(w.bag["P-Aa"], w.subject["R1"], 1, T0)]


def test_the_pooled_lots_own_din_reaches_the_same_lot(world):
    by_product_din = lookback("din", world.din["P"])
    by_lot = lookback("lot", world.lot["P"])
    assert {k: v for k, v in by_product_din.items() if k != "query"} == {
        k: v for k, v in by_lot.items() if k != "query"
    }


def test_from_a_lot_only_its_bags_and_their_recipients(world):
    w = world
    answer = lookback("lot", w.lot["S"])

    assert codes(answer, "donors", "donor") == [w.donor["A"]]
    assert answer["donations"] == [
        {
            "din": w.din["a2"],
            "donor": w.donor["A"],
            "collected_at": T0 - timedelta(days=30),
            "facility": "Second apheresis unit",
        }
    ]
    assert answer["lots"] == [
        {
            "lot": w.lot["S"],
            "status": "released",
            "din": w.din["a2"],
            "dins": [w.din["a2"]],
            "reagent_lots": [
                {"kind": "reagent", "name": "IL-2", "lot_number": "IL2-SHARED"},
                {"kind": "vector", "name": "CD33 CAR", "lot_number": "LV-S"},
            ],
        }
    ]
    assert bag_rows(answer) == [
        (w.bag["S-A0"], "A0", "infused", w.subject["R1"], True),
        (w.bag["S-B0"], "B0", "allocated", w.subject["R2"], False),
    ]
    assert recipient_rows(answer) == [
        (w.subject["R1"], [w.bag["S-A0"]], [w.bag["S-A0"]]),
        (w.subject["R2"], [w.bag["S-B0"]], []),
    ]
    assert answer["infusions"] == [
        {
            "bag": w.bag["S-A0"],
            "recipient": w.subject["R1"],
            "infusion_number": 2,
            "started_at": T0 + timedelta(days=7),
            "ended_at": T0 + timedelta(days=7, minutes=15),
            "volume_ml": 10.0,
        }
    ]


def test_from_a_reagent_lot_every_lot_that_used_it(world):
    w = world
    answer = lookback("reagent_lot", "IL2-SHARED")

    assert codes(answer, "lots", "lot") == sorted([w.lot["S"], w.lot["T"]])
    assert codes(answer, "donors", "donor") == sorted([w.donor["A"], w.donor["C"]])
    assert codes(answer, "donations", "din") == sorted([w.din["a2"], w.din["c"]])
    assert bag_rows(answer) == sorted(
        [
            (w.bag["S-A0"], "A0", "infused", w.subject["R1"], True),
            (w.bag["S-B0"], "B0", "allocated", w.subject["R2"], False),
            (w.bag["T-A0"], "A0", "filled", None, False),
        ]
    )
    assert recipient_rows(answer) == [
        (w.subject["R1"], [w.bag["S-A0"]], [w.bag["S-A0"]]),
        (w.subject["R2"], [w.bag["S-B0"]], []),
    ]
    assert {lot["lot"]: lot["status"] for lot in answer["lots"]} == {
        w.lot["S"]: "released",
        w.lot["T"]: "quarantine",
    }


def test_a_vector_lot_reaches_only_the_lot_it_was_used_in(world):
    answer = lookback("reagent_lot", "LV-P")
    assert codes(answer, "lots", "lot") == [world.lot["P"]]
    assert len(answer["bags"]) == 4


@pytest.mark.parametrize("name", ["D", "E"])
def test_a_known_donor_whose_collections_are_in_no_lot_answers_empty(world, name):
    w = world
    answer = lookback("donor", w.donor[name])

    assert answer["donors"] == [{"donor": w.donor[name], "eligibility": "pending"}]
    assert codes(answer, "donations", "din") == ([w.din["d"]] if name == "D" else [])
    for key in ("lots", "bags", "recipients", "allocations", "infusions"):
        assert answer[key] == []


def test_a_collection_in_no_lot_answers_with_itself_only(world):
    answer = lookback("din", world.din["d"])
    assert codes(answer, "donations", "din") == [world.din["d"]]
    assert answer["lots"] == answer["bags"] == answer["recipients"] == []


# --- backward -------------------------------------------------------------------------------


def test_from_a_recipient_with_two_infusions_every_bag_lot_donation_and_donor_behind(world):
    w = world
    answer = lookback("recipient", w.subject["R1"].lower())

    assert answer["query"] == {"scope": "recipient", "value": w.subject["R1"]}
    assert bag_rows(answer) == sorted(
        [
            (w.bag["P-Aa"], "Aa", "infused", w.subject["R1"], True),
            (w.bag["S-A0"], "A0", "infused", w.subject["R1"], True),
        ]
    )
    assert codes(answer, "lots", "lot") == sorted([w.lot["P"], w.lot["S"]])
    assert [lot["reagent_lots"] for lot in answer["lots"]] == [
        [
            {"kind": "reagent", "name": "IL-2", "lot_number": "IL2-P"},
            {"kind": "vector", "name": "CD33 CAR", "lot_number": "LV-P"},
        ],
        [
            {"kind": "reagent", "name": "IL-2", "lot_number": "IL2-SHARED"},
            {"kind": "vector", "name": "CD33 CAR", "lot_number": "LV-S"},
        ],
    ]
    assert codes(answer, "donations", "din") == sorted([w.din["a1"], w.din["a2"], w.din["b"]])
    assert codes(answer, "donors", "donor") == sorted([w.donor["A"], w.donor["B"]])
    both = sorted([w.bag["P-Aa"], w.bag["S-A0"]])
    assert answer["recipients"] == [
        {
            "subject_id": w.subject["R1"],
            "status": "lymphodepletion",
            "site": "University Hospital",
            "bags": both,
            "infused_bags": both,
        }
    ]
    assert infusion_rows(answer) == [
        (w.bag["P-Aa"], w.subject["R1"], 1, T0),
        (w.bag["S-A0"], w.subject["R1"], 2, T0 + timedelta(days=7)),
    ]


def test_from_a_recipient_a_bag_once_allocated_to_them_is_behind_them_too(world):
    """R2 held P-Ab before it was de-allocated (it is R3's now) and holds S-B0: both bags
    are listed; the bag says whom it is with now; only R2's own allocations are listed."""
    w = world
    answer = lookback("recipient", w.subject["R2"])

    assert bag_rows(answer) == sorted(
        [
            (w.bag["P-Ab"], "Ab", "allocated", w.subject["R3"], False),
            (w.bag["S-B0"], "B0", "allocated", w.subject["R2"], False),
        ]
    )
    assert recipient_rows(answer) == [(w.subject["R2"], sorted([w.bag["P-Ab"], w.bag["S-B0"]]), [])]
    assert allocation_rows(answer) == sorted(
        [(w.bag["P-Ab"], w.subject["R2"], 1, False), (w.bag["S-B0"], w.subject["R2"], 1, True)]
    )
    assert codes(answer, "lots", "lot") == sorted([w.lot["P"], w.lot["S"]])
    assert codes(answer, "donations", "din") == sorted([w.din["a1"], w.din["a2"], w.din["b"]])
    assert codes(answer, "donors", "donor") == sorted([w.donor["A"], w.donor["B"]])
    assert answer["infusions"] == []


def test_a_recipient_without_bags_answers_with_themselves_only(world):
    answer = lookback("recipient", world.subject["R4"])
    assert recipient_rows(answer) == [(world.subject["R4"], [], [])]
    for key in ("donors", "donations", "lots", "bags", "allocations", "infusions"):
        assert answer[key] == []


def test_both_directions_answer_the_same_keys(world):
    forward = lookback("donor", world.donor["A"])
    backward = lookback("recipient", world.subject["R1"])
    assert forward.keys() == backward.keys()


def test_a_scope_that_is_not_a_starting_point_is_refused():
    with pytest.raises(ValidationFailed) as refused:
        lookback("bag", "W999926000001-D0001VA0")
    assert "donor, din, lot, reagent_lot, recipient" in refused.value.message


# --- cost -----------------------------------------------------------------------------------


@pytest.fixture
def statements(app):
    """The SQL statements run while the test body runs, counted."""
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    yield seen
    event.remove(db.engine, "before_cursor_execute", count)


def _queries(statements: list[str], scope: str, value: str) -> int:
    db.session.commit()
    statements.clear()
    lookback(scope, value)
    return len(statements)


def test_the_number_of_queries_does_not_grow_with_the_fan_out(world, statements):
    """Lot T (one bag, nobody reached) costs what lot P (four bags, three recipients, an
    infusion) and a reagent lot reaching two lots cost: no query per lot, bag or recipient."""
    small = _queries(statements, "lot", world.lot["T"])
    assert _queries(statements, "lot", world.lot["P"]) == small
    assert _queries(statements, "reagent_lot", "IL2-SHARED") == small
    assert _queries(statements, "donor", world.donor["A"]) == small + 1  # the donor's own row
    assert _queries(statements, "recipient", world.subject["R1"]) == _queries(
        statements, "recipient", world.subject["R2"]
    )
    assert small <= 8
