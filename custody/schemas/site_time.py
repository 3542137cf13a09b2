"""A moment as words in the site's local time, sent beside the machine-readable one.

Pages show these words as they are, so a tablet whose clock or zone is wrong still shows the
server's time in the site's zone, written the one way PDFs and labels write it
(custody.domain.formatting); scripts keep the ISO 8601 field beside it.
"""

from __future__ import annotations

from datetime import datetime

from marshmallow import fields

from custody.config import settings
from custody.domain.formatting import local_time


class SiteTime(fields.Field):
    """Dumps the moment in the field named `of` as '2026-03-14 09:30 CDT'; None stays None."""

    def __init__(self, of: str) -> None:
        description = f"{of} in the site's local time with its zone, as pages show it"
        super().__init__(
            attribute=of, dump_only=True, allow_none=True, metadata={"description": description}
        )

    def _serialize(self, value: datetime | None, attr, obj, **kwargs) -> str | None:
        return None if value is None else local_time(value, settings().time_zone)
