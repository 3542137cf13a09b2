"""A bag as a FHIR R5 BiologicallyDerivedProduct (DOMAIN.md §7).

What the bag's label and record say, in FHIR's words: the DIN as biologicalSourceEvent, the
product code and division, the expiry, the storage temperature, the bag it was divided from,
and its cell counts, volume, dose level and lot disposition as properties. The values come from
the same read model the bags API answers with (`bags.queries.bag_summary`), so the two never
disagree.
"""

from __future__ import annotations

from typing import Any

from custody.domain import bag_lifecycle
from custody.domain.bag_lifecycle import BagSituation
from custody.models import Bag, Lot
from custody.models.base import utcnow
from custody.services.bags.lookup import bag_by_code, situation
from custody.services.bags.queries import bag_summary, lot_determinations
from custody.services.bags.shipping import DEFAULT_STORAGE_LIMIT_C
from custody.services.bags.thawing import thaw_of
from custody.services.core.facility import establishment, product_name
from custody.services.traceability import fhir

# The states between QA's release and the infusion: a bag in one of them may reach a patient.
CLINICAL_STATES = frozenset(
    {
        bag_lifecycle.RELEASED,
        bag_lifecycle.ALLOCATED,
        bag_lifecycle.SHIPPED,
        bag_lifecycle.RECEIVED,
        bag_lifecycle.THAWED,
        bag_lifecycle.VERIFIED,
    }
)
THAWED_STATES = frozenset({bag_lifecycle.THAWED, bag_lifecycle.VERIFIED})
PROPERTY_SYSTEM = "product-property"


def product_resource(code: str) -> dict[str, Any]:
    """The bag `code` as a BiologicallyDerivedProduct; NotFound for a code no bag carries."""
    bag = bag_by_code(code)
    summary = bag_summary(bag, None, lot_determinations({bag.lot_id})[bag.lot_id])
    now = situation(bag)
    return fhir.compact(
        {
            "resourceType": "BiologicallyDerivedProduct",
            "id": bag.code,
            "productCategory": fhir.coding(fhir.PRODUCT_CATEGORY_SYSTEM, "cells", "Cells"),
            "productCode": _product_code(bag),
            "parent": [fhir.product_reference(bag.parent)] if bag.parent else None,
            "identifier": [{"system": fhir.own_identifier_system("bag"), "value": bag.code}],
            "biologicalSourceEvent": {"system": fhir.DIN_SYSTEM, "value": summary["din"]},
            "processingFacility": [{"display": establishment()[0]}],
            "division": summary["division"],
            "productStatus": _status_coding(product_status(bag, now)),
            "expirationDate": fhir.date_time(summary["expires_at"]),
            "collection": _collection(bag.lot),
            "storageTempRequirements": {
                "high": fhir.quantity(DEFAULT_STORAGE_LIMIT_C, "°C", "Cel")
            },
            "property": properties(summary, now),
        }
    )


def product_status(bag: Bag, now: BagSituation) -> str:
    """`available` while the bag may still reach a patient, else `unavailable`.

    Available: released for clinical use and not yet infused (released, allocated, shipped,
    received, thawed or verified), its lot released or conditionally released by QA, in
    date, under no recall, and, once thawed, inside its post-thaw window. Everything else is
    unavailable: a bag waiting for release in quarantine or storage, infused, discarded,
    rejected, returned (it goes back to quarantine first), expired or recalled.
    """
    usable = (
        now.status in CLINICAL_STATES
        and now.lot_disposition in bag_lifecycle.RELEASED_DISPOSITIONS
        and not now.expired
        and not now.recall
    )
    if usable and now.status in THAWED_STATES:
        thaw = thaw_of(bag)
        usable = thaw is not None and thaw.use_by is not None and thaw.use_by > utcnow()
    return "available" if usable else "unavailable"


def _status_coding(status: str) -> dict[str, Any]:
    return fhir.coding(fhir.PRODUCT_STATUS_SYSTEM, status, status.title())


def _product_code(bag: Bag) -> dict[str, Any]:
    """The facility's ISBT 128 product description code (αoooo) and, in the tracker's own
    system, the full eight-character product code the label carries (with collection type
    and division)."""
    return {
        "coding": [
            fhir.coding(fhir.PRODUCT_DESCRIPTION_CODE_SYSTEM, bag.lot.product_description_code),
            fhir.coding(fhir.own_code_system("product-code"), bag.product_code, product_name()),
        ],
        "text": product_name(),
    }


def _collection(lot: Lot) -> dict[str, Any] | None:
    """When the cells were collected, and from which donor when the lot has one donation."""
    donations = sorted(lot.donations, key=lambda d: d.collected_at)
    if not donations:
        return None
    if len(donations) == 1:
        donor = donations[0].donor
        return {
            "source": {
                "type": "Patient",
                "identifier": {
                    "system": fhir.own_identifier_system("donor"),
                    "value": donor.donor_code,
                },
                "display": f"Donor {donor.donor_code}",
            },
            "collectedDateTime": fhir.date_time(donations[0].collected_at),
        }
    return {
        "collectedPeriod": {
            "start": fhir.date_time(donations[0].collected_at),
            "end": fhir.date_time(donations[-1].collected_at),
        }
    }


def properties(summary: dict[str, Any], now: BagSituation) -> list[dict[str, Any]]:
    """The bag's properties, each typed by a code of the tracker's product-property system."""
    found = [
        _property(
            "viable-car-nk-cells", "Viable CAR+ NK cells", _cells(summary["viable_car_nk_cells"])
        ),
        _property("total-cells", "Total cells", _cells(summary["total_cells"])),
        _property(
            "volume", "Volume", {"valueQuantity": fhir.quantity(summary["volume_ml"], "mL", "mL")}
        ),
        _property("lot-number", "Lot number", {"valueString": summary["lot"]}),
        _property(
            "lot-disposition",
            "Lot disposition",
            {"valueCodeableConcept": fhir.own_concept("lot-disposition", summary["lot_status"])},
        ),
        _property(
            "custody-state",
            "Custody state",
            {"valueCodeableConcept": fhir.own_concept("bag-state", summary["status"])},
        ),
        _property(
            "donor-eligibility",
            "Donor eligibility",
            {
                "valueCodeableConcept": fhir.own_concept(
                    "donor-eligibility", summary["donor_eligibility"]
                )
            },
        ),
        _property("do-not-irradiate", "Do not irradiate", {"valueBoolean": True}),
    ]
    if summary["dose_level"]:
        found.append(_property("dose-level", "Dose level", {"valueString": summary["dose_level"]}))
    for statement in summary["warnings"]:
        found.append(
            _property("eligibility-statement", "Label statement", {"valueString": statement})
        )
    if now.recall:
        found.append(_property("recall", "Under recall", {"valueString": now.recall}))
    return found


def _cells(count: float) -> dict[str, Any]:
    """A cell count in UCUM: the annotation {cells} is a unit of one."""
    return {"valueQuantity": fhir.quantity(count, "cells", "{cells}")}


def _property(code: str, display: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"type": fhir.own_concept(PROPERTY_SYSTEM, code, display)} | value
