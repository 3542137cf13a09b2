"""Release specifications: versions per product, drafted and approved by QA's signature."""

from custody.api.parsing import ApiBlueprint
from custody.auth import api_user, requires
from custody.config import settings
from custody.domain.permissions import UseCase
from custody.domain.release_rules import Criterion
from custody.schemas.quality import (
    SignatureIn,
    SpecificationIn,
    SpecificationListOut,
    SpecificationOut,
    SpecificationQuery,
)
from custody.services.quality.specifications import (
    SpecificationRequest,
    approve_specification,
    create_specification,
    list_specifications,
    specification_detail,
)

PREFIX = "/specifications"
blp = ApiBlueprint("specifications", __name__, description="Release specifications")


@blp.get("")
@requires(UseCase.READ_RECORDS)
@blp.arguments(SpecificationQuery, location="query")
@blp.response(200, SpecificationListOut)
def index(query):
    return {"items": list_specifications(query.get("product"))}


@blp.post("")
@requires(UseCase.DRAFT_SPECIFICATION)
@blp.arguments(SpecificationIn)
@blp.response(201, SpecificationOut)
def create(body):
    """Draft the next version of a product's specification. It applies to lots made after
    QA approves it; lots made before keep the version they were made under."""
    pdc = body.get("product_description_code") or settings().product_description_code
    tests = [
        Criterion(**{**t, "allowed_values": tuple(t["allowed_values"])}) for t in body["tests"]
    ]
    spec = create_specification(api_user(), SpecificationRequest(pdc, tests, body["notes"]))
    return specification_detail(spec.product_description_code, spec.version)


@blp.get("/<product>/<int:version>")
@requires(UseCase.READ_RECORDS)
@blp.response(200, SpecificationOut)
def show(product, version):
    return specification_detail(product, version)


@blp.post("/<product>/<int:version>/approval")
@requires(UseCase.APPROVE_SPECIFICATION)
@blp.arguments(SignatureIn)
@blp.response(201, SpecificationOut)
def approve(body, product, version):
    """Approve a draft by electronic signature (meaning "Approved specification"); the
    version approved before it is retired for new lots."""
    approve_specification(api_user(), product, version, body["username"], body["password"])
    return specification_detail(product, version)
