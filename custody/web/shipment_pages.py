"""Shipment pages: the list, the form that creates one, and each shipment's page, where the lab
packs it by scanning and hands it to the courier, and the site imports the logger file,
scans the bags in, records and resolves discrepancies and completes the receipt.

Every write goes through the JSON API from `static/js/shipment.js` and `shipment_new.js`, so
a page and a scripted client meet the same rules and words. What a page offers is the answer
of `shipment_offers` (role and shipment state, from their one home each); the part of the page
that scans change (manifest, reconciliation, the actions they unblock) is one template the
page's script fetches again after each scan.
"""

import re

from flask import Blueprint, render_template, request

from custody.auth import may, page_requires
from custody.config import settings
from custody.domain.errors import NotFound
from custody.domain.permissions import UseCase, role_names, roles_for
from custody.domain.shipment_discrepancies import OUTCOME_WORDS
from custody.models import ShipmentStatus
from custody.services.bags import shipment_queries
from custody.services.bags.handoff_signature import HANDOFF_MEANING
from custody.services.bags.lookup import shipment_by_code
from custody.services.bags.shipping import DEFAULT_STORAGE_LIMIT_C
from custody.web.shipment_offers import offers, resolution_offer
from custody.web.temperature_chart import build_chart

bp = Blueprint("shipping", __name__, template_folder="../templates")

SHIPMENT_CODE = re.compile(r"[A-Z0-9][A-Z0-9-]{0,39}")
# Beyond this many readings the data table points to the API instead of filling the page.
MAX_TABLE_READINGS = 2000
# The list shows the newest shipments; older ones are found by search or the API's pages.
MAX_LISTED = 200
STATUS_WORDS = {s.value: s.value.replace("_", " ") for s in ShipmentStatus}


@bp.get("/shipments")
@page_requires(UseCase.READ_RECORDS)
def shipments_page():
    """Shipments, newest first, filtered by status; the way to create one for the lab."""
    status = request.args.get("status", "")
    problem = None
    if status and status not in STATUS_WORDS:
        problem = f"There is no shipment status {status[:40]!r}: showing every shipment."
        status = ""
    rows = shipment_queries.list_shipments(status or None, limit=MAX_LISTED)
    return render_template(
        "shipping/shipments.html",
        rows=rows,
        status=status,
        statuses=STATUS_WORDS,
        problem=problem,
        can_create=may(UseCase.CREATE_SHIPMENT),
        create_refusal=_only(UseCase.CREATE_SHIPMENT, "create a shipment"),
        max_listed=MAX_LISTED,
    )


@bp.get("/shipments/new")
@page_requires(UseCase.CREATE_SHIPMENT)
def new_shipment_page():
    """The form that creates a shipment; the new shipment's page opens once it is saved."""
    return render_template(
        "shipping/new_shipment.html",
        default_limit=DEFAULT_STORAGE_LIMIT_C,
        destinations=shipment_queries.known_destinations(),
    )


@bp.get("/shipments/<code>")
@page_requires(UseCase.READ_RECORDS)
def shipment(code: str):
    """The shipment's facts, the work its status calls for, its manifest, discrepancies and
    logger chart, for any signed-in role (each action only for those who may)."""
    context = _context(code)
    report = context["report"]
    chart = build_chart(
        report["readings"], report["storage_limit_c"], report["excursions"], report["gaps"]
    )
    return render_template(
        "shipping/shipment.html",
        chart=chart,
        max_table_readings=MAX_TABLE_READINGS,
        pair_seconds=settings().scan_pair_seconds,
        scan_suffix=settings().scan_suffix,
        **context,
    )


@bp.get("/shipments/<code>/live")
@page_requires(UseCase.READ_RECORDS)
def shipment_live(code: str):
    """The part of the shipment page that scans change, for the page's script to swap in."""
    return render_template("shipping/_live.html", **_context(code))


def _context(code: str) -> dict:
    code = code.upper()
    if not SHIPMENT_CODE.fullmatch(code):
        raise NotFound(f"No shipment {code[:40]!r} is known here.", shipment=code[:40])
    detail = shipment_queries.shipment_detail(code)
    shipment = detail["shipment"]
    return {
        "d": detail,
        "s": shipment,
        "report": detail["temperatures"],
        "offers": offers(shipment),
        "discrepancies": _discrepancies(shipment, detail["discrepancies"]),
        "outcome_words": {o.value: w for o, w in OUTCOME_WORDS.items()},
        "handoff_meaning": HANDOFF_MEANING,
    }


def _discrepancies(shipment, lines: list[dict]) -> list[dict]:
    """Each discrepancy's line with its resolve form's offer; open ones first."""
    records = sorted(shipment_by_code(shipment.code).discrepancies, key=lambda r: r.id)
    views = [line | resolution_offer(record) for line, record in zip(lines, records, strict=True)]
    return sorted(views, key=lambda v: v["resolution"] is not None)


def _only(use_case: UseCase, doing: str) -> str:
    return f"Only {role_names(roles_for(use_case))} may {doing}."
