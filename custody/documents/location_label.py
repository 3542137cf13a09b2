"""A storage location's label: a Code 128 barcode of its code, the code and where it is, in words.

The barcode is what a scanner at the freezer reads (`LOC-…`, see custody.domain.scan_targets),
so it is drawn to the same print rules as the product labels (ISBT 128 practice): module width
(X) 0.25–0.33 mm, a quiet zone of at least 10 X on both sides, bars 10 mm high, and the
eye-readable code printed under it. python-barcode supplies the module pattern (switching to
subset C for digit runs); the bars are drawn as vector rectangles, never as a bitmap, so the
print is as sharp as the printer. The label is 50 × 25 mm; a long code widens it rather than
squeezing the bars below 0.25 mm. Several labels print as one PDF, one label per page.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass

import barcode
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

LABEL_WIDTH = 50 * mm
LABEL_HEIGHT = 25 * mm
MARGIN = 1.5 * mm
MAX_MODULE = 0.33 * mm
MIN_MODULE = 0.25 * mm
QUIET_MODULES = 10
BAR_HEIGHT = 10 * mm
CODE_FONT = ("Helvetica-Bold", 9)
NAME_FONT = ("Helvetica", 7)
PATH_FONT = ("Helvetica", 5.5)
MIN_FONT_SIZE = 4.0
ELLIPSIS = "…"


@dataclass(frozen=True)
class LocationLabel:
    """What one label shows: the code (barcoded and printed), its kind, name and path."""

    code: str
    name: str
    kind: str
    path: str


def render_location_label(code: str, name: str, kind: str, path: str) -> bytes:
    """One location's label as a PDF."""
    return render_location_labels([LocationLabel(code, name, kind, path)])


def render_location_labels(labels: Iterable[LocationLabel]) -> bytes:
    """Labels as one PDF, a page each (a box and its positions go to the printer together)."""
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=(LABEL_WIDTH, LABEL_HEIGHT), invariant=1)
    canvas.setTitle("Storage location labels")
    canvas.setCreator("custody")
    for label in labels:
        _draw(canvas, label)
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def code128_modules(code: str) -> str:
    """The bar pattern of `code`: '1' a dark module, '0' a light one, no quiet zones."""
    return "".join(barcode.get("code128", code).build())


def module_width(modules: int) -> float:
    """The widest X in the allowed range that fits the label; never below the minimum."""
    fits = (LABEL_WIDTH - 2 * MARGIN) / (modules + 2 * QUIET_MODULES)
    return max(MIN_MODULE, min(MAX_MODULE, fits))


def _draw(canvas: Canvas, label: LocationLabel) -> None:
    pattern = code128_modules(label.code)
    x_dim = module_width(len(pattern))
    symbol_width = (len(pattern) + 2 * QUIET_MODULES) * x_dim
    width = max(LABEL_WIDTH, symbol_width + 2 * MARGIN)
    canvas.setPageSize((width, LABEL_HEIGHT))
    bar_bottom = LABEL_HEIGHT - MARGIN - BAR_HEIGHT
    _draw_bars(canvas, pattern, (width - len(pattern) * x_dim) / 2, bar_bottom, x_dim)
    centre = width / 2
    text_width = width - 2 * MARGIN
    _centred(canvas, label.code, CODE_FONT, centre, bar_bottom - 3.5 * mm, text_width)
    name = f"{label.name} ({label.kind})"
    _centred(canvas, name, NAME_FONT, centre, bar_bottom - 7.2 * mm, text_width)
    _centred(canvas, label.path, PATH_FONT, centre, MARGIN + 0.6 * mm, text_width, keep_end=True)


def _draw_bars(canvas: Canvas, pattern: str, left: float, bottom: float, x_dim: float) -> None:
    """Each run of dark modules as one filled rectangle, all in one path."""
    path = canvas.beginPath()
    start = None
    for i, module in enumerate(pattern + "0"):
        if module == "1" and start is None:
            start = i
        elif module == "0" and start is not None:
            path.rect(left + start * x_dim, bottom, (i - start) * x_dim, BAR_HEIGHT)
            start = None
    canvas.setFillColorRGB(0, 0, 0)
    canvas.drawPath(path, stroke=0, fill=1)


def _centred(canvas, text, font, centre, baseline, max_width, keep_end=False) -> None:
    """Draw `text` centred, shrinking the font to fit, then cutting it with an ellipsis.

    A path is cut at its start (`keep_end`): the end says where exactly the location is.
    """
    name, size = font
    while size > MIN_FONT_SIZE and stringWidth(text, name, size) > max_width:
        size -= 0.25
    while len(text) > 1 and stringWidth(text, name, size) > max_width:
        text = ELLIPSIS + text[2:] if keep_end else text[:-2] + ELLIPSIS
    canvas.setFont(name, size)
    canvas.drawCentredString(centre, baseline, text)
