"""The facility's own settings as the services need them: its zone, name, address, product."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import current_app

from custody.domain.time_zones import zone_named


def site_zone() -> ZoneInfo:
    """The facility's time zone: labels, pages and ISBT 128 dates use its wall clock."""
    return zone_named(current_app.config["CUSTODY_TIMEZONE"])


def establishment() -> tuple[str, str]:
    """The releasing establishment's name and address, as labels and certificates print them."""
    config = current_app.config
    return config["CUSTODY_FACILITY_NAME"], config["CUSTODY_FACILITY_ADDRESS"]


def product_name() -> str:
    return current_app.config["CUSTODY_PRODUCT_NAME"]
