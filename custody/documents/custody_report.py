"""A bag's custody report: the chain-of-identity and chain-of-custody record a sponsor or an
inspector asks for, printable on A4.

Pure rendering of the bag's vein-to-vein timeline (`custody.services.traceability.timeline`): the
identity header (DIN with its boxed check character K), the chain of identity from donor to
recipient, what a reviewer must look at (gaps in custody, temperature excursions, deviations,
a signature that no longer holds), every step in a table whose header repeats on each page,
and QA's signature as 21 CFR 11.50 asks it to be shown: printed name, time and meaning.

Every page carries the bag, "Page x of y" and a SHA-256 of the report's content, so a loose page
still names what it belongs to. The building blocks are `pdf_layout`'s (and the certificate's
key-value table style); every text goes through `paragraph`, which escapes the `<` and `&` of
ISBT 128 data.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Spacer, Table

from custody.documents.certificate import KEY_VALUE_STYLE
from custody.documents.pdf_layout import (
    ALERT,
    BODY_WIDTH,
    FONT,
    DinWithCheck,
    NumberedCanvas,
    boxed,
    cells,
    document,
    grid,
    paragraph,
    register_fonts,
)
from custody.domain import formatting
from custody.domain.custody_timeline import Step, Timeline
from custody.domain.isbt128 import check_character
from custody.domain.time_zones import local_time, zone_named

TITLE = "Chain of Identity and Chain of Custody Report"
# Vera, the documents' font, has no "→" (it would print as an empty box); "->" reads the same.
_NOT_IN_FONT = str.maketrans({"→": "->"})
STEP_COLUMNS = ("No.", "Time", "Step", "Place", "Person", "°C", "Flags")
STEP_WIDTHS_MM = (8, 30, 46, 28, 26, 11, 25)  # 174 mm: the A4 body between the margins


@dataclass(frozen=True)
class ReportContext:
    """Who printed the report, when, and the facility it comes from."""

    generated_at: datetime
    generated_by: str
    facility_name: str
    facility_address: str
    product_name: str


def render_custody_report(timeline: Timeline, context: ReportContext) -> bytes:
    """The report as an A4 PDF; the same timeline and context give the same bytes."""
    register_fonts()
    zone = zone_named(timeline.zone)
    rows = [_step_texts(n, step, zone) for n, step in enumerate(timeline.steps, start=1)]
    checksum = _checksum(timeline, rows)
    out = io.BytesIO()
    doc = document(
        out,
        f"Custody report {timeline.bag}",
        f"Bag {timeline.bag}, lot {timeline.lot}",
        invariant=1,
    )
    story = [
        paragraph(TITLE, "title"),
        *_header(timeline, context, zone),
        *_identity(timeline),
        *_findings(timeline, zone),
        *_custody_table(timeline, rows),
        *_signature(timeline, zone),
        *_closing(context, zone),
    ]
    footer = (f"Custody report · Bag {timeline.bag} · Lot {timeline.lot}", checksum)
    doc.build(story, canvasmaker=functools.partial(NumberedCanvas, footer=footer))
    return out.getvalue()


def printable(text: str) -> str:
    """The text with the characters the font lacks replaced by ones it has."""
    return text.translate(_NOT_IN_FONT)


def utc_time(moment: datetime | None) -> str:
    """To the second, as the report's local times are."""
    return formatting.utc_time(moment, seconds=True)


def _both_times(moment: datetime, zone: ZoneInfo) -> str:
    return f"{local_time(moment, zone, seconds=True)}\n{utc_time(moment)}"


def _checksum(timeline: Timeline, rows: list[tuple[str, ...]]) -> str:
    """SHA-256 over what the report says about the bag (not over who printed it, or when)."""
    content = {
        "bag": [timeline.bag, timeline.din, timeline.product_code, timeline.lot],
        "identity": [[link.role, link.value, link.note] for link in timeline.identity],
        "steps": rows,
        "release": _signature_words(timeline, ZoneInfo("UTC")),
    }
    return hashlib.sha256(json.dumps(content, ensure_ascii=False).encode()).hexdigest()


