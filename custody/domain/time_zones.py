"""The site's clock: IANA zones by name, and how people type a local moment.

How a moment is written for people (local time with its zone, UTC labelled) is
custody.domain.formatting's; `local_time` is named here too for the modules that read a zone
and print a moment together.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from custody.domain.errors import ValidationFailed
from custody.domain.formatting import local_time

__all__ = ["MOMENT_FORMAT", "local_time", "zone_named"]

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
