"""Bags: the list with filters, and one bag with its custody history."""

from custody.api.parsing import ApiBlueprint
from custody.auth import require_role
from custody.schemas.bags import BagDetailOut, BagListOut, BagQuery
from custody.services.bag_queries import bag_detail, list_bags

PREFIX = "/bags"
blp = ApiBlueprint("bags", __name__, description="Bags of final product and their custody")


@blp.get("")
@require_role()
@blp.arguments(BagQuery, location="query")
@blp.response(200, BagListOut)
def index(query):
    return {"items": list_bags(**query)}


@blp.get("/<code>")
@require_role()
@blp.response(200, BagDetailOut)
def show(code):
    return bag_detail(code)
