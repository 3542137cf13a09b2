"""Specimen values for a label template's preview: every field a purpose may print, filled in.

QA judges a template version by a label it really prints, so each field gets a value of the
kind and length a real record gives it: a DIN with its flags and check character, barcodes
encoded as ISBT 128 data, the facility's own name, address, product name and time zone, and
the donor-eligibility statements and release statement that print only sometimes (so every
element of the template shows). The person on a tie-tag is invented and named SPECIMEN:
no record's identifiers ever appear in a preview.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from custody.domain import eligibility, isbt128
from custody.domain.scan_targets import bag_scan_data
from custody.labels.catalogue import PURPOSES
from custody.services.core.facility import establishment, product_name, site_zone

DIN = "W999926000012"
PRODUCT_CODE = "D0001VA0"
EXPIRES = datetime(2026, 9, 22, 23, 59, tzinfo=UTC)
COLLECTED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
ALLOCATED = datetime(2026, 3, 10, 14, 5, tzinfo=UTC)
SHIPMENT = "SHP-20260310-0001"
LOCATION = "LOC-F01-B07"


def specimen_values(purpose: str) -> dict[str, str]:
    """A value for every field the purpose's template may print."""
    every = _bag() | _collection() | _tie_tag() | _shipper() | _location()
    if purpose == "collection":  # a collection bag's Data Matrix: DIN and collection time
        every["compound"] = isbt128.encode_compound(
            [every["din_barcode"], every["collection_barcode"]]
        )
    return {name: every[name] for name in PURPOSES[purpose].fields}


def _moment(when: datetime, zone: ZoneInfo) -> str:
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _bag() -> dict[str, str]:
    zone = site_zone()
    name, address = establishment()
    flags = isbt128.type3_flags(DIN)
    warnings = eligibility.warnings_for("incomplete")
    return {
        "din": DIN,
        "din_barcode": isbt128.encode_din(DIN, flags),
        "din_flags": flags,
        "din_eye": isbt128.eye_readable_din(DIN),
        "product_code_barcode": isbt128.encode_product_code(PRODUCT_CODE),
        "product_code": PRODUCT_CODE,
        "expiry_barcode": isbt128.encode_expiry(EXPIRES.astimezone(zone)),
        "compound": bag_scan_data(DIN, PRODUCT_CODE, EXPIRES, zone),
        "product_name": product_name(),
        "lot_number": "L-2026-0001",
        "volume": "100 mL",
        "cell_dose": "1.20 × 10⁸",
        "total_cells": "1.50 × 10⁸",
        "dose_level": "DL2",
        "expiry": _moment(EXPIRES, zone),
        "expiry_utc": _moment(EXPIRES, ZoneInfo("UTC")),
        "establishment_name": name,
        "establishment_address": address,
        "eligibility_warnings": "\n".join(warnings),
        "biohazard": eligibility.BIOHAZARD,
        "release_statement": "CONDITIONAL RELEASE: Sterility (14-day culture) pending. The "
        "treating physician is told at once of any result out of specification.",
    }


def _collection() -> dict[str, str]:
    zone = site_zone()
    return {
        "collection_barcode": isbt128.encode_collection(COLLECTED.astimezone(zone)),
        "collected": _moment(COLLECTED, zone),
        "collection_facility": "Specimen Apheresis Center",
        "donor_code": "DNR-0042",
        "eligibility": "incomplete",
    }


def _tie_tag() -> dict[str, str]:
    return {
        "recipient_name": "SPECIMEN, Not A Patient",
        "subject_id": "SPECIMEN-001",
        "birth_date": "1961-04-18",
        "hospital_record_number": "MRN-SPECIMEN",
        "site": "Specimen Hospital",
        "infusion_number": "1",
        "volume_to_infuse": "Infuse the whole bag (100 mL)",
        "allocated": _moment(ALLOCATED, site_zone()),
    }


def _shipper() -> dict[str, str]:
    name, address = establishment()
    eye = isbt128.eye_readable_din(DIN)
    return {
        "shipment_barcode": SHIPMENT,
        "shipment_code": SHIPMENT,
        "destination_site": "Specimen Hospital, Cell Therapy Unit",
        "courier": "Specimen Cryo Couriers",
        "shipper_id": "DS-07",
        "bag_count": "2 bags",
        "contents": f"{eye} {PRODUCT_CODE}; {eye[:-1]}3 {PRODUCT_CODE}",
        "storage_limit": "−150 °C",
        "establishment_name": name,
        "establishment_address": address,
    }


def _location() -> dict[str, str]:
    return {
        "location_barcode": LOCATION,
        "code": LOCATION,
        "name_and_kind": "Box 7 (box)",
        "path": "Cell therapy lab › LN2 freezer 1 › Rack 3 › Box 7",
    }
