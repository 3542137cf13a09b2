"""The allocations API: allocating scanned bags, the dose it answers, the tie-tag, de-allocation.

Who may do what is checked; every refusal is a 4xx with the error envelope, never a 500.
"""

from __future__ import annotations

import pytest

from custody.extensions import db
from custody.models import Allocation, CustodyEvent
from tests.api.responses import error, ok
from tests.races import race

API = "/api/v1/allocations"


def _allocate(client, headers, recipient, *bags, number=1, **extra):
    body = {"recipient": recipient.subject_id, "infusion_number": number, "bags": list(bags)}
    return client.post(API, json=body | extra, headers=headers)


def test_allocation_answers_the_dose_and_the_tie_tag_prints(client, qa, clinic, approved_labels):
    (bag,) = clinic.released_bags(1)
    recipient = clinic.recipient(dose_level="DL2", weight_kg=70)
    body = ok(_allocate(client, qa, recipient, bag.code, reason="order 17"), 201)
    assert (body["recipient"], body["infusion_number"]) == (recipient.subject_id, 1)
    assert body["dose"] == {
        "dose_level": "DL2",
        "basis": "flat",
        "weight_kg": 70.0,
        "target_cells": 1.2e9,
        "lower": pytest.approx(9.6e8),
        "upper": pytest.approx(1.44e9),
        "planned_cells": 1.2e9,
    }
    assert body["residual_cd3_per_kg"] == pytest.approx(3e6 / 70)
    assert (body["residual_cd3_limit"], body["residual_cd3_limit_inclusive"]) == (2e5, False)
    (item,) = body["allocations"]
    assert item["bag"] == bag.code and item["partial"] is False and item["active"] is True
    assert (item["volume_ml"], item["volume_to_infuse_ml"]) == (20.0, 20.0)
    assert item["tie_tag_pdf"] == f"/api/v1/bags/{bag.code}/tie-tag.pdf"
    tag = client.get(item["tie_tag_pdf"], headers=qa)
    assert tag.status_code == 200 and tag.mimetype == "application/pdf"
    assert tag.data.startswith(b"%PDF")
    shown = ok(client.get(f"/api/v1/bags/{bag.code}", headers=qa), 200)
    assert (shown["status"], shown["recipient"]) == ("allocated", recipient.subject_id)


def test_per_kg_dose_gives_part_of_the_bag(client, qa, clinic):
    (bag,) = clinic.released_bags(1)
    recipient = clinic.recipient(dose_level="DL4", weight_kg=60)
    body = ok(_allocate(client, qa, recipient, bag.code), 201)
    assert body["dose"]["basis"] == "per_kg"
    assert body["dose"]["target_cells"] == pytest.approx(9e8)
    (item,) = body["allocations"]
    assert (item["volume_to_infuse_ml"], item["partial"]) == (15.0, True)
    assert item["planned_cells"] == pytest.approx(9e8)


def test_bags_are_taken_as_their_label_scans(client, qa, clinic):
    first, second = clinic.released_bags(2)
    scans = [
        ok(client.get(f"/api/v1/bags/{b.code}", headers=qa), 200)["scan"] for b in (first, second)
    ]
    recipient = clinic.recipient(dose_level="DL3")
    body = ok(_allocate(client, qa, recipient, *scans), 201)
    assert [(a["bag"], a["partial"]) for a in body["allocations"]] == [
        (first.code, False),
        (second.code, True),
    ]
    event = db.session.query(CustodyEvent).filter_by(bag_id=first.id, action="allocate").one()
    assert event.raw_scan == scans[0]


def test_deallocation_ends_it_and_the_tie_tag_no_longer_prints(client, qa, clinic, approved_labels):
    (bag,) = clinic.released_bags(1)
    recipient = clinic.recipient()
    ok(_allocate(client, qa, recipient, bag.code), 201)
    assert client.get(f"/api/v1/bags/{bag.code}/tie-tag.pdf", headers=qa).status_code == 200
    refused = client.post(f"{API}/{bag.code}/deallocation", json={"reason": " "}, headers=qa)
    error(refused, 422, "validation_error")
    missing = client.post(f"{API}/{bag.code}/deallocation", json={}, headers=qa)
    error(missing, 422, "validation_error")
    ended = client.post(
        f"{API}/{bag.code}/deallocation", json={"reason": "recipient febrile"}, headers=qa
    )
    item = ok(ended, 200)
    assert item["active"] is False and item["end_reason"] == "recipient febrile"
    assert item["ended_by"] and item["tie_tag_pdf"] is None
    error(client.get(f"/api/v1/bags/{bag.code}/tie-tag.pdf", headers=qa), 409, "label_cannot_print")
    again = client.post(
        f"{API}/{bag.code}/deallocation", json={"reason": "recipient febrile"}, headers=qa
    )
    error(again, 409, "illegal_transition")