# --- sections ---------------------------------------------------------------------------------


def _header(timeline: Timeline, context: ReportContext, zone: ZoneInfo) -> list[Flowable]:
    words = [
        ("Bag", timeline.bag),
        ("Product", f"{context.product_name} (product code {timeline.product_code})"),
        ("Division", timeline.division + (" (not divided)" if timeline.division == "00" else "")),
        ("Lot", timeline.lot),
        ("Lot disposition", timeline.disposition.replace("_", " ").upper()),
        ("Bag status", timeline.status.upper()),
        ("Recipient (subject ID)", timeline.recipient or "Not allocated to a recipient"),
        ("Releasing facility", f"{context.facility_name}\n{context.facility_address}"),
        ("Generated", f"{_both_times(context.generated_at, zone)}\nby {context.generated_by}"),
    ]
    rows = [[paragraph(label, "label"), paragraph(value, "value")] for label, value in words]
    rows.insert(
        1, [paragraph("DIN [K]", "label"), DinWithCheck(timeline.din, timeline.check_character)]
    )
    table = Table(rows, colWidths=[40 * mm, BODY_WIDTH - 40 * mm], style=KEY_VALUE_STYLE)
    note = (
        f"Times are shown in the facility's time zone, {timeline.zone}, with UTC beneath; a "
        "collection's time is shown in the collecting facility's zone. A gap is a stretch of "
        f"more than {int(timeline.gap_limit.total_seconds() // 60)} minutes without a custody "
        "record while the bag was neither in a storage position nor in a shipment."
    )
    return [table, paragraph(note, "small")]


def _identity(timeline: Timeline) -> list[Flowable]:
    rows = [
        [
            paragraph(link.label, "bold"),
            _identifier(link),
            paragraph(printable(link.note)),
        ]
        for link in timeline.identity
    ]
    table = grid(("Link", "Identifier", "Details"), rows, (34, 62, 78))
    lead = "Donor -> donation (DIN) -> lot -> bag -> recipient, as recorded."
    return [paragraph("Chain of identity", "heading"), paragraph(lead, "lead"), table]


def _identifier(link) -> Flowable:
    """A donation's DIN eye-readable with K in its box; any other link's identifier as text."""
    if link.role == "donation" and link.din:
        return DinWithCheck(link.din, check_character(link.din))
    return paragraph(printable(link.value))


def _findings(timeline: Timeline, zone: ZoneInfo) -> list[Flowable]:
    heading = paragraph("Gaps, excursions and other findings", "heading")
    numbered = {id(step): n for n, step in enumerate(timeline.steps, start=1)}
    if not timeline.flags:
        words = (
            "None: no gap in custody, no temperature excursion or logger gap, no "
            "manufacturing deviation, and QA's signature holds."
        )
        return [heading, paragraph(words)]
    rows = [
        [
            paragraph(str(numbered[id(step)])),
            paragraph(local_time(flag.start or step.at, zone), "small"),
            paragraph(flag.label, "fail" if flag.severity == "alert" else "verdict"),
            paragraph(printable(flag.words)),
        ]
        for step, flag in timeline.flags
    ]
    table = grid(("Step", "From", "Finding", "Details"), rows, (12, 30, 36, 96))
    lead = f"{len(rows)} finding{'s' if len(rows) != 1 else ''}, each under its step below."
    return [heading, paragraph(lead, "lead"), table]


