"""What each kind of label is for: the fields its template may print and what it must print.

A template is data (labels/*.toml), so a site can move things around, change sizes and add
words; what it may not do is leave out what the regulations ask for. The lists here are that
floor, checked when a template is loaded: a final product template without the caution
statement, or a quarantine template whose warning is not its largest type, never loads, so it
can never be approved or printed.
"""

from __future__ import annotations

from dataclasses import dataclass

QUARANTINE_STATEMENT = "QUARANTINE — NOT FOR INFUSION"
# 21 CFR 312.6(a), exactly as DOMAIN.md §3 gives it.
CAUTION_STATEMENT = (
    "Caution: New Drug—Limited by Federal (or United States) law to investigational use."
)
DO_NOT_IRRADIATE = "Do Not Irradiate"

# The fields a bag's label may print (final and quarantine labels share them).
BAG_FIELDS = {
    "din": "the DIN (13 characters); a `din` element prints it grouped with K boxed",
    "din_barcode": "Code 128 data of the DIN with its check flags (=αppppyynnnnnnff)",
    "product_code_barcode": "Code 128 data of the product code (=<αooootds)",
    "expiry_barcode": "Code 128 data of the expiry date and time, local (&>cyyjjjhhmm)",
    "compound": "the Data Matrix: DIN, product code and expiry as one =+ compound message",
    "din_eye": "the DIN as people read it, e.g. W9999 26 000012",
    "din_flags": "the DIN's two flag characters",
    "product_code": "the product code, e.g. D0001VA0",
    "product_name": "the product's name (CUSTODY_PRODUCT_NAME)",
    "lot_number": "the manufacturing lot",
    "volume": "the bag's volume, e.g. 100 mL",
    "cell_dose": "viable CAR+ NK cells in the bag, e.g. 1.20 × 10⁸",
    "total_cells": "total cells in the bag",
    "dose_level": "the dose level the bag was made for, or empty",
    "expiry": "expiry date and time with the facility's zone, e.g. 2026-09-22 23:59 CDT",
    "expiry_utc": "the same expiry in UTC",
    "establishment_name": "the releasing establishment (CUSTODY_FACILITY_NAME)",
    "establishment_address": "its address (CUSTODY_FACILITY_ADDRESS)",
    "eligibility_warnings": "the donor-eligibility statements, one per line; empty if eligible",
    "biohazard": "the biohazard legend for an ineligible donor, or empty",
    "release_statement": "CONDITIONAL or EXCEPTIONAL RELEASE and why; empty otherwise",
}
COLLECTION_FIELDS = {
    "din": BAG_FIELDS["din"],
    "din_barcode": BAG_FIELDS["din_barcode"],
    "din_eye": BAG_FIELDS["din_eye"],
    "din_flags": BAG_FIELDS["din_flags"],
    "collection_barcode": "Code 128 data of the collection date and time (&*cyyjjjhhmm)",
    "compound": "the Data Matrix: DIN and collection time as one =+ compound message",
    "collected": "collection date and time with the collection site's zone",
    "collection_facility": "where the cells were collected",
    "volume": "the collected volume",
    "donor_code": "the donor's code in this facility",
    "product_name": BAG_FIELDS["product_name"],
    "eligibility": "the donor's eligibility determination, in words",
    "eligibility_warnings": BAG_FIELDS["eligibility_warnings"],
    "biohazard": BAG_FIELDS["biohazard"],
    "establishment_name": BAG_FIELDS["establishment_name"],
}
TIE_TAG_FIELDS = {
    "din": BAG_FIELDS["din"],
    "din_barcode": BAG_FIELDS["din_barcode"],
    "din_eye": BAG_FIELDS["din_eye"],
    "product_code_barcode": BAG_FIELDS["product_code_barcode"],
    "product_code": BAG_FIELDS["product_code"],
    "compound": "the Data Matrix of the bag it is tied to (the same as the bag label's)",
    "product_name": BAG_FIELDS["product_name"],
    "lot_number": BAG_FIELDS["lot_number"],
    "recipient_name": "the recipient's name",
    "subject_id": "the recipient's trial subject ID",
    "birth_date": "the recipient's date of birth, YYYY-MM-DD",
    "hospital_record_number": "the recipient's hospital record number",
    "site": "the recipient's hospital site",
    "infusion_number": "1 or 2",
    "dose_level": "the recipient's dose level",
    "volume_to_infuse": "what to infuse: the whole bag, or so many mL of it",
    "allocated": "when the bag was allocated, with the facility's zone",
    "expiry": BAG_FIELDS["expiry"],
}
SHIPPER_FIELDS = {
    "shipment_barcode": "Code 128 data of the shipment's code (SHP-…)",
    "shipment_code": "the shipment's code",
    "destination_site": "where the shipment goes",
    "courier": "the courier, or empty",
    "shipper_id": "the dry shipper's own ID, or empty",
    "bag_count": "how many bags are packed",
    "contents": "the packed bags' DINs and product codes",
    "storage_limit": "the temperature the shipper must stay below, e.g. −150 °C",
    "establishment_name": BAG_FIELDS["establishment_name"],
    "establishment_address": BAG_FIELDS["establishment_address"],
}
LOCATION_FIELDS = {
    "location_barcode": "Code 128 data of the location's code (LOC-…)",
    "code": "the location's code",
    "name_and_kind": "its name and kind, e.g. Box 7 (box)",
    "path": "where it is: site › freezer › rack › box",
}


@dataclass(frozen=True)
class Purpose:
    """One kind of label: what it is stuck on, the fields it may use and its floor."""

    name: str
    subject: str
    fields: dict[str, str]
    required_fields: frozenset[str] = frozenset()
    required_statements: tuple[str, ...] = ()
    # A statement that must be set larger than anything else on the label.
    largest_statement: str | None = None


_BAG_IDENTITY = frozenset(
    {"din", "din_barcode", "product_code_barcode", "compound", "product_code", "product_name"}
)
PURPOSES = {
    p.name: p
    for p in (
        Purpose(
            "final_product",
            "bag",
            BAG_FIELDS,
            _BAG_IDENTITY
            | {
                "expiry_barcode",
                "expiry",
                "volume",
                "cell_dose",
                "lot_number",
                "establishment_name",
                "establishment_address",
                "eligibility_warnings",
                "biohazard",
                "release_statement",
            },
            (CAUTION_STATEMENT, DO_NOT_IRRADIATE),
        ),
        Purpose(
            "quarantine_product",
            "bag",
            BAG_FIELDS,
            _BAG_IDENTITY | {"lot_number", "eligibility_warnings", "biohazard"},
            (QUARANTINE_STATEMENT, DO_NOT_IRRADIATE),
            largest_statement=QUARANTINE_STATEMENT,
        ),
        Purpose(
            "collection",
            "donation",
            COLLECTION_FIELDS,
            frozenset(
                {"din", "din_barcode", "collection_barcode", "compound", "collected"}
                | {"eligibility_warnings", "biohazard"}
            ),
        ),
        Purpose(
            "tie_tag",
            "allocation",
            TIE_TAG_FIELDS,
            frozenset(
                {"din", "din_barcode", "recipient_name", "subject_id", "birth_date"}
                | {"infusion_number", "product_code"}
            ),
        ),
        Purpose(
            "shipper",
            "shipment",
            SHIPPER_FIELDS,
            frozenset({"shipment_barcode", "shipment_code", "destination_site", "bag_count"}),
            (DO_NOT_IRRADIATE,),
        ),
        Purpose(
            "storage_position",
            "location",
            LOCATION_FIELDS,
            frozenset({"location_barcode", "code"}),
        ),
    )
}