def test_listing_a_recipients_allocations(client, qa, clinic, make):
    old, new = clinic.released_bags(2)
    recipient = clinic.recipient()
    ok(_allocate(client, qa, recipient, old.code), 201)
    ok(
        client.post(f"{API}/{old.code}/deallocation", json={"reason": "bag damaged"}, headers=qa),
        200,
    )
    ok(_allocate(client, qa, recipient, new.code), 201)
    nurse = make.auth("nurse")
    query = f"{API}?recipient={recipient.subject_id}"
    everything = ok(client.get(query, headers=nurse), 200)["items"]
    assert [(i["bag"], i["active"]) for i in everything] == [(new.code, True), (old.code, False)]
    active = ok(client.get(f"{query}&active=true", headers=nurse), 200)["items"]
    assert [i["bag"] for i in active] == [new.code]
    error(client.get(f"{API}?recipient=CAR33-NOPE", headers=nurse), 404, "not_found")
    error(client.get(API, headers=nurse), 422, "validation_error")


@pytest.mark.parametrize("role", ["technician", "nurse"])
def test_only_qa_and_admin_allocate_and_deallocate(role, client, make, clinic):
    (bag,) = clinic.released_bags(1)
    recipient = clinic.recipient()
    headers = make.auth(role)
    error(_allocate(client, headers, recipient, bag.code), 403, "forbidden")
    clinic.allocate(bag, recipient)
    deallocation = {"reason": "wrong recipient"}
    error(
        client.post(f"{API}/{bag.code}/deallocation", json=deallocation, headers=headers),
        403,
        "forbidden",
    )
    admin = make.auth("admin")
    ok(client.post(f"{API}/{bag.code}/deallocation", json=deallocation, headers=admin), 200)
    ok(_allocate(client, admin, recipient, bag.code), 201)


def test_refusals_are_4xx_with_words(client, qa, clinic):
    taken, free = clinic.released_bags(2)
    recipient, other = clinic.recipient(dose_level="DL3"), clinic.recipient()
    clinic.allocate(taken, other)
    conflict = error(_allocate(client, qa, recipient, taken.code), 409, "conflict")
    assert other.subject_id in conflict["message"]
    too_few = error(_allocate(client, qa, recipient, free.code), 422, "validation_error")
    assert "cells are missing" in too_few["message"]
    error(_allocate(client, qa, recipient, free.code, number=3), 422, "validation_error")
    error(_allocate(client, qa, recipient), 422, "validation_error")
    error(_allocate(client, qa, recipient, "not a bag"), 422, "invalid_barcode")
    error(_allocate(client, qa, recipient, "W999999999999-D0001VA0"), 404, "not_found")
    unknown = client.post(
        API, json={"recipient": "CAR33-NOPE", "infusion_number": 1, "bags": [free.code]}, headers=qa
    )
    error(unknown, 404, "not_found")
    second = error(_allocate(client, qa, other, free.code, number=2), 409, "illegal_transition")
    assert "No second infusion is ordered" in second["message"]
    assert db.session.query(Allocation).count() == 1


def test_two_stations_allocating_one_bag_one_gets_201_the_other_409(app, make, clinic):
    (bag,) = clinic.released_bags(1)
    first, second = clinic.recipient(), clinic.recipient()
    tokens = {}
    for name in ("quinn", "ada"):
        tokens[name] = make.token(make.user("qa", username=name))

    subjects, code = (first.subject_id, second.subject_id), bag.code

    def posting(name, subject_id):
        def call(user):
            headers = {"Authorization": f"Bearer {tokens[name]}"}
            body = {"recipient": subject_id, "infusion_number": 1, "bags": [code]}
            response = app.test_client().post(API, json=body, headers=headers)
            return response.status_code, response.get_json()

        return name, call

    outcomes = race(app, posting("quinn", subjects[0]), posting("ada", subjects[1]))
    assert sorted(status for status, _ in outcomes) == [201, 409], outcomes
    (won,) = [body for status, body in outcomes if status == 201]
    (lost,) = [body for status, body in outcomes if status == 409]
    assert lost["error"]["code"] == "conflict"
    assert won["recipient"] in subjects and won["recipient"] in lost["error"]["message"]
