"""The FHIR endpoints: FHIR JSON that validates against R5, references that resolve, the
roles that may read what, and the error envelope for everything a client gets wrong."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import pytest

from custody.services.traceability import fhir
from tests.api import responses
from tests.services.traceability.test_fhir import (
    infuse,
    infused_twice,
    prop,
    valid_bundle,
    valid_product,
)

API = "/api/v1/fhir"
PRODUCT = f"{API}/BiologicallyDerivedProduct"
DISPENSE = f"{API}/BiologicallyDerivedProductDispense"
EVERY_ROLE = ("technician", "qa", "nurse", "admin")
PATIENT_DATA = ("qa", "nurse", "admin")


def fhir_json(response, status: int = 200) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/fhir+json"
    return response.get_json()


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@pytest.mark.parametrize("role", EVERY_ROLE)
def test_any_signed_in_role_reads_a_bag_as_a_product(client, make, clinic, role):
    (bag,) = clinic.released_bags(1)
    resource = valid_product(
        fhir_json(client.get(f"{PRODUCT}/{bag.code}", headers=make.auth(role)))
    )
    assert resource["id"] == bag.code
    assert resource["biologicalSourceEvent"] == {"system": fhir.DIN_SYSTEM, "value": bag.din}
    assert resource["productCode"]["coding"][1]["code"] == bag.product_code
    assert resource["productStatus"]["code"] == "available"
    assert prop(resource, "viable-car-nk-cells")[0]["value"] == bag.viable_car_nk_cells


def test_the_fhir_endpoints_need_a_signed_in_caller(client, clinic):
    (bag,) = clinic.released_bags(1)
    recipient = clinic.recipient()
    responses.error(client.get(f"{PRODUCT}/{bag.code}"), 401, "authentication_failed")
    search = client.get(f"{DISPENSE}?patient={recipient.subject_id}")
    responses.error(search, 401, "authentication_failed")


@pytest.mark.parametrize(
    "code",
    ["W999926000001-D0001VA0", "nope", quote("é" * 40), "%2e%2e%2f", "x" * 500, "%25", "-"],
)
def test_an_unknown_or_malformed_bag_code_is_404_never_500(client, make, code):
    answer = client.get(f"{PRODUCT}/{code}", headers=make.auth("nurse"))
    responses.error(answer, 404, "not_found")


def test_a_nul_in_the_bag_code_is_refused_as_unstorable(client, make):
    answer = client.get(f"{PRODUCT}/a%00b", headers=make.auth("nurse"))
    responses.error(answer, 422, "validation_error")


@pytest.mark.parametrize("role", PATIENT_DATA)
def test_the_dispense_search_answers_a_searchset_whose_links_resolve(
    client, make, clinic, ann, role
):
    recipient, first, second = infused_twice(clinic, ann.user)
    headers = make.auth(role)
    bundle = fhir_json(client.get(f"{DISPENSE}?patient={recipient.subject_id}", headers=headers))
    valid_bundle(bundle)
    assert (bundle["type"], bundle["total"]) == ("searchset", 2)
    assert path_of(bundle["link"][0]["url"]) == f"{DISPENSE}?patient={recipient.subject_id}"
    assert [e["resource"]["id"] for e in bundle["entry"]] == [first.code, second.code]
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert entry["fullUrl"] == f"http://localhost{DISPENSE}/{resource['id']}"
        # The fullUrl serves the same resource ...
        assert fhir_json(client.get(path_of(entry["fullUrl"]), headers=headers)) == resource
        # ... and the product reference resolves through this API.
        product = fhir_json(
            client.get(f"{API}/{resource['product']['reference']}", headers=headers)
        )
        assert product["id"] == resource["id"]
        assert prop(product, "custody-state")[0]["coding"][0]["code"] == "infused"
        assert resource["patient"]["identifier"]["value"] == recipient.subject_id
        assert [p["actor"]["display"] for p in resource["performer"]] == [
            "Ann First",
            "Nina Second",
        ]
    assert bundle["entry"][0]["resource"]["quantity"]["value"] == 19.5


def test_a_recipient_not_yet_infused_gets_an_empty_bundle(client, make, clinic):
    recipient = clinic.recipient()
    answer = client.get(f"{DISPENSE}?patient={recipient.subject_id}", headers=make.auth("nurse"))
    bundle = valid_bundle(fhir_json(answer))
    assert bundle["total"] == 0 and "entry" not in bundle


def test_a_technician_may_not_search_patient_data(client, make, clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    infuse(ann.user, bag, recipient)
    headers = make.auth("technician")
    refused = client.get(f"{DISPENSE}?patient={recipient.subject_id}", headers=headers)
    assert "technician" in responses.error(refused, 403, "forbidden")["message"]
    responses.error(client.get(f"{DISPENSE}/{bag.code}", headers=headers), 403, "forbidden")
    # Refused before the query is read: a stranger learns nothing about the parameters.
    responses.error(client.get(DISPENSE, headers=headers), 403, "forbidden")


def test_the_search_needs_a_known_patient(client, make):
    headers = make.auth("qa")
    missing = responses.error(client.get(DISPENSE, headers=headers), 422, "validation_error")
    assert "patient" in missing["details"]["fields"]["query"]
    empty = client.get(f"{DISPENSE}?patient=", headers=headers)
    responses.error(empty, 422, "validation_error")
    unknown = client.get(f"{DISPENSE}?patient=CAR33-NOBODY", headers=headers)
    assert "CAR33-NOBODY" in responses.error(unknown, 404, "not_found")["message"]
    hostile = client.get(f"{DISPENSE}?patient=%27%20OR%20%271%27%3D%271", headers=headers)
    responses.error(hostile, 404, "not_found")


def test_the_dispense_of_a_bag_not_infused_is_404(client, make, clinic):
    bag, _, _ = clinic.at_bedside()
    headers = make.auth("nurse")
    responses.error(client.get(f"{DISPENSE}/{bag.code}", headers=headers), 404, "not_found")
    responses.error(client.get(f"{DISPENSE}/nope", headers=headers), 404, "not_found")


def test_the_openapi_document_describes_the_fhir_endpoints(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path, resource_type in (
        ("/api/v1/fhir/BiologicallyDerivedProduct/{code}", "BiologicallyDerivedProduct"),
        ("/api/v1/fhir/BiologicallyDerivedProductDispense", "Bundle"),
        (
            "/api/v1/fhir/BiologicallyDerivedProductDispense/{code}",
            "BiologicallyDerivedProductDispense",
        ),
    ):
        operation = spec["paths"][path]["get"]
        assert operation["description"] and operation["summary"]
        content = operation["responses"]["200"]["content"]
        assert list(content) == ["application/fhir+json"]
        schema = content["application/fhir+json"]["schema"]
        assert schema["properties"]["resourceType"]["enum"] == [resource_type]
    search = spec["paths"]["/api/v1/fhir/BiologicallyDerivedProductDispense"]["get"]
    (patient,) = [p for p in search["parameters"] if p["name"] == "patient"]
    assert patient["in"] == "query" and patient["required"] is True
