"""A lot's certificate of analysis and release, as the PDF QA signs and the ward receives.

Pure rendering: the caller gathers the signed content into the dataclasses below, and the
same data always gives the same bytes (reportlab's `invariant` mode), because the service
stores the PDF at signing and serves those bytes again. Every page carries the certificate
number, "Page x of y" and the content checksum, so a loose page still names what it belongs
to and whether it matches the signed record (21 CFR 11.50: the signature manifestation goes
wherever the signed record is shown, printouts included).

Text is set in Bitstream Vera, which reportlab ships: the standard PDF fonts lack "≥" and
"≤", which specifications use. Vera has no superscript digits, so cell counts read
"1.20 × 10^8", the notation the release rules print too. Every string goes through `escape`
before it reaches a Paragraph: ISBT 128 data contains `<`, `&` and `=`, and reportlab reads
an unescaped `<` as markup and drops the text.
"""

from __future__ import annotations

import functools
import io
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table

from custody.domain.errors import ValidationFailed
from custody.domain.isbt128 import eye_readable_din

TITLE = "Certificate of Analysis and Release"
FONT, BOLD, MONO = "CertificateSans", "CertificateSans-Bold", "Courier"
MARGIN = 18 * mm
BODY_WIDTH = A4[0] - 2 * MARGIN
ALERT = colors.HexColor("#b00020")
RULE = colors.HexColor("#9e9e9e")
SHADE = colors.HexColor("#eeeeee")
KEY_VALUE_STYLE = [
    ("LINEBELOW", (0, 0), (-1, -1), 0.3, RULE),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
]
VERDICTS = {"pass": "PASS", "fail": "FAIL", "pending": "PENDING", "at allocation": "AT ALLOCATION"}


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
    verdict: str  # pass / fail / pending / at allocation
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
    _register_fonts()
    zone = _zone(data.timezone)
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 8 * mm,  # room for the footer
        title=f"{TITLE} {data.certificate_number}",
        subject=f"Lot {data.lot_number}",
        creator="custody",
        invariant=1,
    )
    footer = (f"{data.certificate_number} · Lot {data.lot_number}", data.content_checksum)
    doc.build(_story(data, zone), canvasmaker=functools.partial(_NumberedCanvas, footer=footer))
    return out.getvalue()


def format_cells(value: float) -> str:
    """A cell count as people write it: 1.20 × 10^8 (three significant figures)."""
    if not math.isfinite(value) or value <= 0:
        return f"{value:g}"
    mantissa, exponent = f"{value:.2e}".split("e")
    return f"{mantissa} × 10^{int(exponent)}"


# --- the story, section by section ------------------------------------------------------------


def _story(data: CertificateData, zone: ZoneInfo) -> list[Flowable]:
    story: list[Flowable] = [Paragraph(escape(TITLE), STYLES["title"])]
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
        ("Issued", _when(data.issued_at, zone)),
        ("Releasing facility", f"{data.facility_name}\n{data.facility_address}"),
        ("Product", f"{data.product_name} (product code {data.product_description_code})"),
        ("Lot number", data.lot_number),
        ("Specification", data.specification),
        ("Manufactured", _when(data.manufactured_at, zone)),
        ("Expires", _when(data.expires_at, zone)),
        ("Disposition", data.disposition),
    ]
    cells = [[_p(label, "label"), _p(value, "value")] for label, value in rows]
    table = Table(cells, colWidths=[40 * mm, BODY_WIDTH - 40 * mm], style=KEY_VALUE_STYLE)
    note = _p(f"Times are shown in the facility's time zone, {data.timezone}.", "small")
    return [table, note]


def _donors(data: CertificateData) -> list[Flowable]:
    rows = [
        [_DinWithCheck(d.din, d.check_character), _p(d.donor_code), _p(d.eligibility)]
        for d in data.donors
    ]
    story = [_p("Donors", "heading"), _grid(("DIN [K]", "Donor code", "Donor eligibility"), rows)]
    if data.warnings:
        lines = [_p(warning, "warning") for warning in data.warnings]
        story += [Spacer(0, 3 * mm), _boxed(lines, ALERT, 1.5)]
    return story


