"""Building blocks of the tracker's A4 documents: fonts, styles, ruled tables, boxes, the DIN
with its check character, a footer that knows the page count, and local times with their zone.

Text is set in DejaVu Sans, as installed with the matplotlib package (a dependency for its
font files only): the standard PDF fonts lack "≥" and "≤", which specifications use, and
Bitstream Vera (which reportlab ships) lacks the superscript digits of "1.86 × 10⁹". DejaVu is
Vera extended, with the same widths, so a layout fitted in one fits in the other. Every string
goes through `escape` before it reaches a Paragraph: ISBT 128 data contains `<`, `&` and `=`,
and reportlab reads an unescaped `<` as markup and drops the text.
"""

from __future__ import annotations

import functools
import importlib.util
import io
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import CondPageBreak, Flowable, Paragraph, SimpleDocTemplate, Table

from custody.domain.isbt128 import eye_readable_din

# Compressed page streams are stored as binary, not also spelled out in ASCII85 (reportlab's
# default, for 7-bit channels): a fifth smaller and no work to encode. Every PDF here is
# stored or served as bytes. reportlab reads the setting when it writes a document.
rl_config.useA85 = 0

FONT, BOLD, MONO = "CertificateSans", "CertificateSans-Bold", "Courier"
MARGIN = 18 * mm
BODY_WIDTH = A4[0] - 2 * MARGIN
ALERT = colors.HexColor("#b00020")
RULE = colors.HexColor("#9e9e9e")
SHADE = colors.HexColor("#eeeeee")
SECTION_ROOM = 40 * mm  # a heading, a table's header row and its first rows


def _style(name: str, font: str = FONT, size: float = 8.5, **extra) -> ParagraphStyle:
    return ParagraphStyle(name, fontName=font, fontSize=size, leading=size * 1.25, **extra)


STYLES = {
    "title": _style("title", BOLD, 16, spaceAfter=4 * mm),
    "heading": _style("heading", BOLD, 11, spaceBefore=5 * mm, spaceAfter=2 * mm, keepWithNext=1),
    "label": _style("label", BOLD),
    "value": _style("value"),
    "body": _style("body"),
    "lead": _style("lead", spaceAfter=2 * mm, keepWithNext=1),
    # A section over a table that may run onto further pages: see `section`.
    "section": _style("section", BOLD, 11, spaceBefore=5 * mm, spaceAfter=2 * mm),
    "intro": _style("intro", spaceAfter=2 * mm),
    "bold": _style("bold", BOLD),
    "head": _style("head", BOLD, 8),
    "small": _style("small", size=7.5),
    "mono": _style("mono", MONO, 7.5, wordWrap="CJK"),
    "verdict": _style("verdict", BOLD, 7.5),
    "fail": _style("fail", BOLD, 7.5, textColor=ALERT),
    "warning": _style("warning", BOLD, 10.5, textColor=ALERT),
    "box_title": _style("box_title", BOLD, 11, spaceAfter=1 * mm),
}


def paragraph(text: str, style: str = "body") -> Paragraph:
    """A paragraph of plain text: markup characters escaped, line breaks kept."""
    return Paragraph(escape(text).replace("\n", "<br/>"), STYLES[style])


def section(title: str, *flowables: Flowable, lead: str = "") -> list[Flowable]:
    """A heading, an optional lead line and what follows, which may run onto further pages.

    A heading kept with its next flowable (`keepWithNext`) moves with it to a new page when the
    two do not fit in what is left of this one, so a long table after it would leave the page
    before empty. Here a new page starts only when less than `SECTION_ROOM` is left: the heading
    never stands alone at a page's foot, and a long table starts under it and splits.
    """
    opening = [CondPageBreak(SECTION_ROOM), paragraph(title, "section")]
    return opening + ([paragraph(lead, "intro")] if lead else []) + list(flowables)


def cells(*texts: str, style: str = "body") -> list[Paragraph]:
    return [paragraph(text, style) for text in texts]


def grid(head: tuple[str, ...], rows: list[list], widths_mm=(70, 50, 54)) -> Table:
    """A ruled table whose header row repeats on every page it runs onto."""
    table = Table(
        [cells(*head, style="head"), *rows],
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


def boxed(flowables: list[Flowable], colour, width: float) -> Table:
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


class DinWithCheck(Flowable):
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


class NumberedCanvas(Canvas):
    """Holds each page until the end, then stamps every footer with the true page count.

    The footer is laid out across whatever page size the document has; `CHECKSUM_LABEL` names
    the hash printed under it (a subclass says what its document's hash covers)."""

    CHECKSUM_LABEL = "Content SHA-256"

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
        width = self._pagesize[0]
        self.saveState()
        self.setStrokeColor(RULE)
        self.setLineWidth(0.4)
        self.line(MARGIN, MARGIN + 4 * mm, width - MARGIN, MARGIN + 4 * mm)
        self.setFont(FONT, 8)
        self.drawString(MARGIN, MARGIN, identity)
        self.drawRightString(width - MARGIN, MARGIN, f"Page {self._pageNumber} of {total}")
        self.setFont(MONO, 7)
        self.drawString(MARGIN, MARGIN - 4 * mm, f"{self.CHECKSUM_LABEL}: {checksum}")
        self.restoreState()


# --- fonts and times ---------------------------------------------------------------------------


@functools.cache
def register_fonts() -> None:
    """DejaVu Sans and its bold, registered once per process, lean (see `lean_truetype`).

    A document embeds only the glyphs it draws: `asciiReadable=0` stops reportlab from putting
    all of printable ASCII in every font subset (so that the content stream reads as ASCII);
    the ToUnicode map each subset carries gives a reader the words either way."""
    pdfmetrics.registerFont(TTFont(FONT, lean_font("DejaVuSans.ttf"), asciiReadable=0))
    pdfmetrics.registerFont(TTFont(BOLD, lean_font("DejaVuSans-Bold.ttf"), asciiReadable=0))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=FONT, boldItalic=BOLD)


def lean_font(name: str) -> io.BytesIO:
    path = font_file(name)
    stream = io.BytesIO(lean_truetype(path.read_bytes()))
    stream.name = path.name  # what reportlab calls the font's file
    return stream


def font_file(name: str) -> Path:
    """A TrueType file of the installed matplotlib package, found without importing it (an
    import would cost a PDF's first render a good part of a second)."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:
        raise RuntimeError("The matplotlib package (for its DejaVu fonts) is not installed.")
    return Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / name


# --- lean TrueType ------------------------------------------------------------------------------
#
# reportlab embeds a subset of the glyphs a document draws, but copies three things whole into
# every subset: the name table (DejaVu's carries its 14 KB licence text twice), the hinting
# programs (fpgm, prep, cvt) and each glyph's own hinting instructions. Together they were
# most of a label PDF. Hinting only nudges outlines towards a coarse pixel grid: without it a
# renderer that applies it shades a stem's edge pixels a little differently, and no outline,
# no width (hmtx, what layouts are measured with) and no character mapping changes. The
# licence stays named by its URL (name ID 14) beside the copyright notice (name ID 0).

HINTING_TABLES = ("fpgm", "prep", "cvt ")
LICENCE_DESCRIPTION = 13  # name ID of the licence's full text


def lean_truetype(data: bytes) -> bytes:
    """The font without hinting and without its licence's full text; outlines and metrics as
    they were. The same font always gives the same bytes (no time stamp is renewed), so a
    label's bytes stay a function of what it says."""
    from fontTools.ttLib import TTFont as FontFile  # only when a PDF is first drawn

    # Outlines are not touched, so their bounding boxes stand as the font gives them; not
    # recomputing them keeps each glyph compact (a tenth of a second instead of a second).
    font = FontFile(io.BytesIO(data), recalcTimestamp=False, recalcBBoxes=False)
    for tag in HINTING_TABLES:
        if tag in font:
            del font[tag]
    glyphs = font["glyf"]
    for name in font.getGlyphOrder():
        glyphs.glyphs[name].trim(remove_hinting=True)  # fontTools' subsetter's own way
    font["name"].removeNames(nameID=LICENCE_DESCRIPTION)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def document(out, title: str, subject: str, pagesize=A4, **kwargs) -> SimpleDocTemplate:
    """The house document: margins, room for the numbered footer, metadata."""
    return SimpleDocTemplate(
        out,
        pagesize=pagesize,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 8 * mm,  # room for the footer
        title=title,
        subject=subject,
        creator="custody",
        **kwargs,
    )
