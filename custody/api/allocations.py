"""Allocating released bags to recipients, de-allocation and the dose checks."""

from custody.api.parsing import ApiBlueprint
from custody.auth import api_user, requires
from custody.domain.permissions import UseCase
from custody.schemas.allocations import (
    AllocationIn,
    AllocationListOut,
    AllocationOut,
    AllocationQuery,
    AllocationResultOut,
    DeallocationIn,
)
from custody.services.clinic.allocation import (
    AllocationRequest,
    allocate,
    allocation_item,
    allocation_outcome,
    allocations_of,
    deallocate,
)

PREFIX = "/allocations"
blp = ApiBlueprint(
    "allocations",
    __name__,
    description="Allocating released bags to recipients, de-allocation and the dose checks",
)


@blp.post("")
@requires(UseCase.ALLOCATE)
@blp.arguments(AllocationIn)
@blp.response(201, AllocationResultOut)
def create(body):
    """Allocate the scanned bags to the recipient's infusion 1 or 2. The bags are taken whole
    in scan order; if the whole set would exceed the dose level's tolerance, the last is given
    in part (rounded down to 0.1 mL). Refused, with the numbers, when the dose is too low, a
    bag is not needed, the residual CD3+ T cells per kg exceed the specification, or a bag or
    the recipient is not at the right step. Print each bag's tie-tag from `tie_tag_pdf`."""
    allocations = allocate(api_user(), AllocationRequest(**body))
    return allocation_outcome(allocations)


@blp.post("/<bag_code>/deallocation")
@requires(UseCase.DEALLOCATE)
@blp.arguments(DeallocationIn)
@blp.response(200, AllocationOut)
def end(body, bag_code):
    """End the bag's active allocation, with a reason; its tie-tag is voided. An infused bag
    cannot be de-allocated."""
    return allocation_item(deallocate(api_user(), bag_code, body["reason"]))


@blp.get("")
@requires(UseCase.READ_RECORDS)
@blp.arguments(AllocationQuery, location="query")
@blp.response(200, AllocationListOut)
def listing(query):
    """A recipient's allocations, newest first; `active=true` for those in force only."""
    items = allocations_of(query["recipient"], query["active"])
    return {"items": [allocation_item(a) for a in items]}
