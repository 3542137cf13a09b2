"""Exporting audit entries as CSV (for a spreadsheet or a script) and PDF (for a reader).

The review page's export links and the API's `entries.csv` / `entries.pdf` both come here
with the same `AuditFilter`, so an export holds exactly what the page lists, newest first,
up to a cap: CSV_CAP rows (within what a spreadsheet opens; narrow by time range for more),
PDF_CAP entries (some 80 pages, rendered in a few seconds: reportlab sets a few hundred table
rows a second here, so a larger extract belongs in the CSV). When more match, the
export says so: the PDF in a red box on its first page, the CSV in the `X-Audit-Export-Capped`
header (a note inside the file would break every program that reads it).

CSV formula injection: a cell starting with `=`, `+`, `-`, `@`, tab or carriage return is
run as a formula by spreadsheet programs, and audit text comes from users and scanners (an
ISBT 128 DIN as scanned starts with `=`). Such cells get a leading apostrophe, which the
spreadsheet shows as text and hides. A cell that itself starts with an apostrophe gets one
too, so the rule for reading the file back (to recompute an entry's hash, say) has no
exception: a cell starting with `'` had one added; drop it.

An export is not recorded in the audit trail. The trail records changes to regulated records
(21 CFR 11.10(e): creation, modification, deletion); reading changes nothing, and an audit
entry always describes a row, while there is no table of exports (nor should a read add
one). Who exported what is still told: the PDF names its generator on every page, and each
export is logged at INFO on this module's logger (user, format, filters, entry count), which
a site routes to its log store; the server's access log already holds each export's address,
filters included.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Row

from custody.database import end_snapshot
from custody.documents.audit_report import AuditReportData, ReportEntry, render_audit_report
from custody.extensions import db
from custody.models.accounts import User
from custody.models.base import utcnow
from custody.services.audit.review import AuditFilter, change_lines, matching, names_of
from custody.services.core.facility import establishment

log = logging.getLogger(__name__)
UTC = ZoneInfo("UTC")

CSV_CAP = 50_000
PDF_CAP = 1_000
CSV_COLUMNS = (
    "entry_id",
    "occurred_at_utc",
    "local_time",
    "actor",
    "action",
    "record_type",
    "record_id",
    "record_key",
    "changes",
    "reason",
    "shard",
    "seq",
    "hash",
)
# Formula starts, and the apostrophe itself (so that every guarded cell reads back the same way).
GUARDED_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


@dataclass(frozen=True)
class Export:
    body: bytes
    mimetype: str
    filename: str
    entries: int
    capped: bool
    cap: int

    def headers(self) -> dict[str, str]:
        """Download headers: the file's name, how many entries it holds, whether it was cut."""
        headers = {
            "Content-Disposition": f'attachment; filename="{self.filename}"',
            "X-Audit-Entries": str(self.entries),
        }
        if self.capped:
            headers["X-Audit-Export-Capped"] = (
                f"More entries match; only the newest {self.cap} are exported."
            )
        return headers


def csv_export(flt: AuditFilter, zone: ZoneInfo, user: User) -> Export:
    """One row per entry (columns CSV_COLUMNS), UTF-8 with a byte-order mark so spreadsheet
    programs read names and arrows right."""
    rows, capped = matching(flt, CSV_CAP)
    end_snapshot(db.session)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([guard_formula(v) for v in _csv_values(row, zone)])
    now = utcnow()
    _log("CSV", flt, user, len(rows), capped)
    return Export(
        body=out.getvalue().encode("utf-8-sig"),
        mimetype="text/csv",
        filename=f"{file_stem(flt, now.astimezone(zone))}.csv",
        entries=len(rows),
        capped=capped,
        cap=CSV_CAP,
    )


def pdf_export(flt: AuditFilter, zone: ZoneInfo, user: User) -> Export:
    rows, capped = matching(flt, PDF_CAP)
    names = names_of(row.actor for row in rows)
    facility, _ = establishment()
    end_snapshot(db.session)  # what follows only draws (seconds for a thousand entries)
    now = utcnow()
    data = AuditReportData(
        facility=facility,
        zone_name=zone.key,
        generated_at=local_text(now, zone),
        generated_by=f"{user.full_name} ({user.username})",
        filters=tuple(flt.summary()),
        entries=tuple(_report_entry(row, zone, names) for row in rows),
        capped=capped,
        cap=PDF_CAP,
        digest=entries_digest(row.hash for row in rows),
    )
    _log("PDF", flt, user, len(rows), capped)
    return Export(
        body=render_audit_report(data),
        mimetype="application/pdf",
        filename=f"{file_stem(flt, now.astimezone(zone))}.pdf",
        entries=len(rows),
        capped=capped,
        cap=PDF_CAP,
    )


def guard_formula(value) -> str:
    """A cell a spreadsheet will show as text, never run as a formula."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(GUARDED_STARTS) else text


def entries_digest(hashes) -> str:
    """SHA-256 of the entries' chain hashes, one per line in the listed order."""
    return hashlib.sha256("\n".join(hashes).encode("ascii")).hexdigest()


def file_stem(flt: AuditFilter, today: datetime) -> str:
    """'audit-trail_record-type-bags_actor-quinn_2026-03-14': the filters and the date, in
    characters every file system and browser accepts."""
    parts = ["audit-trail"]
    for name in ("record_type", "record_id", "record_key", "actor", "action", "from", "to"):
        if name in flt.entered:
            value = re.sub(r"[^A-Za-z0-9.-]+", "-", flt.entered[name]).strip("-.")
            parts.append(f"{name.replace('_', '-')}-{value}")
    return f"{'_'.join(parts)[:120]}_{today:%Y-%m-%d}"


def local_text(moment: datetime | str, zone: ZoneInfo) -> str:
    """Local time with its zone; stored text that is no time (a row edited by hand) as is."""
    if isinstance(moment, str):  # the stored fixed-width UTC text
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            return moment
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def _csv_values(row: Row, zone: ZoneInfo) -> list:
    return [
        row.id,
        row.occurred_at,
        local_text(row.occurred_at, zone),
        row.actor,
        row.action,
        row.record_type,
        row.record_id,
        row.record_key,
        row.changes,
        row.reason,
        row.shard,
        row.seq,
        row.hash,
    ]


def _report_entry(row: Row, zone: ZoneInfo, names: dict[str, str]) -> ReportEntry:
    name = names.get(row.actor)
    return ReportEntry(
        when=local_text(row.occurred_at, zone),
        utc=local_text(row.occurred_at, UTC),
        person=f"{name} ({row.actor})" if name else row.actor,
        action=row.action,
        record=f"{row.record_type} {row.record_id}",
        key=row.record_key,
        changes=tuple(change_lines(row.action, row.changes)),
        reason=row.reason,
        id=row.id,
        shard=row.shard,
        seq=row.seq,
        hash=row.hash,
    )


def _log(fmt: str, flt: AuditFilter, user: User, count: int, capped: bool) -> None:
    selected = "; ".join(f"{label}: {value}" for label, value in flt.summary()) or "no filter"
    log.info(
        "audit trail exported as %s by %s: %d entries%s (%s)",
        fmt,
        user.username,
        count,
        " (capped)" if capped else "",
        selected,
    )
