"""FHIR R5 vocabulary shared by the product and dispense exports: systems, codings, references.

The export is plain dicts in FHIR's JSON shape, so the runtime needs no FHIR library; the tests
validate every answer against the R5 definitions. Where HL7 or ICCBBA publish a code system or
identifier URI, it is used as published (the source is named beside each). What no public
terminology covers (the bag's properties, its custody state, the lot's disposition, the bag
code, the trial's subject IDs, user names) gets the tracker's own systems under one base URI,
CUSTODY_FHIR_SYSTEM_BASE. Like the FIN, the default is a placeholder: a site that hands these
resources to an EHR sets a URI it controls, once, and keeps it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from custody.config import settings
from custody.models import Bag, User
from custody.services.core.facility import product_name

FHIR_JSON = "application/fhir+json"

# ICCBBA's URIs (DOMAIN.md §7; HL7's MPHO profile in the Orders and Observations incubator
# uses the same ones for biologicalSourceEvent and productCode).
DIN_SYSTEM = "https://www.isbt128.org/uri/DonationIdentificationNumber"
PRODUCT_DESCRIPTION_CODE_SYSTEM = "https://www.isbt128.org/uri/ProductDescriptionCode"
# FHIR R5 (5.0.0) code systems bound to the two resources.
PRODUCT_CATEGORY_SYSTEM = "http://hl7.org/fhir/product-category"
PRODUCT_STATUS_SYSTEM = "http://hl7.org/fhir/biologicallyderived-product-status"
ORIGIN_RELATIONSHIP_SYSTEM = (
    "http://hl7.org/fhir/CodeSystem/biologicallyderivedproductdispense-origin-relationship"
)
# HL7 v3 participation types: VRF "verifier" names who verified a service.
PARTICIPATION_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
UCUM = "http://unitsofmeasure.org"


def system_base() -> str:
    return settings().fhir_system_base


def own_code_system(name: str) -> str:
    """The tracker's code system `name`, e.g. …/CodeSystem/product-property."""
    return f"{system_base()}/CodeSystem/{name}"


def own_identifier_system(name: str) -> str:
    """The tracker's identifier namespace `name`, e.g. …/identifier/subject."""
    return f"{system_base()}/identifier/{name}"


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    return compact({"system": system, "code": code, "display": display})


def concept(
    system: str, code: str, display: str | None = None, text: str | None = None
) -> dict[str, Any]:
    """A CodeableConcept of one coding."""
    return compact({"coding": [coding(system, code, display)], "text": text})


def own_concept(code_system: str, code: str, display: str | None = None) -> dict[str, Any]:
    """A CodeableConcept from one of the tracker's own code systems."""
    return concept(own_code_system(code_system), code, display)


def quantity(value: float, unit: str, ucum_code: str) -> dict[str, Any]:
    """A UCUM quantity: `unit` is what people read, `ucum_code` what machines compare."""
    return {"value": value, "unit": unit, "system": UCUM, "code": ucum_code}


def date_time(moment: datetime | None) -> str | None:
    """A FHIR dateTime: ISO 8601 with its UTC offset (stored times are timezone-aware UTC)."""
    return moment.isoformat() if moment is not None else None


def practitioner(user: User) -> dict[str, Any]:
    """A logical reference to a member of staff: Practitioner resources are not served, so
    the reference carries the user name as its identifier and the full name to read."""
    return {
        "type": "Practitioner",
        "identifier": {"system": own_identifier_system("user"), "value": user.username},
        "display": user.full_name,
    }


def product_reference(bag: Bag) -> dict[str, Any]:
    """A relative reference that resolves through GET …/fhir/BiologicallyDerivedProduct/<code>."""
    return {
        "reference": f"BiologicallyDerivedProduct/{bag.code}",
        "display": f"{product_name()} {bag.code}",
    }


def compact(value: Any) -> Any:
    """FHIR JSON carries no nulls and no empty arrays or objects: drop them, at every depth."""
    if isinstance(value, dict):
        pruned = {k: compact(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v is not None and v != [] and v != {}}
    if isinstance(value, list):
        pruned = [compact(v) for v in value]
        return [v for v in pruned if v is not None and v != [] and v != {}]
    return value
