"""Bags: the list with filters, one bag with its custody history, and its custody report."""

from flask import Response

from custody.api.parsing import ApiBlueprint
from custody.auth import api_user, requires
from custody.domain.permissions import UseCase
from custody.schemas.bags import BagDetailOut, BagHistoryOut, BagHistoryQuery, BagListOut, BagQuery
from custody.services.bags.queries import bag_detail, bag_history, list_bags
from custody.services.traceability.timeline import custody_report as custody_report_pdf

PREFIX = "/bags"
blp = ApiBlueprint("bags", __name__, description="Bags of final product and their custody")


@blp.get("")
@requires(UseCase.READ_RECORDS)
@blp.arguments(BagQuery, location="query")
@blp.response(200, BagListOut)
def index(query):
    return {"items": list_bags(**query)}


@blp.get("/<code>")
@requires(UseCase.READ_RECORDS)
@blp.response(200, BagDetailOut)
def show(code):
    return bag_detail(code)


@blp.get("/<code>/history")
@requires(UseCase.READ_RECORDS)
@blp.arguments(BagHistoryQuery, location="query")
@blp.response(200, BagHistoryOut)
def history(query, code):
    """The bag's custody events a page at a time, going back: from the newest (no `before`) or
    from a cursor a bag read (`history_next`) or an earlier page (`next`) gave."""
    return bag_history(code, query.get("before"), query["limit"])


@blp.get("/<code>/custody-report.pdf")
@requires(UseCase.READ_RECORDS)
@blp.response(
    200,
    {"type": "string", "format": "binary"},
    content_type="application/pdf",
    description="The bag's chain-of-identity and chain-of-custody record, printable",
)
def custody_report(code):
    """The bag's custody report for a sponsor or an inspector: its identity (DIN with K,
    product code, lot, disposition, recipient), the chain of identity from donor to recipient,
    every custody step with time, place, person and temperature, the gaps, excursions and
    deviations found, and QA's release signature; generated now, naming who asked for it."""
    pdf, name = custody_report_pdf(code, api_user())
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )
