"""The infusion record over the API: start after verification, completion, the list."""

from __future__ import annotations

import pytest

from custody.domain.wristband import wristband_data
from tests.api import responses
from tests.factories import PASSWORD

URL = "/api/v1/infusions"


def _verified(client, headers, bag, recipient) -> str:
    body = {
        "recipient": wristband_data(recipient.hospital_record_number, recipient.birth_date),
        "bag": bag.code,
        "second_verifier": {"username": "nina", "password": PASSWORD},
    }
    answer = responses.ok(
        client.post("/api/v1/bedside/verifications", json=body, headers=headers), 201
    )
    assert answer["passed"], answer
    return answer["uid"]


def test_start_complete_and_list_an_infusion(client, clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    uid = _verified(client, ann, bag, recipient)
    started = responses.ok(client.post(URL, json={"verification": uid}, headers=ann), 201)
    assert started["bag"] == bag.code and started["recipient"] == recipient.subject_id
    assert started["infusion_number"] == 1 and started["verification"] == uid
    assert started["first_verifier"] != started["second_verifier"] == "Nina Second"
    assert started["day0"] is not None and started["ended_at"] is None
    assert responses.ok(client.get(f"/api/v1/bags/{bag.code}", headers=ann), 200)["status"] == (
        "infused"
    )
    completion = f"{URL}/{bag.code}/completion"
    done = responses.ok(
        client.post(completion, json={"volume_ml": 19.5, "reactions": "none"}, headers=ann), 200
    )
    assert done["volume_ml"] == 19.5 and done["ended_at"] is not None
    listed = responses.ok(client.get(f"{URL}?recipient={recipient.subject_id}", headers=ann), 200)
    assert listed == {"items": [done]}


def test_a_second_start_from_the_same_verification_is_409(client, clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    uid = _verified(client, ann, bag, recipient)
    responses.ok(client.post(URL, json={"verification": uid}, headers=ann), 201)
    again = client.post(URL, json={"verification": uid}, headers=ann)
    assert "already infused" in responses.error(again, 409, "conflict")["message"]


def test_a_stopped_verification_cannot_start_an_infusion(client, clinic, ann):
    bag, _, _ = clinic.at_bedside()
    other = clinic.recipient()
    body = {
        "recipient": wristband_data(other.hospital_record_number, other.birth_date),
        "bag": bag.code,
        "second_verifier": {"username": "nina", "password": PASSWORD},
    }
    stopped = client.post("/api/v1/bedside/verifications", json=body, headers=ann)
    uid = responses.ok(stopped, 201)["uid"]
    refused = client.post(URL, json={"verification": uid}, headers=ann)
    responses.error(refused, 409, "illegal_transition")
    missing = client.post(URL, json={"verification": "no-such-uid"}, headers=ann)
    responses.error(missing, 404, "not_found")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"verification": ""},
        {"verification": "x", "started_at": "2026-03-14T09:30:00"},
        {"verification": "x", "started_at": "yesterday"},
        {"verification": "x", "volume_ml": -1},
    ],
)
def test_malformed_starts_are_422(client, ann, body):
    responses.error(client.post(URL, json=body, headers=ann), 422, "validation_error")


def test_completion_refusals(client, clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    completion = f"{URL}/{bag.code}/completion"
    not_started = client.post(completion, json={"volume_ml": 10}, headers=ann)
    responses.error(not_started, 404, "not_found")
    responses.ok(
        client.post(
            URL, json={"verification": _verified(client, ann, bag, recipient)}, headers=ann
        ),
        201,
    )
    too_much = client.post(completion, json={"volume_ml": 30}, headers=ann)
    assert "20 mL" in responses.error(too_much, 422, "validation_error")["message"]
    responses.error(client.post(completion, json={}, headers=ann), 422, "validation_error")


@pytest.mark.parametrize("role", ["admin", "technician", "qa"])
def test_only_nurses_record_infusions(client, make, role):
    headers = make.auth(role)
    responses.error(client.post(URL, json={"verification": "x"}, headers=headers), 403, "forbidden")
    completion = f"{URL}/W999926000001-D0001VA0/completion"
    responses.error(
        client.post(completion, json={"volume_ml": 1}, headers=headers), 403, "forbidden"
    )


def test_the_list_names_a_known_recipient_or_none(client, make):
    headers = make.auth("technician")
    assert responses.ok(client.get(URL, headers=headers), 200) == {"items": []}
    unknown = client.get(f"{URL}?recipient=CAR33-NOBODY", headers=headers)
    responses.error(unknown, 404, "not_found")
