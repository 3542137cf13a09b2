"""Manufacturing lots: disposition, donor DINs, bags; one lot with genealogy and batch record;
making a lot, recording its batch steps, filling its bags and dividing them."""

from custody.api.parsing import ApiBlueprint
from custody.auth import api_user, requires
from custody.config import settings
from custody.domain.permissions import UseCase
from custody.schemas.bags import LotDetailOut, LotListOut, LotQuery
from custody.schemas.collection import (
    FilledBagsOut,
    FillIn,
    LotIn,
    SplitIn,
    SplitOut,
    StepIn,
    StepOut,
)
from custody.services.bags.queries import bag_detail, list_lots, lot_detail, lot_determinations
from custody.services.bags.queries import bag_summary as _bag_summary
from custody.services.manufacturing.batch_record import (
    MaterialRequest,
    StepRequest,
    record_step,
    step_summary,
)
from custody.services.manufacturing.divisions import BagSpec, SplitRequest, fill_bags, split_bag
from custody.services.manufacturing.lots import LotRequest, create_lot
from custody.services.quality.queries import with_release, with_releases

PREFIX = "/lots"
blp = ApiBlueprint("lots", __name__, description="Manufacturing lots")


@blp.get("")
@requires(UseCase.READ_RECORDS)
@blp.arguments(LotQuery, location="query")
@blp.response(200, LotListOut)
def index(query):
    return {"items": with_releases(list_lots(**query))}


@blp.get("/<lot>")
@requires(UseCase.READ_RECORDS)
@blp.response(200, LotDetailOut)
def show(lot):
    """One lot with genealogy, batch record, and QA's latest signed decision (`release`:
    signature manifestation, whether it still holds, certificate number)."""
    return with_release(lot_detail(lot), check=True)


@blp.post("")
@requires(UseCase.MAKE_LOT)
@blp.arguments(LotIn)
@blp.response(201, LotDetailOut)
def create(body):
    """Make a lot from collections received at the lab, each in no other lot. One donation:
    the lot carries its DIN; several (pooled): a new DIN. The lot number is generated
    (L<yy>-<nnnn>) when not given."""
    body.setdefault("product_description_code", settings().product_description_code)
    lot = create_lot(api_user(), LotRequest(**body), settings().fin)
    return with_release(lot_detail(lot.lot_number))


@blp.post("/<lot>/steps")
@requires(UseCase.RECORD_BATCH_STEP)
@blp.arguments(StepIn)
@blp.response(201, StepOut)
def add_step(body, lot):
    """Record a batch-record step: operator, start/end, equipment, reagent and vector lots,
    observations; a deviation needs its reason."""
    materials = tuple(MaterialRequest(**m) for m in body.pop("materials"))
    return step_summary(record_step(api_user(), lot, StepRequest(**body, materials=materials)))


@blp.post("/<lot>/bags")
@requires(UseCase.FILL_BAGS)
@blp.arguments(FillIn)
@blp.response(201, FilledBagsOut)
def fill(body, lot):
    """Fill bags (state `filled`; scan 'quarantine' next). Each gets the lot's DIN and the
    next free division (A0, B0, ...)."""
    specs = body.get("bags") or [body["bag"]] * body["count"]
    bags = fill_bags(api_user(), lot, [BagSpec(**spec) for spec in specs])
    return {"items": _summaries(bags)}


@blp.post("/<lot>/bags/<code>/split")
@requires(UseCase.DIVIDE_BAG)
@blp.arguments(SplitIn)
@blp.response(201, SplitOut)
def split(body, lot, code):
    """Divide a bag (before release, out of storage) into second-level divisions
    (...VA0 into ...VAa, ...VAb); `code` is the bag code or its product code. The parent is
    discarded as "divided into ..."."""
    children = split_bag(api_user(), lot, code, SplitRequest(**body))
    return {"parent": bag_detail(children[0].parent.code), "children": _summaries(children)}


def _summaries(bags) -> list[dict]:
    determination = lot_determinations({bags[0].lot_id})[bags[0].lot_id]
    return [_bag_summary(bag, None, determination) for bag in bags]
