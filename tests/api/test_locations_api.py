"""The storage tree over the API: who may create locations, what a listing shows, the label."""

from __future__ import annotations

import io

import pypdf
import pytest

from custody.services.bags.scans import ScanRequest, scan
from tests.api import responses

URL = "/api/v1/locations"


def _post(client, headers, **body):
    return client.post(URL, json=body, headers=headers)


def _tree(client, headers, positions=3) -> dict[str, str]:
    site = _post(client, headers, kind="site", name="Cell therapy lab").get_json()["code"]
    freezer = _post(client, headers, kind="freezer", parent=site, name="LN2 freezer 1")
    freezer = freezer.get_json()["code"]
    rack = _post(client, headers, kind="rack", parent=freezer).get_json()["code"]
    box = _post(client, headers, kind="box", parent=rack, positions=positions).get_json()["code"]
    return {"site": site, "freezer": freezer, "rack": rack, "box": box}


@pytest.mark.parametrize("role", ["technician", "admin"])
def test_technicians_and_admins_create_a_box_with_its_positions(client, make, role):
    headers = make.auth(role)
    codes = _tree(client, headers, positions=0)
    response = _post(client, headers, kind="box", parent=codes["rack"], name="Box A", positions=4)
    assert response.status_code == 201, response.get_json()
    box = response.get_json()
    assert box["code"] == "LOC-F01-R01-B02"
    assert box["path"] == "Cell therapy lab › LN2 freezer 1 › Rack 1 › Box A"
    assert box["parent"] == codes["rack"]
    assert [c["code"] for c in box["children"]] == [f"{box['code']}-P0{n}" for n in range(1, 5)]


@pytest.mark.parametrize("role", ["qa", "nurse"])
def test_qa_and_nurses_cannot_create_locations_but_can_read_them(client, make, role):
    codes = _tree(client, make.auth("technician"))
    headers = make.auth(role)
    responses.error(_post(client, headers, kind="site"), 403, "forbidden")
    assert client.get(f"{URL}/{codes['box']}", headers=headers).status_code == 200


def test_the_kind_order_and_codes_are_enforced_with_words(client, make):
    headers = make.auth("technician")
    codes = _tree(client, headers)
    error = responses.error(
        _post(client, headers, kind="box", parent=codes["freezer"]), 422, "validation_error"
    )
    assert "goes inside a rack" in error["message"]
    error = responses.error(
        _post(client, headers, kind="freezer", parent=codes["site"], code="FRZ 9"),
        422,
        "validation_error",
    )
    assert "LOC-" in error["message"]
    responses.error(_post(client, headers, kind="shelf"), 422, "validation_error")
    responses.error(
        _post(client, headers, kind="box", parent=codes["rack"], positions=101),
        422,
        "validation_error",
    )
    responses.error(_post(client, headers, kind="freezer", parent="LOC-NOWHERE"), 404, "not_found")
    error = responses.error(
        _post(client, headers, kind="freezer", parent=codes["site"], code="loc-f01"),
        409,
        "conflict",
    )
    assert "LOC-F01 is already used" in error["message"]
    assert client.get(URL, headers=headers).get_json()["items"].__len__() == 7


def test_listing_by_parent_and_kind_shows_each_positions_bag(client, make, make_lot):
    tech = make.user("technician")
    headers = {"Authorization": f"Bearer {make.token(tech)}"}
    codes = _tree(client, headers)
    lot = make_lot(bags=1)
    bag = lot.bags[0].code
    scan(tech, ScanRequest(action="store", bag=bag, location=f"{codes['box']}-P03"))
    items = client.get(URL, query_string={"parent": codes["box"]}, headers=headers)
    items = items.get_json()["items"]
    assert [(i["code"], i["bag"], i["bag_status"]) for i in items] == [
        (f"{codes['box']}-P01", None, None),
        (f"{codes['box']}-P02", None, None),
        (f"{codes['box']}-P03", bag, "stored"),
    ]
    assert items[2]["path"].endswith("Box 1 › Position 3")
    racks = client.get(URL, query_string={"kind": "rack"}, headers=headers).get_json()["items"]
    assert [r["code"] for r in racks] == [codes["rack"]]
    responses.error(
        client.get(URL, query_string={"kind": "shelf"}, headers=headers), 422, "validation_error"
    )
    responses.error(
        client.get(URL, query_string={"parent": "LOC-NONE"}, headers=headers), 404, "not_found"
    )


def test_one_location_with_its_subtree_and_bags(client, make, make_lot):
    tech = make.user("technician")
    headers = {"Authorization": f"Bearer {make.token(tech)}"}
    codes = _tree(client, headers, positions=2)
    bag = make_lot(bags=1).bags[0].code
    scan(tech, ScanRequest(action="store", bag=bag, location=f"{codes['box']}-P01"))
    position = client.get(f"{URL}/{codes['box'].lower()}-p01", headers=headers).get_json()
    assert position["bag"] == bag and position["kind"] == "position"
    assert position["parent"] == codes["box"] and position["children"] == []
    rack = client.get(f"{URL}/{codes['rack']}?depth=2", headers=headers).get_json()
    (box,) = rack["children"]
    assert [p["bag"] for p in box["children"]] == [bag, None]
    responses.error(client.get(f"{URL}/LOC-NONE", headers=headers), 404, "not_found")
    responses.error(
        client.get(f"{URL}/{codes['rack']}?depth=9", headers=headers), 422, "validation_error"
    )


def test_the_label_needs_an_approved_template_and_a_printing_role(client, make):
    codes = _tree(client, make.auth("technician"), positions=0)
    url = f"{URL}/{codes['box']}/label.pdf"
    response = client.get(url, headers=make.auth("technician"))
    refused = responses.error(response, 409, "label_cannot_print")
    assert "approve" in refused["message"]
    responses.error(client.get(url, headers=make.auth("nurse")), 403, "forbidden")


def test_the_label_is_a_pdf_carrying_the_code(client, make, approved_labels):
    headers = make.auth("technician")
    codes = _tree(client, headers, positions=2)
    response = client.get(f"{URL}/{codes['box']}/label.pdf", headers=headers)
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(response.data))
    assert len(reader.pages) == 1
    assert codes["box"] in reader.pages[0].extract_text()
    with_positions = client.get(f"{URL}/{codes['box']}/label.pdf?children=true", headers=headers)
    pages = pypdf.PdfReader(io.BytesIO(with_positions.data)).pages
    assert [p.extract_text().split("\n")[0] for p in pages] == [
        codes["box"],
        f"{codes['box']}-P01",
        f"{codes['box']}-P02",
    ]
    responses.error(client.get(f"{URL}/LOC-NONE/label.pdf", headers=headers), 404, "not_found")
    responses.error(client.get(f"{URL}/{codes['box']}/label.pdf"), 401, "authentication_failed")


def test_the_openapi_document_describes_the_endpoints(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/locations"])
    assert "get" in paths["/api/v1/locations/{code}"]
    label = paths["/api/v1/locations/{code}/label.pdf"]["get"]
    assert "application/pdf" in label["responses"]["200"]["content"]
