"""ISBT 128 over the API: parse scans, check DINs, issue DINs (technicians)."""

from __future__ import annotations


def test_parse_returns_the_structures(client, make):
    response = client.post(
        "/api/v1/isbt128/parse",
        json={"data": "=G12341765432100"},
        headers=make.auth(),
    )
    assert response.status_code == 200
    (din,) = response.get_json()["items"]
    assert din["din"] == "G123417654321"


def test_parse_rejects_bad_data_with_422_and_words(client, make):
    response = client.post(
        "/api/v1/isbt128/parse", json={"data": "=O12341765432100"}, headers=make.auth()
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_barcode"
    assert error["message"]


def test_check_gives_k_and_flags(client, make):
    body = client.get("/api/v1/isbt128/dins/G123417654321", headers=make.auth()).get_json()
    assert body == {"din": "G123417654321", "check_character": "A", "flags": "70"}


def test_technicians_issue_dins_for_the_configured_fin(client, make):
    headers = make.auth("technician")
    first = client.post("/api/v1/isbt128/dins", json={"year": 26}, headers=headers)
    second = client.post("/api/v1/isbt128/dins", json={"year": 26}, headers=headers)
    assert first.status_code == 201
    assert first.get_json()["din"] == "W999926000001"
    assert second.get_json()["din"] == "W999926000002"


def test_nurses_do_not_issue_dins(client, make):
    response = client.post("/api/v1/isbt128/dins", json={}, headers=make.auth("nurse"))
    assert response.status_code == 403
