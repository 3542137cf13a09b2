"""The Jinja filters through which pages write numbers and moments, the one way PDFs and labels
write them too (custody.domain.formatting):

- `{{ count|cells }}`: a cell count, 1.86 × 10⁹ (never "%.2e", which prints 1.86e+09);
- `{{ at|site_time }}`: the site's local time with its zone, 2026-03-14 09:30 CDT;
- `{{ at|utc_time }}`: the same moment labelled UTC, for records that cross zones;
- `{{ at|iso_utc }}`: the machine-readable moment for `<time datetime>`, with its offset.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask

from custody.domain.formatting import cell_count, local_time, utc_time
from custody.services.core.facility import site_zone


def register_display(app: Flask) -> None:
    app.add_template_filter(cell_count, "cells")
    app.add_template_filter(site_time, "site_time")
    app.add_template_filter(utc_time, "utc_time")
    app.add_template_filter(iso_utc, "iso_utc")


def site_time(moment: datetime | None, seconds: bool = False) -> str:
    return local_time(moment, site_zone(), seconds)


def iso_utc(moment: datetime | None) -> str:
    """ISO 8601 with the offset (a stored moment is naive UTC: it says so here)."""
    if moment is None:
        return ""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat()
