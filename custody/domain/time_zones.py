"""The site's clock: IANA zones by name, and a moment as local people read it.

Labels, certificates, reports, pages and the services all print local time the same way, so
the one helper lives here, below all of them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from custody.domain.errors import ValidationFailed

# How people type a local moment into a filter or a form.
MOMENT_FORMAT = "YYYY-MM-DD, YYYY-MM-DD HH:MM or YYYY-MM-DD HH:MM:SS"


def zone_named(name: str) -> ZoneInfo:
    """The IANA zone `name`; a name no zone has is refused (a record's zone, mistyped)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(
            f"{name!r} is not a known time zone: use an IANA name such as 'Europe/London'.",
            field="timezone",
        ) from exc


def local_time(moment: datetime | None, zone: ZoneInfo, seconds: bool = False) -> str:
    """Local date and 24-hour time with the zone's abbreviation: '2026-03-14 09:30 GMT'."""
    if moment is None:
        return "Not recorded"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M{':%S' if seconds else ''}} {local.tzname()}"
