"""Lots, batch-record steps, filling bags and dividing them through the API."""

from __future__ import annotations

from datetime import timedelta

import pytest

from custody.domain import eligibility
from custody.models.base import utcnow
from tests.api import responses

_donors = iter(range(1, 10_000))


def _ago(**kw) -> str:
    return (utcnow() - timedelta(**kw)).isoformat()


@pytest.fixture
def collect(client, tech):
    """Record a collection from a new donor (received unless told); answers its DIN."""

    def collect(received: bool = True) -> str:
        code = f"DNR-A{next(_donors)}"
        donor = {"donor_code": code, "sex": "M", "birth_date": "1985-02-03"}
        responses.ok(client.post("/api/v1/donors", json=donor, headers=tech), 201)
        body = {
            "donor": code,
            "collected_at": _ago(hours=4),
            "collection_timezone": "Europe/Berlin",
            "facility": "Apheresis unit",
            "volume_ml": 230.0,
        }
        din = responses.ok(client.post("/api/v1/donations", json=body, headers=tech), 201)["din"]
        if received:
            receipt = {"scan": f"={din}00", "condition": "intact", "temperature_c": 6.0}
            responses.ok(client.post("/api/v1/donations/receipts", json=receipt, headers=tech), 201)
        return din

    return collect


@pytest.fixture
def lot(client, tech, collect) -> dict:
    body = {"donations": [collect()], "expires_at": (utcnow() + timedelta(days=200)).isoformat()}
    return responses.ok(client.post("/api/v1/lots", json=body, headers=tech), 201)


BAG = {"volume_ml": 20.0, "total_cells": 1.5e9, "viable_car_nk_cells": 1.2e9}


def test_a_lot_from_one_collection_carries_its_din(client, tech, collect):
    din = collect()
    made = responses.ok(client.post("/api/v1/lots", json={"donations": [din]}, headers=tech), 201)
    assert made["lot"].startswith(f"L{utcnow().year % 100:02d}-")
    assert (made["din"], made["dins"], made["status"]) == (din, [din], "quarantine")
    assert made["product_description_code"] == "D0001"
    assert made["donations"][0]["din"] == din
    assert made["donor_eligibility"] == "pending" and eligibility.ADVISE_PATIENT in made["warnings"]
    shown = responses.ok(client.get(f"/api/v1/lots/{made['lot']}", headers=tech), 200)
    assert shown["dins"] == [din]


def test_a_pooled_lot_gets_a_new_din(client, tech, collect):
    dins = [collect(), collect()]
    body = {"donations": dins, "lot_number": "POOL-7"}
    made = responses.ok(client.post("/api/v1/lots", json=body, headers=tech), 201)
    assert made["lot"] == "POOL-7"
    assert made["din"] not in dins and made["dins"] == sorted(dins)


def test_lot_refusals(client, tech, collect, lot):
    not_received = collect(received=False)
    response = client.post("/api/v1/lots", json={"donations": [not_received]}, headers=tech)
    assert "not been received" in responses.error(response, 409, "illegal_transition")["message"]
    again = client.post("/api/v1/lots", json={"donations": lot["dins"]}, headers=tech)
    assert f"is in lot {lot['lot']}" in responses.error(again, 409, "conflict")["message"]
    empty = client.post("/api/v1/lots", json={"donations": []}, headers=tech)
    responses.error(empty, 422, "validation_error")


@pytest.mark.parametrize("role", ["qa", "nurse"])
def test_only_technicians_and_admins_make_lots(client, make, collect, role):
    din = collect()
    response = client.post("/api/v1/lots", json={"donations": [din]}, headers=make.auth(role))
    responses.error(response, 403, "forbidden")


def test_batch_steps_through_the_api(client, tech, lot):
    step = {
        "step": "CAR transduction",
        "started_at": _ago(hours=6),
        "ended_at": _ago(hours=5),
        "equipment": "Incubator 4",
        "observations": "Cells clumped slightly",
        "materials": [{"kind": "vector", "name": "CD33 CAR LV", "lot_number": "V-2026-01"}],
    }
    url = f"/api/v1/lots/{lot['lot']}/steps"
    recorded = responses.ok(client.post(url, json=step, headers=tech), 201)
    assert (recorded["sequence"], recorded["operator"]) == (1, "Tess Tech")
    assert recorded["materials"] == [
        {"kind": "vector", "name": "CD33 CAR LV", "lot_number": "V-2026-01"}
    ]
    deviation = step | {"step": "Expansion", "deviation": True}
    error = responses.error(client.post(url, json=deviation, headers=tech), 422, "validation_error")
    assert "reason" in error["message"]
    backwards = step | {"ended_at": _ago(hours=7)}
    responses.error(client.post(url, json=backwards, headers=tech), 422, "validation_error")
    shown = responses.ok(client.get(f"/api/v1/lots/{lot['lot']}", headers=tech), 200)
    assert [s["step"] for s in shown["steps"]] == ["CAR transduction"]
    responses.error(
        client.post("/api/v1/lots/NOPE/steps", json=step, headers=tech), 404, "not_found"
    )