def _tests(data: CertificateData, zone: ZoneInfo) -> list[Flowable]:
    rows = []
    for t in data.tests:
        verdict = VERDICTS.get(t.verdict.strip().lower(), t.verdict.upper())
        entered = f"{t.entered_by}\n{_when(t.entered_at, zone)}" if t.entered_by else "—"
        verdict_style = "fail" if verdict == "FAIL" else "verdict"
        rows.append(
            [
                *_cells(t.title, t.specification, t.result or "—"),
                _p(verdict, verdict_style),
                *_cells(entered, _test_notes(t), style="small"),
            ]
        )
    if not data.tests:
        rows.append([_p("No release tests recorded"), "", "", "", "", ""])
    head = ("Test", "Specification", "Result", "Verdict", "Entered", "Notes")
    return [_p("Release testing", "heading"), _grid(head, rows, (30, 26, 22, 28, 33, 35))]


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
        _cells(
            b.code,
            b.division,
            f"{b.volume_ml:.1f}",
            format_cells(b.viable_car_nk_cells),
            format_cells(b.total_cells),
            b.dose_level or "—",
        )
        for b in data.bags
    ]
    volume = sum(b.volume_ml for b in data.bags)
    viable = sum(b.viable_car_nk_cells for b in data.bags)
    summary = (
        f"{len(data.bags)} bag{'s' if len(data.bags) != 1 else ''}, {volume:.1f} mL, "
        f"{format_cells(viable)} viable CAR+ NK cells in all."
    )
    head = ("Bag", "Division", "Volume (mL)", "Viable CAR+ NK cells", "Total cells", "Dose level")
    table = _grid(head, rows, (56, 18, 22, 30, 26, 22))
    return [_p("Bags", "heading"), _p(summary, "lead"), table]


def _deviations(data: CertificateData) -> list[Flowable]:
    if not data.deviations:
        return [_p("Deviations", "heading"), _p("No deviations recorded.")]
    rows = [_cells(str(d.sequence), d.step, d.reason) for d in data.deviations]
    table = _grid(("No.", "Step", "Deviation"), rows, (14, 50, 110))
    return [_p("Deviations", "heading"), table]


def _release_conditions(data: CertificateData) -> list[Flowable]:
    """The boxes a reader must not miss: results still pending, an exceptional release."""
    story: list[Flowable] = []
    if data.pending_tests:
        lines = [_p("CONDITIONAL RELEASE", "box_title")]
        lines.append(_p("These results were still pending when the lot was released:"))
        lines += [_p(f"• {title}", "bold") for title in data.pending_tests]
        story += [Spacer(0, 4 * mm), _boxed(lines, ALERT, 1.5)]
    if data.exceptional:
        physician, request, justification = data.exceptional
        lines = [
            _p("EXCEPTIONAL RELEASE", "box_title"),
            *_cells(
                f"Requesting physician: {physician}",
                f"Physician's request: {request}",
                f"Justification: {justification}",
            ),
        ]
        story += [Spacer(0, 4 * mm), _boxed(lines, ALERT, 1.5)]
    return story


def _signature(data: CertificateData, zone: ZoneInfo) -> list[Flowable]:
    sig = data.signature
    signed = _when(sig.signed_at, zone, seconds=True)
    manifestation = (
        f"Electronically signed by {sig.printed_name} ({sig.username}) on {signed} — "
        f"Meaning: {sig.meaning}"
    )
    lines = [_p(f"Disposition: {data.disposition}", "box_title"), _p(manifestation)]
    if sig.reason:
        lines.append(_p(f"Reason: {sig.reason}"))
    lines.append(_p(f"Content SHA-256: {data.content_checksum}", "mono"))
    return [
        _p("Disposition and signature", "heading"),
        _boxed(lines, colors.black, 1),
        Spacer(0, 5 * mm),
        _p(data.investigational_statement, "bold"),
    ]


# --- building blocks ---------------------------------------------------------------------------


def _style(name: str, font: str = FONT, size: float = 8.5, **extra) -> ParagraphStyle:
    return ParagraphStyle(name, fontName=font, fontSize=size, leading=size * 1.25, **extra)


STYLES = {
    "title": _style("title", BOLD, 16, spaceAfter=4 * mm),
    "heading": _style("heading", BOLD, 11, spaceBefore=5 * mm, spaceAfter=2 * mm, keepWithNext=1),
    "label": _style("label", BOLD),
    "value": _style("value"),
    "body": _style("body"),
    "lead": _style("lead", spaceAfter=2 * mm, keepWithNext=1),
    "bold": _style("bold", BOLD),
    "head": _style("head", BOLD, 8),
    "small": _style("small", size=7.5),
    "mono": _style("mono", MONO, 7.5, wordWrap="CJK"),
    "verdict": _style("verdict", BOLD, 7.5),
    "fail": _style("fail", BOLD, 7.5, textColor=ALERT),
    "warning": _style("warning", BOLD, 10.5, textColor=ALERT),
    "box_title": _style("box_title", BOLD, 11, spaceAfter=1 * mm),
}


