"""Manufacturing lots: disposition, donor DINs, bags; one lot with genealogy and batch record."""

from custody.api.parsing import ApiBlueprint
from custody.auth import require_role
from custody.schemas.bags import LotDetailOut, LotListOut, LotQuery
from custody.services.bag_queries import list_lots, lot_detail

PREFIX = "/lots"
blp = ApiBlueprint("lots", __name__, description="Manufacturing lots")


@blp.get("")
@require_role()
@blp.arguments(LotQuery, location="query")
@blp.response(200, LotListOut)
def index(query):
    return {"items": list_lots(**query)}


@blp.get("/<lot>")
@require_role()
@blp.response(200, LotDetailOut)
def show(lot):
    return lot_detail(lot)