def _step_texts(number: int, step: Step, zone: ZoneInfo) -> tuple[str, ...]:
    """One row of the custody table as plain text (what it prints and what the checksum covers)."""
    shown = zone_named(step.zone) if step.zone else zone
    when = _both_times(step.at, shown)
    if step.since_words:
        when += f"\n+{step.since_words}"
    what = [step.title]
    if step.bag:
        what.append(f"(parent bag {step.bag})")
    event = step.event or {}
    if event:
        what.append(f"{(event['from_status'] or '—').upper()} → {event['to_status'].upper()}")
    what += [f"{label}: {value}" for label, value in step.details]
    if event.get("out_of_storage"):
        what.append(f"Out of storage: {event['out_of_storage']}")
    if event.get("station"):
        what.append(f"Station: {event['station']}")
    temperature = f"{step.temperature_c:.1f}" if step.temperature_c is not None else "—"
    flags = "\n".join(flag.label for flag in step.flags)
    texts = (
        str(number),
        when,
        "\n".join(what),
        step.place or "Not recorded",
        step.person or "Not recorded",
        temperature,
        flags,
    )
    return tuple(printable(text) for text in texts)


def _custody_table(timeline: Timeline, rows: list[tuple[str, ...]]) -> list[Flowable]:
    heading = paragraph("Chain of custody", "heading")
    if not rows:
        return [heading, paragraph("No step has been recorded for this bag.")]
    table_rows = []
    for step, texts in zip(timeline.steps, rows, strict=True):
        number, when, what, place, person, temperature, flags = texts
        alert = any(flag.severity == "alert" for flag in step.flags)
        table_rows.append(
            [
                number,  # short cells as plain strings: Paragraphs cost the layout time
                *cells(when, what, place, person, style="small"),
                temperature,
                paragraph(flags, "fail" if alert else "verdict") if flags else "",
            ]
        )
    table = grid(STEP_COLUMNS, table_rows, STEP_WIDTHS_MM)
    table.setStyle([("FONT", (0, 1), (-1, -1), FONT, 7.5), ("ALIGN", (5, 1), (5, -1), "RIGHT")])
    lead = (
        f"{len(rows)} step{'s' if len(rows) != 1 else ''}, oldest first, each with the time "
        "since the one before."
    )
    return [heading, paragraph(lead, "lead"), table]


def _signature_words(timeline: Timeline, zone: ZoneInfo) -> list[str]:
    release = timeline.release
    if release is None:
        return [f"No QA decision has been signed for lot {timeline.lot}."]
    sig = release["signature"]
    words = [
        f"Disposition: {release['disposition'].replace('_', ' ')}",
        f"Electronically signed by {sig['printed_name']} ({sig['username']}) on "
        f"{local_time(sig['signed_at'], zone, seconds=True)} ({utc_time(sig['signed_at'])}) — "
        f"Meaning: {sig['meaning']}",
    ]
    if sig.get("reason"):
        words.append(f"Reason: {sig['reason']}")
    if release.get("pending_tests"):
        words.append(f"Conditional release: pending {', '.join(release['pending_tests'])}")
    if release.get("certificate_number"):
        words.append(f"Certificate: {release['certificate_number']}")
    return words


def _signature(timeline: Timeline, zone: ZoneInfo) -> list[Flowable]:
    words = _signature_words(timeline, zone)
    release = timeline.release
    lines = [paragraph(words[0], "box_title"), *cells(*words[1:])]
    colour, width = colors.black, 1
    if release is not None and not release["signature_valid"]:
        why = release["invalid_because"] or "the signed record changed"
        lines.append(paragraph(f"THIS SIGNATURE NO LONGER HOLDS: {why}", "warning"))
        colour, width = ALERT, 1.5
    return [
        paragraph("QA release signature", "heading"),
        KeepTogether([boxed(lines, colour, width)]),
    ]


def _closing(context: ReportContext, zone: ZoneInfo) -> list[Flowable]:
    words = (
        f"Generated {local_time(context.generated_at, zone, seconds=True)} "
        f"({utc_time(context.generated_at)}) by {context.generated_by}, from the custody "
        "record as it stood then."
    )
    return [Spacer(0, 5 * mm), paragraph(words, "small")]
