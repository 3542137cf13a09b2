"""FHIR R5 export: a bag as BiologicallyDerivedProduct, infusions as ...Dispense resources.

Answers are FHIR JSON (`application/fhir+json`) that an EHR can take as they are; errors keep
the project's envelope. The dispenses name the recipient, so only QA, nurses and admins may
search them; any signed-in role may read a bag.
"""

from __future__ import annotations

import json

from flask import Response, request, url_for

from custody.api.parsing import ApiBlueprint
from custody.auth import requires
from custody.domain.permissions import UseCase
from custody.schemas.fhir import DispenseSearchQuery, resource_document
from custody.services.traceability.fhir import FHIR_JSON
from custody.services.traceability.fhir_dispense import dispense_bundle, dispense_of_bag
from custody.services.traceability.fhir_product import product_resource

PREFIX = "/fhir"
blp = ApiBlueprint(
    "fhir",
    __name__,
    description="FHIR R5 export: BiologicallyDerivedProduct and BiologicallyDerivedProductDispense",
)


def _documented(resource_type: str, description: str):
    return blp.response(
        200,
        resource_document(resource_type, description),
        content_type=FHIR_JSON,
        description=description,
    )


def fhir_response(resource: dict) -> Response:
    body = json.dumps(resource, ensure_ascii=False)
    return Response(body, content_type=f"{FHIR_JSON}; charset=utf-8")


@blp.get("/BiologicallyDerivedProduct/<code>")
@requires(UseCase.READ_RECORDS)
@_documented("BiologicallyDerivedProduct", "The bag as a BiologicallyDerivedProduct")
def product(code):
    """The bag as a FHIR R5 BiologicallyDerivedProduct.

    `code` is the bag's code (DIN-product code). productCategory `cells`; productCode (the
    facility's ISBT 128 product description code and the full product code); identifier (the
    bag code); biologicalSourceEvent (the DIN, system
    `https://www.isbt128.org/uri/DonationIdentificationNumber`); division; expirationDate;
    storageTempRequirements; parent (the bag it was divided from); collection (donor and time);
    productStatus `available` while the bag may still reach a patient (released, in date,
    under no recall, inside its post-thaw window), else `unavailable`; and properties: viable
    CAR+ NK cells, total cells, volume, lot number and disposition, custody state, donor
    eligibility and its label statements, dose level, any recall. Any signed-in role; 404 for
    an unknown bag."""
    return fhir_response(product_resource(code))


@blp.get("/BiologicallyDerivedProductDispense")
@requires(UseCase.EXPORT_FHIR_DISPENSES)
@blp.arguments(DispenseSearchQuery, location="query")
@_documented("Bundle", "A searchset Bundle of the recipient's infusions")
def dispense_search(query):
    """A recipient's infusions as a FHIR R5 searchset Bundle of dispenses.

    `patient` is the recipient's trial subject ID. The Bundle holds one
    BiologicallyDerivedProductDispense per infusion, first infusion first. Each dispense:
    status `issued` (the product was handed over, whether the infusion is running or has
    ended); originRelationshipType `allogeneic`; product (a reference that resolves through
    this API); patient (a logical reference: the subject ID as identifier); performer (the two
    bedside verifiers); quantity (mL infused, once recorded); preparedDate (allocation);
    whenHandedOver (infusion start); a note on the infusion's course. A recipient not yet
    infused gets `total` 0. 404 for an unknown recipient, 422 without `patient`; QA, nurses
    and admins only (the answer names the recipient)."""
    bundle = dispense_bundle(query["patient"], _fhir_base(), request.url)
    return fhir_response(bundle)


@blp.get("/BiologicallyDerivedProductDispense/<code>")
@requires(UseCase.EXPORT_FHIR_DISPENSES)
@_documented("BiologicallyDerivedProductDispense", "The infusion of the bag as a dispense")
def dispense(code):
    """A bag's infusion as a FHIR R5 BiologicallyDerivedProductDispense.

    What a search bundle's entry fullUrl points to; `code` is the infused bag's code (a bag is
    infused once). QA, nurses and admins only; 404 for an unknown or uninfused bag."""
    return fhir_response(dispense_of_bag(code))


def _fhir_base() -> str:
    """The absolute base of this FHIR API (…/api/v1/fhir), wherever the app is mounted."""
    return url_for("fhir.dispense_search", _external=True).rsplit("/", 1)[0]
