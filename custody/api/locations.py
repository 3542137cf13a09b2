"""The storage tree: sites, freezers, racks, boxes, positions, and their barcode labels."""

from custody.api.labels import label_response
from custody.api.parsing import ApiBlueprint
from custody.auth import api_user, requires
from custody.domain.permissions import UseCase
from custody.schemas.locations import (
    LabelQuery,
    LocationDetailQuery,
    LocationIn,
    LocationListOut,
    LocationOut,
    LocationQuery,
)
from custody.services.bags.storage import (
    LocationRequest,
    create_location,
    list_locations,
    location_detail,
)
from custody.services.labelling import jobs

PREFIX = "/locations"
blp = ApiBlueprint(
    "locations", __name__, description="The storage tree: sites, freezers, racks, boxes, positions"
)


@blp.get("")
@requires(UseCase.READ_RECORDS)
@blp.arguments(LocationQuery, location="query")
@blp.response(200, LocationListOut)
def index(query):
    """Storage locations, filtered by parent and kind.

    Each comes with its path; a position also with the bag it holds."""
    return {"items": list_locations(**query)}


@blp.post("")
@requires(UseCase.CREATE_LOCATION)
@blp.arguments(LocationIn)
@blp.response(201, LocationOut)
def create(body):
    """Create a storage location (technician or admin).

    It goes under a parent of the kind above it: site → freezer → rack → box → position. The
    code is made from the parent's when left out. A box may bring its positions (`positions`:
    N) in the same call."""
    location = create_location(api_user(), LocationRequest(**body))
    return location_detail(location.code)


@blp.get("/<code>")
@requires(UseCase.READ_RECORDS)
@blp.arguments(LocationDetailQuery, location="query")
@blp.response(200, LocationOut)
def show(query, code):
    """One storage location with its path and children.

    `depth` levels of children are included; each position says which bag it holds."""
    return location_detail(code, **query)


@blp.get("/<code>/label.pdf")
@requires(UseCase.PRINT_LABELS)
@blp.arguments(LabelQuery, location="query")
@blp.response(
    200,
    {"type": "string", "format": "binary"},
    content_type="application/pdf",
    description="The location's barcode label (50 × 25 mm; wider for a long code)",
)
def label(query, code):
    """The location's barcode label as PDF, from the approved storage-position template.

    A Code 128 barcode of its code, the code in print, its name and its path. With
    `children=true`, its children's labels follow, one per page (a box and all its positions
    in one print). Each label is recorded as issued, like every other label."""
    labels = jobs.location_labels(api_user(), code, query["children"])
    return label_response(labels, "pdf", labels[0].subject_key)
