"""GET /api/v1/search: what a scan or a typed code names, with the page that opens it for the
caller; recipients by identifier only for roles that see identifiers; nothing found is an
empty list with words, input that is wrong in itself a 422 in words, never a 500."""

from __future__ import annotations

from datetime import date

from custody.domain.isbt128 import ALPHABET, check_character
from custody.domain.scan_targets import bag_scan_data
from custody.domain.wristband import wristband_data
from tests.api.responses import error, ok

URL = "/api/v1/search"
ZQ_WORDS = ("Zyxwa", "Quartzfield", "ZQ90417", "1947-03-29", "19470329")


def search(client, headers, q=None):
    return client.get(URL, query_string={} if q is None else {"q": q}, headers=headers)


def test_a_scanned_bag_is_answered_with_its_page_and_lot(client, make_lot, tech, nurse):
    (bag,) = make_lot(bags=1).bags
    scan = bag_scan_data(bag.din, bag.product_code, bag.expires_at)
    for headers in (tech, nurse):
        body = ok(search(client, headers, scan), 200)
        assert body["query"] == scan and body["message"] is None
        (item,) = body["items"]
        assert {k: item[k] for k in ("kind", "key", "url")} == {
            "kind": "bag",
            "key": bag.code,
            "url": f"/bags/{bag.code}",
        }
        assert item["label"].startswith("Bag ") and check_character(bag.din) in item["label"]
        assert [(r["kind"], r["url"]) for r in item["related"]] == [
            ("lot", f"/qa/lots/{bag.lot.lot_number}")
        ]
        assert body["searchable"]


def test_recipients_by_identifier_only_for_roles_that_see_them(
    client, make, clinic, make_recipient, tech, nurse, qa
):
    clinic.trial()
    make_recipient(
        subject_id="CAR33-ZQ-01",
        name="Zyxwa Quartzfield",
        birth_date=date(1947, 3, 29),
        hospital_record_number="ZQ90417",
    )
    wristband = wristband_data("ZQ90417", date(1947, 3, 29))
    for headers in (nurse, qa):
        (item,) = ok(search(client, headers, "ZQ90417"), 200)["items"]
        assert (item["key"], item["url"]) == ("CAR33-ZQ-01", "/clinic/recipients/CAR33-ZQ-01")
        assert "Zyxwa Quartzfield" in item["detail"]
        (by_band,) = ok(search(client, headers, wristband), 200)["items"]
        assert by_band["key"] == "CAR33-ZQ-01"
    # A technician: by subject ID, and nothing in the answer identifies the person.
    body = ok(search(client, tech, "car33-zq-01"), 200)
    assert [i["key"] for i in body["items"]] == ["CAR33-ZQ-01"]
    assert body["items"][0]["url"] == "/clinic/recipients/CAR33-ZQ-01"
    assert not any(word in str(body["items"]) for word in ZQ_WORDS)
    for q in ("ZQ90417", "zq90417", "Zyxwa Quartzfield", "Quartzfield"):
        body = ok(search(client, tech, q), 200)
        assert body["items"] == [] and "Nothing here matches" in body["message"]
    refused = error(search(client, tech, wristband), 422, "invalid_barcode")
    assert "subject ID" in refused["message"]
    assert not any(word in str(refused) for word in ZQ_WORDS)


def test_empty_long_and_wrong_input_is_answered_in_words_never_a_500(client, make_lot, tech):
    (bag,) = make_lot(bags=1).bags
    for q in (None, "", "   "):
        body = ok(search(client, tech, q), 200)
        assert body["items"] == [] and body["message"].startswith("Send q")
    body = ok(search(client, tech, "no such thing"), 200)
    assert body["items"] == [] and "no such thing" in body["message"]
    too_long = error(search(client, tech, "W" * 501), 422, "validation_error")
    assert "501 characters" in too_long["message"]
    right = check_character(bag.din)
    wrong = next(c for c in ALPHABET if c != right)
    refused = error(search(client, tech, f"{bag.din}{wrong}"), 422, "wrong_check_character")
    assert "does not match" in refused["message"]
    error(search(client, tech, "=%garbage"), 422, "invalid_barcode")
    error(search(client, tech, "CMD-DONE"), 422, "invalid_barcode")
    error(search(client, tech, "LT-1\x00"), 422, "validation_error")


def test_search_needs_a_signed_in_caller_and_is_described_in_openapi(client):
    error(client.get(URL, query_string={"q": "LT-1"}), 401, "authentication_failed")
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/search"]["get"]
    assert [p["name"] for p in operation["parameters"]] == ["q"]
