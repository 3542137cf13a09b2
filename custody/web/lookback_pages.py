"""The lookback page (`GET /lookback`): from a donor, DIN, lot or reagent lot forward to every
bag and recipient reached, and from a recipient back to everything behind them.

The same starting points, under the same names, as `GET /api/v1/lookback` (`?din=`, `?lot=`,
…), answered by the same service; every donor, DIN, lot and recipient on the page links to its
own lookback, so QA walks back and forth without typing. Only the roles the permissions table
allows look back: the answer names recipients.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from custody.auth import may, page_requires
from custody.domain.errors import DomainError
from custody.domain.permissions import UseCase
from custody.services.traceability.lookback import SCOPE_WORDS, SCOPES, lookback, starting_point
from custody.web.local_time import moment, site_zone

bp = Blueprint("qa_lookback", __name__, template_folder="../templates")

# A starting point is a short identifier; a longer query is cut, never echoed whole.
MAX_VALUE = 100
FIELD_LABELS = {
    "donor": "Donor code",
    "din": "DIN (scan or type)",
    "lot": "Lot number",
    "reagent_lot": "Reagent or vector lot",
    "recipient": "Recipient (subject ID)",
}


@bp.get("/lookback")
@page_requires(UseCase.LOOKBACK)
def lookback_page():
    given = {scope: request.args.get(scope, "").strip()[:MAX_VALUE] for scope in SCOPES}
    asked = {scope: value for scope, value in given.items() if value}
    answer, problem, status = None, None, 200
    if asked:
        try:
            answer = _shown(lookback(*starting_point(asked)))
        except DomainError as refused:
            problem, status = refused.message, refused.http_status
    page = render_template(
        "lookback/lookback.html",
        given=given,
        fields=[(scope, FIELD_LABELS[scope]) for scope in SCOPES],
        scope_words=SCOPE_WORDS,
        answer=answer,
        problem=problem,
        links={"bags": may(UseCase.READ_RECORDS), "recipients": may(UseCase.READ_RECIPIENTS)},
    )
    return page, status


def _shown(answer: dict[str, Any]) -> dict[str, Any]:
    """The service's answer with its moments in the site's time, zone named."""
    zone = site_zone()
    return {
        **answer,
        "donations": [
            {**d, "collected": moment(d["collected_at"], zone)} for d in answer["donations"]
        ],
        "allocations": [
            {
                **a,
                "allocated": moment(a["allocated_at"], zone),
                "ended": moment(a["ended_at"], zone),
            }
            for a in answer["allocations"]
        ],
        "infusions": [
            {**i, "started": moment(i["started_at"], zone), "ended": moment(i["ended_at"], zone)}
            for i in answer["infusions"]
        ],
    }
