"""Moments as the pages show them: in the site's local time with its zone named, and in UTC.

A custody record read on a ward in another zone must never be shifted silently, so every page
prints both, from this one place; the words are custody.domain.formatting's, as on PDFs and
labels.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from custody.domain.formatting import local_time, utc_time
from custody.services.core.facility import site_zone

__all__ = ["UTC", "moment", "site_zone"]
UTC = ZoneInfo("UTC")


def moment(value: datetime | str | None, zone: ZoneInfo) -> dict[str, str] | None:
    """`iso` for <time datetime>, `local` and `utc` for people; None stays None."""
    if value is None:
        return None
    if isinstance(value, str):  # audit entries keep fixed-width UTC text
        value = datetime.fromisoformat(value)
    return {
        "iso": value.isoformat(),
        "local": local_time(value, zone, seconds=True),
        "utc": utc_time(value, seconds=True),
    }
