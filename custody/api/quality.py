"""QA's work list: lots awaiting review, and quality alerts that reach recipients."""

from custody.api.parsing import ApiBlueprint
from custody.auth import api_user, requires
from custody.domain.permissions import UseCase
from custody.schemas.quality import AcknowledgementIn, AlertListOut, AlertOut, AlertQuery, QueueOut
from custody.services.quality.alerts import acknowledge_alert, list_alerts
from custody.services.quality.queries import review_queue

PREFIX = "/quality"
blp = ApiBlueprint("quality", __name__, description="QA review queue and quality alerts")


@blp.get("/queue")
@requires(UseCase.READ_RECORDS)
@blp.response(200, QueueOut)
def queue():
    """Lots waiting for QA: in quarantine with bags, or conditionally released with the
    awaited results in. Lots ready for release come first."""
    return {"items": review_queue()}


@blp.get("/alerts")
@requires(UseCase.READ_RECORDS)
@blp.arguments(AlertQuery, location="query")
@blp.response(200, AlertListOut)
def alerts(query):
    """Quality alerts, newest first, each with every bag and recipient affected."""
    return {"items": list_alerts(open_only=query["open"])}


@blp.post("/alerts/<alert>/acknowledgement")
@requires(UseCase.ACKNOWLEDGE_ALERT)
@blp.arguments(AcknowledgementIn)
@blp.response(201, AlertOut)
def acknowledge(body, alert):
    """QA records what was done (e.g. treating physicians informed)."""
    return acknowledge_alert(api_user(), alert, body["note"])
