"""A lot's certificate of analysis and release, as the PDF QA signs and the ward receives.

Pure rendering: the caller gathers the signed content into the dataclasses below, and the
same data always gives the same bytes (reportlab's `invariant` mode), because the service
stores the PDF at signing and serves those bytes again. Every page carries the certificate
number, "Page x of y" and the content checksum, so a loose page still names what it belongs
to and whether it matches the signed record (21 CFR 11.50: the signature manifestation goes
wherever the signed record is shown, printouts included).

The building blocks (fonts, tables, boxes, the numbered footer) are `pdf_layout`'s; numbers and
moments are written by custody.domain.formatting, as on the pages and labels: cell counts read
"1.20 × 10⁸" with a real superscript exponent.

A test judged per recipient (residual CD3+ T cells, whose limit is per kg of the recipient's
weight) gets no verdict here: the lot has no recipient yet, so the certificate says it is judged
per recipient at allocation, and each allocation records that verdict. A signed certificate is
never rendered again, so this wording reaches only certificates issued from now on.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Spacer, Table

from custody.documents.pdf_layout import (
    ALERT,
    BODY_WIDTH,
    RULE,
    DinWithCheck,
    NumberedCanvas,
    boxed,
    cells,
    document,
    grid,
    paragraph,
    register_fonts,
    section,
)
from custody.domain.formatting import cell_count, local_time
from custody.domain.release_rules import AT_ALLOCATION
from custody.domain.time_zones import zone_named

TITLE = "Certificate of Analysis and Release"
JUDGED_PER_RECIPIENT = "Judged per recipient at allocation"
KEY_VALUE_STYLE = [
    ("LINEBELOW", (0, 0), (-1, -1), 0.3, RULE),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
]


@dataclass(frozen=True)
class CertificateDonor:
    din: str  # the 13-character DIN
    check_character: str  # ISBT 128 keyboard check character K, printed in a box
    donor_code: str
    eligibility: str  # eligible / incomplete / ineligible / pending


@dataclass(frozen=True)
class CertificateTest:
    test: str  # machine key, e.g. "viability"
    title: str
    specification: str  # the criterion in words, e.g. "≥ 70 %"
    result: str  # "" while pending
    verdict: str  # pass / fail / pending / at allocation (printed as no verdict: see above)
    entered_by: str  # printed name, "" while pending
    entered_at: datetime | None
    method: str = ""
    instrument: str = ""
    note: str = ""  # investigation note or correction reason
    corrected: bool = False


@dataclass(frozen=True)
class CertificateBag:
    code: str
    product_code: str
    division: str
    volume_ml: float
    viable_car_nk_cells: float
    total_cells: float
    dose_level: str | None


@dataclass(frozen=True)
class CertificateDeviation:
    sequence: int
    step: str
    reason: str


@dataclass(frozen=True)
class CertificateSignature:
    """The 21 CFR 11.50 manifestation: who signed, when, and what the signature means."""

    printed_name: str
    username: str
    signed_at: datetime
    meaning: str
    reason: str = ""


@dataclass(frozen=True)
class CertificateData:
    """Everything the certificate prints. Naive datetimes are taken as UTC (as stored)."""

    certificate_number: str
    lot_number: str
    product_name: str
    product_description_code: str
    specification: str
    facility_name: str
    facility_address: str
    timezone: str  # IANA name of the facility's zone
    disposition: str
    donors: tuple[CertificateDonor, ...]
    warnings: tuple[str, ...]  # donor-eligibility statements, printed exactly as given
    tests: tuple[CertificateTest, ...]
    bags: tuple[CertificateBag, ...]
    deviations: tuple[CertificateDeviation, ...]
    signature: CertificateSignature
    content_checksum: str  # SHA-256 hex of the signed content
    issued_at: datetime
    manufactured_at: datetime | None = None
    expires_at: datetime | None = None
    pending_tests: tuple[str, ...] = ()  # titles pending at a conditional release
    exceptional: tuple[str, str, str] | None = None  # physician, request, justification
    investigational_statement: str = (
        "Caution: New Drug—Limited by Federal (or United States) law to investigational use."
    )


def render_certificate(data: CertificateData) -> bytes:
    """The certificate as an A4 PDF; identical data gives identical bytes."""
    register_fonts()
    zone = zone_named(data.timezone)
    out = io.BytesIO()
    doc = document(out, f"{TITLE} {data.certificate_number}", f"Lot {data.lot_number}", invariant=1)
    footer = (f"{data.certificate_number} · Lot {data.lot_number}", data.content_checksum)
    doc.build(_story(data, zone), canvasmaker=functools.partial(NumberedCanvas, footer=footer))
    return out.getvalue()


# --- the story, section by section ------------------------------------------------------------


def _story(data: CertificateData, zone: ZoneInfo) -> list[Flowable]:
    story: list[Flowable] = [paragraph(TITLE, "title")]
    story += _header(data, zone)
    story += _donors(data)
    story += _release_conditions(data)
    story += _tests(data, zone)
    story += _bags(data)
    story += _deviations(data)
    story.append(KeepTogether(_signature(data, zone)))
    return story


def _header(data: CertificateData, zone: ZoneInfo) -> list[Flowable]:
    rows = [
        ("Certificate number", data.certificate_number),
        ("Issued", local_time(data.issued_at, zone)),
        ("Releasing facility", f"{data.facility_name}\n{data.facility_address}"),
        ("Product", f"{data.product_name} (product code {data.product_description_code})"),
        ("Lot number", data.lot_number),
        ("Specification", data.specification),
        ("Manufactured", local_time(data.manufactured_at, zone)),
        ("Expires", local_time(data.expires_at, zone)),
        ("Disposition", data.disposition),
    ]
    cells = [[paragraph(label, "label"), paragraph(value, "value")] for label, value in rows]
    table = Table(cells, colWidths=[40 * mm, BODY_WIDTH - 40 * mm], style=KEY_VALUE_STYLE)
    note = paragraph(f"Times are shown in the facility's time zone, {data.timezone}.", "small")
    return [table, note]


def _donors(data: CertificateData) -> list[Flowable]:
    rows = [
        [DinWithCheck(d.din, d.check_character), paragraph(d.donor_code), paragraph(d.eligibility)]
        for d in data.donors
    ]
    story = [
        paragraph("Donors", "heading"),
        grid(("DIN [K]", "Donor code", "Donor eligibility"), rows),
    ]
    if data.warnings:
        lines = [paragraph(warning, "warning") for warning in data.warnings]
        story += [Spacer(0, 3 * mm), boxed(lines, ALERT, 1.5)]
    return story


def _tests(data: CertificateData, zone: ZoneInfo) -> list[Flowable]:
    rows = []
    for t in data.tests:
        verdict = _verdict_words(t.verdict)
        entered = f"{t.entered_by}\n{local_time(t.entered_at, zone)}" if t.entered_by else "—"
        verdict_style = "fail" if verdict == "FAIL" else "verdict"
        rows.append(
            [
                *cells(t.title, t.specification, t.result or "—"),
                paragraph(verdict, verdict_style),
                *cells(entered, _test_notes(t), style="small"),
            ]
        )
    if not data.tests:
        rows.append([paragraph("No release tests recorded"), "", "", "", "", ""])
    head = ("Test", "Specification", "Result", "Verdict", "Entered", "Notes")
    return section("Release testing", grid(head, rows, (30, 26, 22, 28, 33, 35)))


def _verdict_words(verdict: str) -> str:
    """PASS, FAIL, PENDING; a test judged per recipient has no verdict on the lot."""
    if verdict.strip().lower() == AT_ALLOCATION:
        return JUDGED_PER_RECIPIENT
    return verdict.strip().upper()


def _test_notes(t: CertificateTest) -> str:
    notes = (
        f"Method: {t.method}" if t.method else "",
        f"Instrument: {t.instrument}" if t.instrument else "",
        "Corrected result" if t.corrected else "",
        t.note,
    )
    return "\n".join(note for note in notes if note)


def _bags(data: CertificateData) -> list[Flowable]:
    rows = [
        cells(
            b.code,
            b.division,
            f"{b.volume_ml:.1f}",
            cell_count(b.viable_car_nk_cells),
            cell_count(b.total_cells),
            b.dose_level or "—",
        )
        for b in data.bags
    ]
    volume = sum(b.volume_ml for b in data.bags)
    viable = sum(b.viable_car_nk_cells for b in data.bags)
    summary = (
        f"{len(data.bags)} bag{'s' if len(data.bags) != 1 else ''}, {volume:.1f} mL, "
        f"{cell_count(viable)} viable CAR+ NK cells in all."
    )
    head = ("Bag", "Division", "Volume (mL)", "Viable CAR+ NK cells", "Total cells", "Dose level")
    table = grid(head, rows, (56, 18, 22, 30, 26, 22))
    return section("Bags", table, lead=summary)


def _deviations(data: CertificateData) -> list[Flowable]:
    if not data.deviations:
        return [paragraph("Deviations", "heading"), paragraph("No deviations recorded.")]
    rows = [cells(str(d.sequence), d.step, d.reason) for d in data.deviations]
    table = grid(("No.", "Step", "Deviation"), rows, (14, 50, 110))
    return [paragraph("Deviations", "heading"), table]


def _release_conditions(data: CertificateData) -> list[Flowable]:
    """The boxes a reader must not miss: results still pending, an exceptional release."""
    story: list[Flowable] = []
    if data.pending_tests:
        lines = [paragraph("CONDITIONAL RELEASE", "box_title")]
        lines.append(paragraph("These results were still pending when the lot was released:"))
        lines += [paragraph(f"• {title}", "bold") for title in data.pending_tests]
        story += [Spacer(0, 4 * mm), boxed(lines, ALERT, 1.5)]
    if data.exceptional:
        physician, request, justification = data.exceptional
        lines = [
            paragraph("EXCEPTIONAL RELEASE", "box_title"),
            *cells(
                f"Requesting physician: {physician}",
                f"Physician's request: {request}",
                f"Justification: {justification}",
            ),
        ]
        story += [Spacer(0, 4 * mm), boxed(lines, ALERT, 1.5)]
    return story


def _signature(data: CertificateData, zone: ZoneInfo) -> list[Flowable]:
    sig = data.signature
    signed = local_time(sig.signed_at, zone, seconds=True)
    manifestation = (
        f"Electronically signed by {sig.printed_name} ({sig.username}) on {signed} — "
        f"Meaning: {sig.meaning}"
    )
    lines = [paragraph(f"Disposition: {data.disposition}", "box_title"), paragraph(manifestation)]
    if sig.reason:
        lines.append(paragraph(f"Reason: {sig.reason}"))
    lines.append(paragraph(f"Content SHA-256: {data.content_checksum}", "mono"))
    return [
        paragraph("Disposition and signature", "heading"),
        boxed(lines, colors.black, 1),
        Spacer(0, 5 * mm),
        paragraph(data.investigational_statement, "bold"),
    ]