def _p(text: str, style: str = "body") -> Paragraph:
    """A paragraph of plain text: markup characters escaped, line breaks kept."""
    return Paragraph(escape(text).replace("\n", "<br/>"), STYLES[style])


def _cells(*texts: str, style: str = "body") -> list[Paragraph]:
    return [_p(text, style) for text in texts]


def _grid(head: tuple[str, ...], rows: list[list], widths_mm=(70, 50, 54)) -> Table:
    """A ruled table whose header row repeats on every page it runs onto."""
    table = Table(
        [_cells(*head, style="head"), *rows],
        colWidths=[w * mm for w in widths_mm],
        repeatRows=1,
        splitInRow=1,
    )
    table.setStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.4, RULE),
            ("BACKGROUND", (0, 0), (-1, 0), SHADE),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ]
    )
    return table


def _boxed(flowables: list[Flowable], colour, width: float) -> Table:
    table = Table([[f] for f in flowables], colWidths=[BODY_WIDTH], splitInRow=1)
    table.setStyle(
        [
            ("BOX", (0, 0), (-1, -1), width, colour),
            ("LEFTPADDING", (0, 0), (-1, -1), 3 * mm),
            ("TOPPADDING", (0, 0), (0, 0), 2.5 * mm),
            ("BOTTOMPADDING", (0, -1), (-1, -1), 2.5 * mm),
        ]
    )
    return table


class _DinWithCheck(Flowable):
    """The DIN in its groups with the keyboard check character K in a box beside it."""

    SIZE = 9.5
    PAD = 1.6

    def __init__(self, din: str, check: str) -> None:
        super().__init__()
        self.text, self.check = eye_readable_din(din), check
        self.text_width = pdfmetrics.stringWidth(self.text, BOLD, self.SIZE)
        check_width = max(pdfmetrics.stringWidth(check, BOLD, self.SIZE), self.SIZE * 0.7)
        self.box = check_width + 2 * self.PAD
        self.width, self.height = self.text_width + 4 + self.box, self.SIZE + 2 * self.PAD

    def wrap(self, available_width, available_height):
        return self.width, self.height

    def draw(self) -> None:
        canvas, baseline = self.canv, self.PAD + self.SIZE * 0.18
        canvas.setFont(BOLD, self.SIZE)
        canvas.drawString(0, baseline, self.text)
        left = self.text_width + 4
        canvas.setLineWidth(0.8)
        canvas.rect(left, 0, self.box, self.height, stroke=1, fill=0)
        canvas.drawCentredString(left + self.box / 2, baseline, self.check)


class _NumberedCanvas(Canvas):
    """Holds each page until the end, then stamps every footer with the true page count."""

    def __init__(self, *args, footer: tuple[str, str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._footer = footer
        self._held: list[dict] = []

    def showPage(self) -> None:
        self._held.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._held)
        for state in self._held:
            self.__dict__.update(state)
            self._draw_footer(total)
            super().showPage()
        super().save()

    def _draw_footer(self, total: int) -> None:
        identity, checksum = self._footer
        width = A4[0]
        self.saveState()
        self.setStrokeColor(RULE)
        self.setLineWidth(0.4)
        self.line(MARGIN, MARGIN + 4 * mm, width - MARGIN, MARGIN + 4 * mm)
        self.setFont(FONT, 8)
        self.drawString(MARGIN, MARGIN, identity)
        self.drawRightString(width - MARGIN, MARGIN, f"Page {self._pageNumber} of {total}")
        self.setFont(MONO, 7)
        self.drawString(MARGIN, MARGIN - 4 * mm, f"Content SHA-256: {checksum}")
        self.restoreState()


# --- fonts and times ---------------------------------------------------------------------------


@functools.cache
def _register_fonts() -> None:
    """Vera from reportlab's own font folder (found by name), registered once per process."""
    pdfmetrics.registerFont(TTFont(FONT, "Vera.ttf"))
    pdfmetrics.registerFont(TTFont(BOLD, "VeraBd.ttf"))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=FONT, boldItalic=BOLD)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(
            f"{name!r} is not a known time zone; set the facility time zone to an IANA name "
            "such as 'Europe/London' before printing the certificate.",
            field="timezone",
        ) from exc


def _when(moment: datetime | None, zone: ZoneInfo, seconds: bool = False) -> str:
    """Local date and 24-hour time with the zone's abbreviation: '2026-03-14 09:30 GMT'."""
    if moment is None:
        return "Not recorded"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M{':%S' if seconds else ''}} {local.tzname()}"
