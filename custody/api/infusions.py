"""Infusion records: started after a passed bedside verification, then completed."""

from custody.api.parsing import ApiBlueprint
from custody.auth import api_user, requires
from custody.domain.permissions import UseCase
from custody.schemas.bedside import (
    CompletionIn,
    InfusionIn,
    InfusionListOut,
    InfusionOut,
    InfusionQuery,
)
from custody.services.clinic.infusions import (
    complete_infusion,
    list_infusions,
    start_infusion,
)

PREFIX = "/infusions"
blp = ApiBlueprint("infusions", __name__, description="Infusion records")


@blp.get("")
@requires(UseCase.READ_RECORDS)
@blp.arguments(InfusionQuery, location="query")
@blp.response(200, InfusionListOut)
def index(query):
    """Infusions: a recipient's first to last, or everyone's newest first; `in_progress=true`
    for those started and not yet ended (`ended_at` null)."""
    return {"items": list_infusions(query.get("recipient"), query.get("in_progress"))}


@blp.post("")
@requires(UseCase.START_INFUSION)
@blp.arguments(InfusionIn)
@blp.response(201, InfusionOut)
def start(body):
    """Start the infusion that follows a passed bedside verification (its `uid`). The
    verification must be the bag's newest passed one, unused and recent (a site setting,
    30 minutes by default), and the post-thaw window open. Infusion 1 sets the recipient's
    day 0. 409 when the bag was infused already or the verification no longer holds."""
    return start_infusion(
        api_user(),
        body["verification"],
        started_at=body.get("started_at"),
        volume_ml=body.get("volume_ml"),
        reactions=body["reactions"],
    )


@blp.post("/<bag_code>/completion")
@requires(UseCase.COMPLETE_INFUSION)
@blp.arguments(CompletionIn)
@blp.response(200, InfusionOut)
def complete(body, bag_code):
    """Record the end of the bag's infusion: when, the volume given and any reactions, and
    `interruption_reason` when it was stopped before the bag was empty. Never refused because
    of what changed since the start (a recall, a withdrawn release)."""
    return complete_infusion(
        api_user(),
        bag_code,
        body.get("ended_at"),
        body["volume_ml"],
        body["reactions"],
        body.get("interruption_reason"),
    )
