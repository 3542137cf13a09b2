"""The lab lead's overview page: lots, bags, infusions coming up, excursions, open items.

Rendered on the server from `services.traceability.overview.overview`, the read model `GET
/api/v1/overview` answers with, so the page and a scripted client see the same numbers. The
charts are inline SVG measured by `bar_chart`; each has its numbers in a table beside it. Every
item links to the page where it is dealt with (lot, bag, shipment, recipient). Recipients are
shown as the signed-in role may see them: a technician sees subject IDs only.
"""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from custody.auth import page_requires
from custody.domain.permissions import UseCase, recipient_as_seen_by
from custody.services.traceability.overview import RECENT_DAYS, UPCOMING_DAYS, overview
from custody.web.bar_chart import BAG_STATES, DISPOSITIONS, bar_chart, stacked_bar_chart
from custody.web.local_time import moment, site_zone

bp = Blueprint("lab_overview", __name__, template_folder="../templates")

# Rows of a list shown on the page; the API returns them all.
MAX_ROWS = 50
# The lots chart shares its card with its table: narrower, so its words stay legible.
LOTS_CHART_WIDTH = 480


@bp.get("/overview")
@page_requires(UseCase.READ_OVERVIEW)
def overview_page():
    data = overview()
    data["upcoming_infusions"] = [
        recipient_as_seen_by(current_user.role, row) for row in data["upcoming_infusions"]
    ]
    lots, bags = data["lots"], data["bags"]
    zone = site_zone()
    return render_template(
        "overview/page.html",
        o=data,
        moment=lambda value: moment(value, zone),
        lots_chart=bar_chart(
            {row["disposition"]: row["count"] for row in lots["by_disposition"]},
            DISPOSITIONS,
            width=LOTS_CHART_WIDTH,
        ),
        bags_chart=stacked_bar_chart(
            [(row["site"], row["counts"]) for row in bags["sites"]], BAG_STATES
        )
        if bags["sites"]
        else None,
        dispositions={s.key: s for s in DISPOSITIONS},
        states=[s for s in BAG_STATES if bags["by_state"][s.key]],
        open_count=sum(len(items) for items in data["deviations"].values()),
        not_ready=sum(1 for row in data["upcoming_infusions"] if not row["ready"]),
        upcoming_days=UPCOMING_DAYS,
        recent_days=RECENT_DAYS,
        max_rows=MAX_ROWS,
    )
