"""An extract of the audit trail as a landscape A4 PDF, for an inspector or a sponsor to read.

Pure rendering: the caller selects the entries (`custody.services.audit.export`) and passes
them in the dataclasses below, already in words. The header prints what was selected (every
filter as typed, the time zone the times are read in), who generated the extract and when,
and whether the export cap cut it short; every page carries the extract's digest and
"Page x of y", so a loose page still says what it belongs to.

The digest is SHA-256 over the listed entries' chain hashes (hex, newest first, one per
line): anyone holding the database can recompute it from the entry numbers and see that the
printout lists exactly those entries, unaltered.

Every string reaches a Paragraph through `pdf_layout.paragraph`, which escapes `<` and `&`
(ISBT 128 data is full of them). The table is a `LongTable`, which splits across pages
without re-measuring every remaining row at each page break.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass

from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, LongTable, Table

from custody.documents.pdf_layout import (
    ALERT,
    FONT,
    MARGIN,
    MONO,
    RULE,
    SHADE,
    NumberedCanvas,
    cells,
    document,
    paragraph,
    register_fonts,
)

TITLE = "Audit trail extract"
PAGE = landscape(A4)
BODY_WIDTH = PAGE[0] - 2 * MARGIN
# Time, person, action, record, changes, reason, entry (mm; the body is about 261 mm wide).
COLUMNS_MM = (33, 30, 12, 36, 85, 45, 20)
HEAD = ("Time", "Person", "Action", "Record / key", "Changes (old -> new)", "Reason", "Entry")
# Vera, the documents' font, has no "→" (it would print as an empty box): "->" stands in.
ARROW = ("→", "->")


@dataclass(frozen=True)
class ReportEntry:
    when: str  # local time with its zone
    utc: str  # the same moment in UTC
    person: str
    action: str
    record: str  # "bags 12"
    key: str
    changes: tuple[str, ...]
    reason: str
    id: int
    shard: int
    seq: int
    hash: str


@dataclass(frozen=True)
class AuditReportData:
    facility: str
    zone_name: str
    generated_at: str  # local time with its zone
    generated_by: str  # "Full Name (username)"
    filters: tuple[tuple[str, str], ...]  # (label, value as typed)
    entries: tuple[ReportEntry, ...]
    capped: bool
    cap: int
    digest: str


def render_audit_report(data: AuditReportData) -> bytes:
    register_fonts()
    out = io.BytesIO()
    doc = document(out, TITLE, f"{data.facility}: {len(data.entries)} audit entries", pagesize=PAGE)
    footer = (f"{TITLE} · generated {data.generated_at} by {data.generated_by}", data.digest)
    canvas = functools.partial(LandscapeCanvas, footer=footer)
    doc.build(_story(data), canvasmaker=canvas)
    return out.getvalue()


class LandscapeCanvas(NumberedCanvas):
    """pdf_layout's numbered footer; its hash covers the listed entries' chain hashes."""

    CHECKSUM_LABEL = "Listed entries' SHA-256"


def _story(data: AuditReportData) -> list[Flowable]:
    story: list[Flowable] = [paragraph(TITLE, "title"), _header(data)]
    if data.capped:
        warning = (
            f"CUT SHORT: more entries match than an extract holds. Only the newest "
            f"{data.cap:,} are listed; narrow the filters (e.g. a time range) to see the rest."
        )
        story.append(_alert(warning))
    story.append(_entries(data))
    return story


def _alert(text: str) -> Table:
    """A red-ruled box across the landscape body (pdf_layout's `boxed` is portrait-wide)."""
    box = Table([[paragraph(text, "warning")]], colWidths=[BODY_WIDTH], spaceBefore=3 * mm)
    box.setStyle([("BOX", (0, 0), (-1, -1), 1.5, ALERT), ("LEFTPADDING", (0, 0), (-1, -1), 3 * mm)])
    return box


def _header(data: AuditReportData) -> Table:
    filters = "\n".join(f"{label}: {value}" for label, value in data.filters)
    rows = [
        ("Facility", data.facility),
        ("Selected", filters or "Every entry (no filter)"),
        ("Entries listed", f"{len(data.entries):,}, newest first"),
        ("Generated", f"{data.generated_at} by {data.generated_by}"),
        ("Times", f"Local time of the facility ({data.zone_name}), and UTC below it."),
        ("Entry", "Entry number, chain shard/sequence, and the start of its chain hash."),
        (
            "Digest",
            "At the foot of each page: SHA-256 of the listed entries' chain hashes (hex, "
            "newest first, one per line), to match this extract against the trail.",
        ),
    ]
    table = Table(
        [[paragraph(label, "label"), paragraph(value, "value")] for label, value in rows],
        colWidths=[35 * mm, BODY_WIDTH - 35 * mm],
    )
    table.setStyle(
        [
            ("LINEBELOW", (0, 0), (-1, -1), 0.3, RULE),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ]
    )
    return table


def _entries(data: AuditReportData) -> Flowable:
    rows = [_row(e) for e in data.entries]
    if not rows:
        rows = [[paragraph("No audit entry matches these filters."), "", "", "", "", "", ""]]
    table = LongTable(
        [cells(*HEAD, style="head"), *rows],
        colWidths=[w * mm for w in COLUMNS_MM],
        repeatRows=1,
        splitInRow=1,
        spaceBefore=4 * mm,
    )
    table.setStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.4, RULE),
            ("BACKGROUND", (0, 0), (-1, 0), SHADE),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 2.5),
            ("RIGHTPADDING", (0, 0), (-1, -1), 2.5),
            ("FONT", (0, 1), (-1, -1), FONT, 6.5, 8),
            ("FONT", (-1, 1), (-1, -1), MONO, 6.5, 8),
        ]
    )
    return table


def _row(e: ReportEntry) -> list:
    """Fixed-width cells (time, action, entry) are plain strings, which a table sets without
    the cost of a Paragraph: a 1 000-entry extract renders in a few seconds."""
    record = f"{e.record}\n{e.key}" if e.key else e.record
    return [
        f"{e.when}\n{e.utc}",
        *cells(e.person, style="small"),
        e.action,
        *cells(record, _changes(e.changes), e.reason or "—", style="small"),
        f"{e.id}\n{e.shard}/{e.seq}\n{e.hash[:10]}…",
    ]


def _changes(lines: tuple[str, ...]) -> str:
    return "\n".join(line.replace(*ARROW) for line in lines) or "—"
