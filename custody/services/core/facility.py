"""The facility's own settings as the services need them: its zone, name, address, product."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from custody.config import settings


def site_zone() -> ZoneInfo:
    """The facility's time zone: labels, pages and ISBT 128 dates use its wall clock."""
    return settings().time_zone


def establishment() -> tuple[str, str]:
    """The releasing establishment's name and address, as labels and certificates print them."""
    return settings().facility_name, settings().facility_address


def product_name() -> str:
    return settings().product_name
