"""GET /api/v1/lookback: one starting point in, the same shape out both ways; QA and admin
only, since the answer names recipients next to donors."""

from __future__ import annotations

from datetime import timedelta

import pytest

from custody.domain.isbt128 import check_character
from tests.api.responses import error, ok
from tests.services.traceability.lookback_world import (
    T0,
    World,
    bag_rows,
    build_world,
    codes,
    pooled_bags,
    recipient_rows,
)

URL = "/api/v1/lookback"
KEYS = {"query", "donors", "donations", "lots", "bags", "recipients", "allocations", "infusions"}


@pytest.fixture
def world(make, clinic) -> World:
    return build_world(make, clinic)


def get(client, headers, **params):
    return client.get(URL, query_string=params, headers=headers)


@pytest.mark.parametrize("role", ["qa", "admin"])
def test_quality_and_admin_look_forward_from_a_din_typed_with_its_check_character(
    client, make, world, role
):
    w = world
    din = w.din["b"]
    body = ok(get(client, make.auth(role), din=din + check_character(din)), 200)

    assert body.keys() == KEYS
    assert body["query"] == {"scope": "din", "value": din}
    assert codes(body, "lots", "lot") == [w.lot["P"]]
    assert bag_rows(body) == pooled_bags(w)
    assert recipient_rows(body) == [
        (w.subject["R1"], [w.bag["P-Aa"]], [w.bag["P-Aa"]]),
        (w.subject["R2"], [w.bag["P-Ab"]], []),
        (w.subject["R3"], [w.bag["P-Ab"]], []),
    ]
    assert body["infusions"] == [
        {
            "bag": w.bag["P-Aa"],
            "recipient": w.subject["R1"],
            "infusion_number": 1,
            "started_at": T0.isoformat(),
            "ended_at": (T0 + timedelta(minutes=15)).isoformat(),
            "volume_ml": 10.0,
        }
    ]


def test_the_din_as_13_characters_answers_the_same(client, qa, world):
    din = world.din["b"]
    with_k = ok(get(client, qa, din=din + check_character(din)), 200)
    assert ok(get(client, qa, din=din), 200) == with_k


@pytest.mark.parametrize(
    ("scope", "key", "expected"),
    [
        ("donor", "lots", ("P", "S")),
        ("lot", "lots", ("S",)),
        ("reagent_lot", "lots", ("S", "T")),
    ],
)
def test_forward_from_each_scope_reaches_its_lots(client, qa, world, scope, key, expected):
    w = world
    value = {"donor": w.donor["A"], "lot": w.lot["S"], "reagent_lot": "IL2-SHARED"}[scope]
    body = ok(get(client, qa, **{scope: value}), 200)
    assert body["query"] == {"scope": scope, "value": value}
    assert codes(body, key, "lot") == sorted(w.lot[name] for name in expected)


def test_backward_from_a_recipient_with_the_lots_donations_donors_and_reagent_lots(
    client, qa, world
):
    w = world
    body = ok(get(client, qa, recipient=w.subject["R1"]), 200)

    assert body.keys() == KEYS
    assert body["query"] == {"scope": "recipient", "value": w.subject["R1"]}
    assert codes(body, "lots", "lot") == sorted([w.lot["P"], w.lot["S"]])
    assert codes(body, "donors", "donor") == sorted([w.donor["A"], w.donor["B"]])
    assert codes(body, "donations", "din") == sorted([w.din["a1"], w.din["a2"], w.din["b"]])
    assert [[r["lot_number"] for r in lot["reagent_lots"]] for lot in body["lots"]] == [
        ["IL2-P", "LV-P"],
        ["IL2-SHARED", "LV-S"],
    ]
    assert [(i["bag"], i["infusion_number"]) for i in body["infusions"]] == [
        (w.bag["P-Aa"], 1),
        (w.bag["S-A0"], 2),
    ]


def test_a_known_donor_without_lots_answers_200_and_empty(client, qa, world):
    body = ok(get(client, qa, donor=world.donor["E"]), 200)
    assert body["donors"] == [{"donor": world.donor["E"], "eligibility": "pending"}]
    assert body["lots"] == body["bags"] == body["recipients"] == body["infusions"] == []


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("donor", "DNR-NOBODY"),
        ("din", "W999926999999"),
        ("lot", "LT-NONE"),
        ("reagent_lot", "IL2-NONE"),
        ("recipient", "LB-NOBODY"),
    ],
)
def test_an_unknown_identifier_is_404_with_words(client, qa, world, param, value):
    refused = error(get(client, qa, **{param: value}), 404, "not_found")
    assert value in refused["message"]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"bag": "W999926000001-D0001VA0"},
        {"donor": "A", "lot": "B"},
        {"din": "W999926000001", "recipient": "R", "reagent_lot": "X"},
    ],
)
def test_none_or_two_starting_points_is_422_naming_the_parameters(client, qa, params):
    refused = error(get(client, qa, **params), 422, "validation_error")
    for name in ("donor", "din", "lot", "reagent_lot", "recipient"):
        assert name in refused["message"]
    assert refused["details"]["parameters"] == ["donor", "din", "lot", "reagent_lot", "recipient"]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"recipient": ""}, "validation_error"),
        ({"donor": " "}, "validation_error"),
        ({"din": "W99992600000"}, "invalid_barcode"),
        ({"lot": "L" * 33}, "validation_error"),
    ],
)
def test_a_malformed_value_is_422(client, qa, params, code):
    error(get(client, qa, **params), 422, code)


def test_a_din_with_a_wrong_check_character_is_refused_not_looked_up(client, qa, world):
    din = world.din["b"]
    wrong = next(c for c in "0123456789" if c != check_character(din))
    error(get(client, qa, din=din + wrong), 422, "wrong_check_character")


@pytest.mark.parametrize("role", ["technician", "nurse"])
def test_other_roles_are_refused_before_anything_is_looked_up(client, make, role):
    refused = error(get(client, make.auth(role), donor="DNR-NOBODY"), 403, "forbidden")
    assert "qa" in refused["message"] and "admin" in refused["message"]


def test_no_credentials_is_401(client):
    error(client.get(URL, query_string={"donor": "X"}), 401, "authentication_failed")


def test_the_openapi_document_describes_the_parameters_and_the_answer(client):
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/api/v1/lookback"]["get"]
    parameters = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    assert parameters == {"donor", "din", "lot", "reagent_lot", "recipient"}
    assert "exactly one starting point" in operation["summary"]
    assert "404" in operation["description"] and "422" in operation["description"]
    answer = document["components"]["schemas"]["LookbackOut"]
    assert set(answer["properties"]) == KEYS