def test_fill_split_and_the_bags_list(client, tech, lot):
    url = f"/api/v1/lots/{lot['lot']}/bags"
    filled = responses.ok(client.post(url, json={"count": 2, "bag": BAG}, headers=tech), 201)[
        "items"
    ]
    assert [b["product_code"] for b in filled] == ["D0001VA0", "D0001VB0"]
    assert all(b["status"] == "filled" and b["din"] == lot["din"] for b in filled)
    assert filled[0]["warnings"] == lot["warnings"]
    more = responses.ok(
        client.post(url, json={"bags": [BAG | {"volume_ml": 25.0}]}, headers=tech), 201
    )
    assert more["items"][0]["product_code"] == "D0001VC0"

    split = responses.ok(
        client.post(f"{url}/D0001VA0/split", json={"volumes_ml": [12.0, 8.0]}, headers=tech), 201
    )
    assert split["parent"]["status"] == "discarded"
    assert split["parent"]["history"][-1]["notes"] == "divided into D0001VAa, D0001VAb"
    children = split["children"]
    assert [c["division"] for c in children] == ["Aa", "Ab"]
    assert [c["volume_ml"] for c in children] == [12.0, 8.0]
    assert children[0]["viable_car_nk_cells"] == pytest.approx(0.72e9)
    assert children[0]["scan"].startswith("=+")

    child = responses.ok(client.get(f"/api/v1/bags/{children[0]['code']}", headers=tech), 200)
    assert child["parent"] == filled[0]["code"] and child["status"] == "filled"
    listed = responses.ok(client.get(f"/api/v1/bags?lot={lot['lot']}", headers=tech), 200)["items"]
    assert {b["division"] for b in listed} == {"A0", "B0", "C0", "Aa", "Ab"}

    again = client.post(f"{url}/{filled[0]['code']}/split", json={"parts": 2}, headers=tech)
    assert "DISCARDED" in responses.error(again, 409, "illegal_transition")["message"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"count": 2},
        {"count": 2, "bag": BAG, "bags": [BAG]},
        {"count": 27, "bag": BAG},
        {"bags": [BAG | {"volume_ml": -1}]},
        {"bags": [BAG | {"dose_level": "DL404"}]},
    ],
)
def test_a_fill_that_cannot_be_right_is_422(client, tech, lot, body):
    response = client.post(f"/api/v1/lots/{lot['lot']}/bags", json=body, headers=tech)
    responses.error(response, 422, "validation_error")
    assert responses.ok(client.get(f"/api/v1/lots/{lot['lot']}", headers=tech), 200)["bags"] == []


def test_a_split_needs_one_way_of_dividing(client, tech, lot):
    url = f"/api/v1/lots/{lot['lot']}/bags"
    responses.ok(client.post(url, json={"count": 1, "bag": BAG}, headers=tech), 201)
    for body in ({}, {"parts": 2, "volumes_ml": [10, 10]}, {"parts": 1}):
        response = client.post(f"{url}/D0001VA0/split", json=body, headers=tech)
        responses.error(response, 422, "validation_error")


def test_a_quarantined_bag_after_fill_and_a_qa_user_cannot_fill(client, make, tech, lot):
    url = f"/api/v1/lots/{lot['lot']}/bags"
    (bag,) = responses.ok(client.post(url, json={"count": 1, "bag": BAG}, headers=tech), 201)[
        "items"
    ]
    scanned = client.post(
        "/api/v1/scans", json={"action": "quarantine", "bag": bag["scan"]}, headers=tech
    )
    assert responses.ok(scanned, 201)["to_status"] == "quarantined"
    response = client.post(url, json={"count": 1, "bag": BAG}, headers=make.auth("qa"))
    responses.error(response, 403, "forbidden")
