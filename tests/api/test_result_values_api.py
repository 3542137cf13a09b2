"""Qualitative results through the API: a specification defines each qualitative test's values,
the lot's quality lists them, and a result that is not one of them (the page's pick-list
bypassed) is refused 422 naming them, with nothing stored."""

from __future__ import annotations

import pytest

from custody.extensions import db
from custody.services.core.audit_trail import acting_as
from tests.api import responses
from tests.api.lot_quality_calls import API, SIGN, quality_test

VALUES = ["negative", "positive", "indeterminate"]


@pytest.fixture
def lot(quality, make_lot) -> str:
    """A quarantined lot made under the approved standard specification, as the lab makes one."""
    spec = quality.specification()
    made = make_lot()
    with acting_as("system:test", reason="test setup"):
        made.specification = spec
        db.session.commit()
    return made.lot_number


def _enter(client, lot: str, headers, **body):
    return client.post(
        f"{API}/lots/{lot}/results", json={"test": "sterility", **body}, headers=headers
    )


# Sent as value_text → stored as value_text, verdict.
ACCEPTED = [
    ("negative", "negative", "pass"),
    ("Negative ", "negative", "pass"),
    ("POSITIVE", "positive", "fail"),
    (" indeterminate", "indeterminate", "fail"),
]


@pytest.mark.parametrize(("sent", "stored", "verdict"), ACCEPTED)
def test_a_defined_value_is_accepted_in_the_specifications_spelling(
    client, lot, tech, sent, stored, verdict
):
    entered = responses.ok(_enter(client, lot, tech, value_text=sent), 201)
    assert entered["value_text"] == stored
    shown = quality_test(client, lot, tech, "sterility")
    assert (shown["verdict"], shown["result"]["value_text"]) == (verdict, stored)
    assert shown["allowed_values"] == VALUES


REFUSED = ["negativ", "Negativ ", "neg.", "no growth", "negative, positive", "Négative"]


@pytest.mark.parametrize("sent", REFUSED)
def test_free_text_bypassing_the_pick_list_is_refused_and_nothing_is_stored(
    client, lot, tech, sent
):
    error = responses.error(_enter(client, lot, tech, value_text=sent), 422, "validation_error")
    assert error["message"] == (
        f"'{sent.strip()}' is not a result of Sterility (14-day culture): choose one of "
        "'negative', 'positive', 'indeterminate', as its specification defines them."
    )
    assert error["details"]["allowed_values"] == VALUES
    assert error["details"]["field"] == "value_text"
    shown = quality_test(client, lot, tech, "sterility")
    assert (shown["result"], shown["verdict"]) == (None, "pending")


def test_a_number_for_a_qualitative_test_is_refused_naming_the_values(client, lot, tech):
    error = responses.error(_enter(client, lot, tech, value_numeric=0), 422, "validation_error")
    assert error["message"].startswith("Sterility (14-day culture) is qualitative: choose one of")
    assert error["details"]["allowed_values"] == VALUES
    assert quality_test(client, lot, tech, "sterility")["result"] is None


def test_a_correction_bypassing_the_pick_list_is_refused(client, lot, tech):
    responses.ok(_enter(client, lot, tech, value_text="positive"), 201)
    url = f"{API}/lots/{lot}/results/sterility/corrections"
    typo = {"value_text": "negativ", "reason": "misread"}
    error = responses.error(client.post(url, json=typo, headers=tech), 422, "validation_error")
    assert error["details"]["allowed_values"] == VALUES
    shown = quality_test(client, lot, tech, "sterility")
    assert (shown["result"]["value_text"], shown["history"]) == ("positive", [])


def test_a_specification_carries_its_qualitative_values(client, qa):
    tests = [
        {
            "test": "appearance",
            "title": "Appearance",
            "kind": "qualitative",
            "expected_text": "Conforms",
            "allowed_values": ["Conforms", "Does not conform"],
        },
        {"test": "viability", "title": "Viability", "unit": "%", "lower": 70},
    ]
    made = responses.ok(
        client.post(f"{API}/specifications", json={"tests": tests}, headers=qa), 201
    )
    assert [t["allowed_values"] for t in made["tests"]] == [["conforms", "does not conform"], []]
    url = f"{API}/specifications/D0001/{made['version']}/approval"
    approved = responses.ok(client.post(url, json=SIGN, headers=qa), 201)
    assert approved["tests"][0]["allowed_values"] == ["conforms", "does not conform"]


@pytest.mark.parametrize(
    ("values", "words"),
    [
        (None, "list every result it can have, at least two"),
        (["negative"], "list every result it can have, at least two"),
        (["negative", "NEGATIVE", "positive"], "the value negative is listed twice"),
        (["positive", "indeterminate"], "the expected result 'negative' must be one of"),
    ],
)
def test_a_qualitative_test_without_usable_values_is_refused(client, qa, values, words):
    test = {"test": "sterility", "title": "Sterility", "kind": "qualitative"}
    test |= {"expected_text": "negative"} | ({"allowed_values": values} if values else {})
    refused = client.post(f"{API}/specifications", json={"tests": [test]}, headers=qa)
    assert words in responses.error(refused, 422, "validation_error")["message"]
    assert responses.ok(client.get(f"{API}/specifications", headers=qa), 200)["items"] == []
