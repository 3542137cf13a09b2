"""Recall and quarantine: QA's signed order that blocks every bag behind a donor, DIN, lot or
reagent lot, lists the recipients already infused, and its signed lifting."""

from custody.api.parsing import ApiBlueprint
from custody.auth import api_user, requires
from custody.domain.permissions import UseCase
from custody.schemas.recalls import (
    LiftIn,
    RecallIn,
    RecallListQuery,
    RecallOut,
    RecallPreviewOut,
    RecallPreviewQuery,
    RecallsOut,
)
from custody.services.traceability import recalls
from custody.services.traceability.recalls import SignedRequest

PREFIX = "/recalls"
blp = ApiBlueprint("recalls", __name__, description="Recall and quarantine of product")


@blp.get("")
@requires(UseCase.READ_RECALLS)
@blp.arguments(RecallListQuery, location="query")
@blp.response(200, RecallsOut)
def index(query):
    """Recalls, newest first (`active=true` for those still blocking product)."""
    return {"items": recalls.list_recalls(active_only=query["active"])}


@blp.get("/preview")
@requires(UseCase.READ_RECALLS)
@blp.arguments(RecallPreviewQuery, location="query")
@blp.response(200, RecallPreviewOut)
def preview(query):
    """What a recall from this starting point would block and whom it reached; writes nothing."""
    return recalls.preview(query["scope"], query["value"])


@blp.post("")
@requires(UseCase.RAISE_RECALL)
@blp.arguments(RecallIn)
@blp.response(201, RecallOut)
def create(body):
    """Sign a recall (QA re-enters user ID and password). When this answers, every bag of the
    lots reached that is not yet infused is refused allocation, shipping and the bedside."""
    request = SignedRequest(body["reason"], body["username"], body["password"])
    return recalls.raise_recall(api_user(), body["scope"], body["value"], request)


@blp.get("/<code>")
@requires(UseCase.READ_RECALLS)
@blp.response(200, RecallOut)
def show(code):
    """The order as signed, each bag's state then and now, and the recipients reached."""
    return recalls.recall_detail(recalls.recall_by_code(code))


@blp.post("/<code>/lift")
@requires(UseCase.LIFT_RECALL)
@blp.arguments(LiftIn)
@blp.response(200, RecallOut)
def lift(body, code):
    """Sign the lifting of a recall, with its reason: the bags may go on again."""
    request = SignedRequest(body["reason"], body["username"], body["password"])
    return recalls.lift_recall(api_user(), code, request)
