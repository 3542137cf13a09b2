"""FHIR R5 export: every resource validates against R5 (fhir.resources) and says what the
database says: DIN, product code, expiry, parent, availability, verifiers, volume, recipient."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fhir.resources.biologicallyderivedproduct import BiologicallyDerivedProduct
from fhir.resources.biologicallyderivedproductdispense import BiologicallyDerivedProductDispense
from fhir.resources.bundle import Bundle

from custody.config import settings
from custody.domain.errors import NotFound
from custody.domain.scan_targets import bag_scan_data
from custody.domain.wristband import wristband_data
from custody.extensions import db
from custody.models import Bag, Infusion, Recall, Recipient, Thaw
from custody.models.base import utcnow
from custody.services.bags.scans import ScanRequest, scan
from custody.services.clinic.bedside import VerificationRequest, verify
from custody.services.clinic.infusions import complete_infusion, start_infusion
from custody.services.core.audit_trail import acting_as
from custody.services.core.facility import site_zone
from custody.services.manufacturing.divisions import SplitRequest, split_bag
from custody.services.traceability import fhir
from custody.services.traceability.fhir_dispense import dispense_bundle, dispense_of_bag
from custody.services.traceability.fhir_product import product_resource
from tests.conftest import change_settings
from tests.factories import PASSWORD

BASE = "https://fhir.test/api/v1/fhir"
# R5's required binding of the dispense status, as the model library carries it (the library
# lists the codes but does not enforce them, so the tests do).
DISPENSE_STATUSES = BiologicallyDerivedProductDispense.model_fields["status"].json_schema_extra[
    "enum_values"
]
SELF = f"{BASE}/BiologicallyDerivedProductDispense?patient=X"


# --- reading a resource back -----------------------------------------------------------------


def valid_product(data: dict) -> dict:
    """`data`, after R5 validation: the model accepts it and writes it back unchanged."""
    model = BiologicallyDerivedProduct.model_validate(data)
    assert model.model_dump(mode="json", exclude_none=True)["id"] == data["id"]
    assert data["productStatus"]["code"] in ("available", "unavailable")
    return data


def valid_bundle(data: dict) -> dict:
    bundle = Bundle.model_validate(data)
    for entry in bundle.entry or []:
        assert entry.resource.get_resource_type() == "BiologicallyDerivedProductDispense"
    for entry in data.get("entry", []):
        valid_dispense(entry["resource"])
    return data


def valid_dispense(data: dict) -> dict:
    BiologicallyDerivedProductDispense.model_validate(data)
    assert data["status"] in DISPENSE_STATUSES
    return data


def prop(resource: dict, code: str) -> list:
    """The values of the product's properties typed `code` in the tracker's property system."""
    system = fhir.own_code_system("product-property")
    found = []
    for item in resource.get("property", []):
        (coding,) = item["type"]["coding"]
        if (coding["system"], coding["code"]) == (system, code):
            (key,) = [k for k in item if k.startswith("value")]
            found.append(item[key])
    return found


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def reload(bag: Bag) -> Bag:
    db.session.expire_all()
    return db.session.get(Bag, bag.id)


# --- the product ---------------------------------------------------------------------------


def test_a_released_stored_bag_is_an_available_product_with_its_label_facts(app, make, clinic):
    (bag,) = clinic.released_bags(1)
    tech = make.user("technician")
    (position,) = clinic.make_lot.positions(1)
    scan(tech, ScanRequest(action="store", bag=bag.code, location=position.code))
    bag = reload(bag)
    assert (bag.status.value, bag.storage_position_id) == ("released", position.id)
    resource = valid_product(product_resource(bag.code))

    assert resource["resourceType"] == "BiologicallyDerivedProduct" and resource["id"] == bag.code
    assert resource["productCategory"] == {
        "system": "http://hl7.org/fhir/product-category",
        "code": "cells",
        "display": "Cells",
    }
    assert resource["biologicalSourceEvent"] == {
        "system": "https://www.isbt128.org/uri/DonationIdentificationNumber",
        "value": bag.din,
    }
    isbt, full = resource["productCode"]["coding"]
    assert (isbt["system"], isbt["code"]) == (
        "https://www.isbt128.org/uri/ProductDescriptionCode",
        bag.lot.product_description_code,
    )
    assert full["code"] == bag.product_code == "D0001VA0"
    assert resource["productCode"]["text"] == settings().product_name
    assert resource["identifier"] == [
        {"system": fhir.own_identifier_system("bag"), "value": bag.code}
    ]
    assert resource["division"] == bag.division == "A0"
    assert "parent" not in resource
    assert when(resource["expirationDate"]) == bag.expires_at
    assert resource["storageTempRequirements"]["high"] == {
        "value": -150.0,
        "unit": "°C",
        "system": "http://unitsofmeasure.org",
        "code": "Cel",
    }
    assert resource["productStatus"] == {
        "system": "http://hl7.org/fhir/biologicallyderived-product-status",
        "code": "available",
        "display": "Available",
    }
    assert resource["processingFacility"] == [{"display": settings().facility_name}]
    (donation,) = bag.lot.donations
    collection = resource["collection"]
    assert collection["source"]["identifier"]["value"] == donation.donor.donor_code
    assert when(collection["collectedDateTime"]) == donation.collected_at


def test_the_products_properties_are_the_bags_counts_volume_lot_and_state(clinic):
    (bag,) = clinic.released_bags(1)
    with acting_as("system:test", reason="test setup: the bag is for DL3"):
        bag.dose_level = clinic.dose_level("DL3")
        db.session.commit()
    resource = valid_product(product_resource(bag.code))
    cells = {"unit": "cells", "system": "http://unitsofmeasure.org", "code": "{cells}"}
    assert prop(resource, "viable-car-nk-cells") == [{"value": bag.viable_car_nk_cells} | cells]
    assert prop(resource, "total-cells") == [{"value": bag.total_cells} | cells]
    assert prop(resource, "volume")[0]["value"] == bag.volume_ml == 20.0
    assert prop(resource, "volume")[0]["code"] == "mL"
    assert prop(resource, "lot-number") == [bag.lot.lot_number]
    assert prop(resource, "dose-level") == ["DL3"]
    assert prop(resource, "do-not-irradiate") == [True]
    (disposition,) = prop(resource, "lot-disposition")
    assert disposition["coding"][0]["code"] == bag.lot.disposition.value == "released"
    assert disposition["coding"][0]["system"] == fhir.own_code_system("lot-disposition")
    (state,) = prop(resource, "custody-state")
    assert state["coding"][0]["code"] == "released"
    (eligibility,) = prop(resource, "donor-eligibility")
    assert eligibility["coding"][0]["code"] == "eligible"
    assert prop(resource, "eligibility-statement") == prop(resource, "recall") == []


def test_a_product_from_a_donor_not_fully_evaluated_carries_the_label_statements(clinic):
    (bag,) = clinic.released_bags(1, eligibility="incomplete")
    resource = valid_product(product_resource(bag.code))
    assert prop(resource, "eligibility-statement") == [
        "NOT EVALUATED FOR INFECTIOUS SUBSTANCES",
        "WARNING: Advise patient of communicable disease risks",
    ]


def test_a_division_points_to_the_bag_it_was_divided_from(make, make_lot):
    tech = make.user("technician")
    lot = make_lot(bags=1)
    parent = lot.bags[0]
    _, second = split_bag(tech, lot.lot_number, parent.code, SplitRequest(parts=2))
    child = valid_product(product_resource(second.code))
    assert child["parent"] == [
        {
            "reference": f"BiologicallyDerivedProduct/{parent.code}",
            "display": f"CD33 CAR-NK cells {parent.code}",
        }
    ]
    assert child["division"] == "Ab" and child["biologicalSourceEvent"]["value"] == parent.din
    assert prop(child, "volume")[0]["value"] == pytest.approx(second.volume_ml)
    # Still in quarantine: not available for use.
    assert child["productStatus"]["code"] == "unavailable"
    # The reference resolves: the parent is served too, discarded by the division.
    parent_resource = valid_product(product_resource(parent.code))
    assert parent_resource["productStatus"]["code"] == "unavailable"
    assert prop(parent_resource, "custody-state")[0]["coding"][0]["code"] == "discarded"
    assert "parent" not in parent_resource


def test_an_expired_bag_is_unavailable(clinic):
    (bag,) = clinic.released_bags(1)
    assert product_resource(bag.code)["productStatus"]["code"] == "available"
    with acting_as("system:test", reason="test setup: the bag expired an hour ago"):
        bag.expires_at = utcnow() - timedelta(hours=1)
        db.session.commit()
    resource = valid_product(product_resource(bag.code))
    assert resource["productStatus"]["code"] == "unavailable"
    assert when(resource["expirationDate"]) == reload(bag).expires_at


@pytest.mark.parametrize("status", ["discarded", "rejected", "returned", "quarantined"])
def test_a_bag_out_of_clinical_use_is_unavailable(make_lot, status):
    bag = make_lot(disposition="released", bags=1, status=status).bags[0]
    resource = valid_product(product_resource(bag.code))
    assert resource["productStatus"]["code"] == "unavailable"
    assert prop(resource, "custody-state")[0]["coding"][0]["code"] == status


def test_a_bag_of_a_recalled_lot_is_unavailable_and_says_which_recall(make, clinic):
    (bag,) = clinic.released_bags(1)
    qa = make.user("qa")
    with acting_as("system:test", reason="test setup: QA recalled the lot"):
        recall = Recall(
            code="RC-T1",
            scope="lot",
            scope_value=bag.lot.lot_number,
            reason="late positive sterility result",
            raised_by_id=qa.id,
        )
        recall.lots.append(bag.lot)
        db.session.add(recall)
        db.session.commit()
    resource = valid_product(product_resource(bag.code))
    assert resource["productStatus"]["code"] == "unavailable"
    assert prop(resource, "recall") == ["RC-T1"]


def test_a_thawed_bag_is_available_only_inside_its_post_thaw_window(clinic):
    bag, _, _ = clinic.at_bedside()
    assert product_resource(bag.code)["productStatus"]["code"] == "available"
    with acting_as("system:test", reason="test setup: the window closed"):
        thaw = db.session.scalar(db.select(Thaw).where(Thaw.bag_id == bag.id))
        thaw.use_by = utcnow() - timedelta(seconds=1)
        db.session.commit()
    resource = valid_product(product_resource(bag.code))
    assert resource["productStatus"]["code"] == "unavailable"
    assert prop(resource, "custody-state")[0]["coding"][0]["code"] == "thawed"


@pytest.mark.parametrize("code", ["", "nope", "W9999-D0001VA0", "%00", "x" * 300, "../../etc"])
def test_an_unknown_bag_is_not_found(app, code):
    with pytest.raises(NotFound):
        product_resource(code)


# --- the dispenses ---------------------------------------------------------------------------


def infuse(nurse, bag, recipient) -> dict:
    """Two nurses verify at the bedside, then the infusion starts (as the ward records it)."""
    request = VerificationRequest(
        recipient=wristband_data(recipient.hospital_record_number, recipient.birth_date),
        bag=bag_scan_data(bag.din, bag.product_code, bag.expires_at, site_zone()),
        second_verifier={"username": "nina", "password": PASSWORD},
    )
    return start_infusion(nurse, verify(nurse, request).uid)


def infused_twice(clinic, nurse):
    """A recipient whose infusion 1 ended (19.5 mL) and whose infusion 2 is running."""
    recipient = clinic.recipient()
    first, _, _ = clinic.at_bedside(recipient)
    started = infuse(nurse, first, recipient)
    complete_infusion(
        nurse, first.code, started["started_at"] + timedelta(seconds=1), 19.5, "mild chills"
    )
    with acting_as("system:test", reason="test setup: the investigator orders infusion 2"):
        db.session.get(Recipient, recipient.id).second_infusion_ordered = True
        db.session.commit()
    second, _, _ = clinic.at_bedside(recipient, infusion_number=2)
    infuse(nurse, second, recipient)
    return recipient, first, second


def test_the_recipients_dispenses_are_a_searchset_of_both_infusions(clinic, ann):
    recipient, first, second = infused_twice(clinic, ann)
    bundle = valid_bundle(dispense_bundle(recipient.subject_id.lower(), BASE, SELF))
    assert (bundle["type"], bundle["total"], len(bundle["entry"])) == ("searchset", 2, 2)
    assert bundle["link"] == [{"relation": "self", "url": SELF}]
    rows = db.session.scalars(
        db.select(Infusion).where(Infusion.recipient_id == recipient.id).order_by(Infusion.id)
    ).all()
    for entry, bag, row in zip(bundle["entry"], (first, second), rows, strict=True):
        resource = entry["resource"]
        assert entry["fullUrl"] == f"{BASE}/BiologicallyDerivedProductDispense/{bag.code}"
        assert entry["search"] == {"mode": "match"}
        assert resource["id"] == bag.code and resource["status"] == "issued"
        assert resource["product"]["reference"] == f"BiologicallyDerivedProduct/{bag.code}"
        assert resource["patient"] == {
            "type": "Patient",
            "identifier": {
                "system": fhir.own_identifier_system("subject"),
                "value": recipient.subject_id,
            },
            "display": recipient.name,
        }
        assert resource["originRelationshipType"]["coding"] == [
            {
                "system": "http://hl7.org/fhir/CodeSystem/"
                "biologicallyderivedproductdispense-origin-relationship",
                "code": "allogeneic",
                "display": "Allogeneic",
            }
        ]
        performers = resource["performer"]
        assert [p["actor"]["display"] for p in performers] == ["Ann First", "Nina Second"]
        assert [p["actor"]["identifier"]["value"] for p in performers] == ["ann", "nina"]
        assert [p["function"]["coding"][0]["code"] for p in performers] == ["VRF", "VRF"]
        assert [p["function"]["text"] for p in performers] == [
            "First bedside verifier",
            "Second bedside verifier",
        ]
        assert when(resource["whenHandedOver"]) == row.started_at
        assert when(resource["preparedDate"]) == row.allocation.allocated_at
        assert (
            f"Infusion {row.infusion_number} to {recipient.subject_id}"
            in (resource["note"][0]["text"])
        )
        # The product reference resolves, and says the bag was infused.
        infused = valid_product(product_resource(resource["product"]["reference"].split("/")[1]))
        assert infused["productStatus"]["code"] == "unavailable"
        assert prop(infused, "custody-state")[0]["coding"][0]["code"] == "infused"
    ended, running = (entry["resource"] for entry in bundle["entry"])
    assert ended["quantity"] == {
        "value": 19.5,
        "unit": "mL",
        "system": "http://unitsofmeasure.org",
        "code": "mL",
    }
    assert "Reactions: mild chills" in ended["note"][0]["text"]
    assert "quantity" not in running
    assert "end is not yet recorded" in running["note"][0]["text"]


def test_a_recipient_not_yet_infused_has_an_empty_searchset(clinic):
    recipient = clinic.recipient()
    bundle = valid_bundle(dispense_bundle(recipient.subject_id, BASE, SELF))
    assert (bundle["type"], bundle["total"]) == ("searchset", 0)
    assert "entry" not in bundle


def test_one_dispense_is_served_by_its_bag_code(clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    with pytest.raises(NotFound, match="has not been infused"):
        dispense_of_bag(bag.code)
    infuse(ann, bag, recipient)
    resource = valid_dispense(dispense_of_bag(bag.code))
    assert resource == dispense_bundle(recipient.subject_id, BASE, SELF)["entry"][0]["resource"]


@pytest.mark.parametrize("subject_id", ["", "CAR33-NOBODY", "\u00e9" * 70])
def test_an_unknown_recipient_is_not_found(app, subject_id):
    with pytest.raises(NotFound):
        dispense_bundle(subject_id, BASE, SELF)


def test_the_code_system_base_is_a_setting(app, clinic):
    (bag,) = clinic.released_bags(1)
    change_settings(app, CUSTODY_FHIR_SYSTEM_BASE="https://fhir.hospital.example/custody/")
    resource = product_resource(bag.code)
    assert resource["identifier"][0]["system"] == (
        "https://fhir.hospital.example/custody/identifier/bag"
    )
