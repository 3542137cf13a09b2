"""Shipment pages: manifest, courier handoff, logger temperatures with excursions, receipt."""

import re

from flask import Blueprint, render_template

from custody.auth import page_requires
from custody.domain.errors import NotFound
from custody.domain.permissions import UseCase
from custody.services.bags import shipment_queries
from custody.web.temperature_chart import build_chart

bp = Blueprint("shipping", __name__, template_folder="../templates")

SHIPMENT_CODE = re.compile(r"[A-Z0-9][A-Z0-9-]{0,39}")
# Beyond this many readings the data table points to the API instead of filling the page.
MAX_TABLE_READINGS = 2000


@bp.get("/shipments/<code>")
@page_requires(UseCase.READ_RECORDS)
def shipment(code: str):
    """The shipment's manifest, handoff, discrepancies and logger chart, for any signed-in role."""
    code = code.upper()
    if not SHIPMENT_CODE.fullmatch(code):
        raise NotFound(f"No shipment {code[:40]!r} is known here.", shipment=code[:40])
    detail = shipment_queries.shipment_detail(code)
    report = detail["temperatures"]
    chart = build_chart(
        report["readings"], report["storage_limit_c"], report["excursions"], report["gaps"]
    )
    return render_template(
        "shipping/shipment.html",
        d=detail,
        s=detail["shipment"],
        report=report,
        chart=chart,
        max_table_readings=MAX_TABLE_READINGS,
    )
