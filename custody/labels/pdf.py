"""A label template drawn as vector PDF with reportlab: bars and modules as one path each.

Nothing is a bitmap, so the print is as sharp as the printer. Text is never cut: a text that
does not fit its room in `max_lines` lines at its size is set smaller, down to a floor, and a
label whose text still does not fit is not printed (LabelCannotPrint), because a statement cut
short on a label is a wrong label. Output is deterministic (reportlab's invariant mode), so the
SHA-256 of a label's bytes identifies what was printed.

Every label issued is stored, so labels are most of a database: streams are compressed and the
fonts carry only the glyphs drawn, without hinting (pdf_layout), which keeps a stored label
under 20 KB (DESIGN.md).
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterable, Mapping

from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from custody.documents.pdf_layout import BOLD, FONT, register_fonts
from custody.domain.errors import LabelCannotPrint
from custody.domain.isbt128 import check_character, eye_readable_din
from custody.labels.symbols import code128_modules, dark_runs, datamatrix_modules
from custody.labels.templates import LEADING, QUIET_MODULES, Element, LabelTemplate

MIN_TEXT_PT = 5.0
SHRINK_STEP = 0.5
BANNER_PAD_MM = 1.0
EDGE_MM = 1.5
ELLIPSIS = "…"  # the margin a label grown to fit its barcode keeps on each side


def render_pdf(pages: Iterable[tuple[LabelTemplate, Mapping[str, str]]], title: str) -> bytes:
    """Labels as one PDF, one label per page, each page the size of its template."""
    register_fonts()
    out = io.BytesIO()
    canvas = Canvas(out, invariant=1, pageCompression=1)
    canvas.setTitle(title)
    canvas.setCreator("custody")
    for template, values in pages:
        draw_label(canvas, template, values)
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def draw_label(canvas: Canvas, template: LabelTemplate, values: Mapping[str, str]) -> None:
    width = _page_width(template, values)
    canvas.setPageSize((width * mm, template.height_mm * mm))
    page = _Page(canvas, template.height_mm, (width - template.width_mm) / 2, template.grow_to_fit)
    for element in template.elements:
        if element.when and not values.get(element.when):
            continue
        DRAW[element.kind](page, element, values)


class _Page:
    """The canvas with the template's coordinates: millimetres down from the top-left corner."""

    def __init__(self, canvas: Canvas, height_mm: float, shift_mm: float, grows: bool) -> None:
        self.canvas = canvas
        self.height_mm = height_mm
        self.shift_mm = shift_mm
        self.grows = grows

    def x(self, x_mm: float) -> float:
        return (x_mm + self.shift_mm) * mm

    def y(self, y_mm: float) -> float:
        return (self.height_mm - y_mm) * mm


def _page_width(template: LabelTemplate, values: Mapping[str, str]) -> float:
    if not template.grow_to_fit:
        return template.width_mm
    widest = max(
        (
            _symbol_room_mm(e, barcode_data(e, values))
            for e in template.elements
            if e.kind == "code128" and not (e.when and not values.get(e.when))
        ),
        default=0.0,
    )
    return max(template.width_mm, widest + 2 * EDGE_MM)


def _symbol_room_mm(element: Element, data: str) -> float:
    return (len(code128_modules(data)) + 2 * QUIET_MODULES) * element.module_mm


def fill(text: str, values: Mapping[str, str]) -> str:
    """The text with its {field}s filled in; a field the caller did not supply stops the print."""
    try:
        return text.format_map(values)
    except KeyError as exc:
        raise LabelCannotPrint(
            f"The label prints {{{exc.args[0]}}} and no value was given for it.",
            field=exc.args[0],
        ) from None


def barcode_data(element: Element, values: Mapping[str, str]) -> str:
    data = values.get(element.data, "")
    if not data:
        raise LabelCannotPrint(
            f"The label needs {element.data.replace('_', ' ')} for its barcode and there is "
            "none: record it first, then print.",
            field=element.data,
        )
    return data


def _draw_code128(page: _Page, e: Element, values: Mapping[str, str]) -> None:
    data = barcode_data(e, values)
    pattern = code128_modules(data)
    room = _symbol_room_mm(e, data)
    if room > e.width_mm + 1e-9 and not page.grows:
        raise LabelCannotPrint(
            f"The barcode {data!r} needs {room:.1f} mm with its quiet zones at "
            f"X = {e.module_mm} mm and the template gives it {e.width_mm:g} mm; use a template "
            "version with more room (bars are never squeezed below the X dimension).",
            data=data,
        )
    symbol = len(pattern) * e.module_mm
    left = e.x_mm + QUIET_MODULES * e.module_mm
    if e.align == "centre":
        left = e.x_mm + (e.width_mm - symbol) / 2
    path = page.canvas.beginPath()
    bottom = page.y(e.y_mm + e.height_mm)
    for start, run in dark_runs(pattern):
        path.rect(
            page.x(left + start * e.module_mm), bottom, run * e.module_mm * mm, e.height_mm * mm
        )
    page.canvas.setFillColorRGB(0, 0, 0)
    page.canvas.drawPath(path, stroke=0, fill=1)
    if e.caption:
        caption = fill(e.caption, values)
        baseline = e.y_mm + e.height_mm + e.caption_pt / _PT_PER_MM
        _line(page, caption, FONT, e.caption_pt, e, baseline)


def _draw_datamatrix(page: _Page, e: Element, values: Mapping[str, str]) -> None:
    data = barcode_data(e, values)
    rows = datamatrix_modules(data)
    if (
        len(rows[0]) * e.module_mm > e.width_mm + 1e-9
        or len(rows) * e.module_mm > e.width_mm + 1e-9
    ):
        raise LabelCannotPrint(
            f"The Data Matrix of {data!r} needs {len(rows[0])} × {len(rows)} modules of "
            f"{e.module_mm} mm and the template gives it {e.width_mm:g} mm; use a template "
            "version with more room.",
            data=data,
        )
    path = page.canvas.beginPath()
    size = e.module_mm * mm
    for r, row in enumerate(rows):
        top = page.y(e.y_mm + (r + 1) * e.module_mm)
        # a run of dark modules along a row is one rectangle: the same ink, half the rectangles
        for start, run in dark_runs("".join("1" if dark else "0" for dark in row)):
            path.rect(page.x(e.x_mm + start * e.module_mm), top, run * size, size)
    page.canvas.setFillColorRGB(0, 0, 0)
    page.canvas.drawPath(path, stroke=0, fill=1)


def _draw_din(page: _Page, e: Element, values: Mapping[str, str]) -> None:
    """`W9999 26 000012 70 [K]`: the flags smaller, K bold in a box (ST-001 / DOMAIN.md §2)."""
    din = fill("{din}", values)
    canvas, size = page.canvas, e.size_pt
    baseline = page.y(e.y_mm + size / _PT_PER_MM)
    x = page.x(e.x_mm)
    grouped = eye_readable_din(din)
    canvas.setFillColorRGB(0, 0, 0)
    canvas.setFont(BOLD, size)
    canvas.drawString(x, baseline, grouped)
    x += stringWidth(grouped + " ", BOLD, size)
    flags = values.get("din_flags", "")
    if flags:
        canvas.setFont(FONT, size * 0.6)
        canvas.drawString(x, baseline, flags)
        x += stringWidth(flags + " ", FONT, size * 0.6)
    k = check_character(din)
    box = stringWidth("W", BOLD, size) + size * 0.3
    canvas.setLineWidth(0.6)
    canvas.rect(x, baseline - size * 0.22, box, size * 1.05, stroke=1, fill=0)
    canvas.setFont(BOLD, size)
    canvas.drawCentredString(x + box / 2, baseline, k)


def _draw_text(page: _Page, e: Element, values: Mapping[str, str]) -> None:
    text = fill(e.text, values)
    font = BOLD if e.bold else FONT
    if e.banner:  # the words keep a margin inside their black band
        e = dataclasses.replace(
            e, x_mm=e.x_mm + BANNER_PAD_MM, width_mm=e.width_mm - 2 * BANNER_PAD_MM
        )
    size, lines = fit_text(text, font, e)
    leading = size * LEADING / _PT_PER_MM
    if e.banner:
        page.canvas.setFillColorRGB(0, 0, 0)
        height = len(lines) * leading + 0.8
        left, width = e.x_mm - BANNER_PAD_MM, e.width_mm + 2 * BANNER_PAD_MM
        page.canvas.rect(page.x(left), page.y(e.y_mm + height), width * mm, height * mm, 0, 1)
    for n, line in enumerate(lines):
        baseline = e.y_mm + 0.4 + n * leading + size / _PT_PER_MM
        _line(page, line, font, size, e, baseline, white=e.banner)


def _draw_rule(page: _Page, e: Element, values: Mapping[str, str]) -> None:
    page.canvas.setLineWidth(e.thickness_mm * mm)
    page.canvas.setStrokeColorRGB(0, 0, 0)
    page.canvas.line(page.x(e.x_mm), page.y(e.y_mm), page.x(e.x_mm + e.width_mm), page.y(e.y_mm))


def fit_text(text: str, font: str, e: Element) -> tuple[float, list[str]]:
    """The largest size from the template's down to the floor at which the text fits."""
    size = e.size_pt
    while True:
        lines = [
            part
            for paragraph in text.split("\n")
            for part in (simpleSplit(paragraph, font, size, e.width_mm * mm) or [""])
        ]
        if len(lines) <= e.max_lines and all(
            stringWidth(line, font, size) <= e.width_mm * mm + 0.01 for line in lines
        ):
            return size, lines
        if size - SHRINK_STEP < MIN_TEXT_PT and e.overflow == "cut_start":
            return size, _cut_start(lines, font, size, e)
        if size - SHRINK_STEP < MIN_TEXT_PT:
            raise LabelCannotPrint(
                f"The words {text[:60]!r} do not fit their place on the label even at "
                f"{MIN_TEXT_PT:g} pt; the template needs more room for them.",
                text=text,
            )
        size -= SHRINK_STEP


def _cut_start(lines: list[str], font: str, size: float, e: Element) -> list[str]:
    """The last `max_lines` lines, the first of them opening with an ellipsis."""
    kept = lines[-e.max_lines :]
    first = ELLIPSIS + kept[0]
    while len(first) > 1 and stringWidth(first, font, size) > e.width_mm * mm:
        first = ELLIPSIS + first[2:]
    return [first, *kept[1:]]


def _line(page, text, font, size, e: Element, baseline_mm: float, white: bool = False) -> None:
    canvas = page.canvas
    canvas.setFont(font, size)
    if white:
        canvas.setFillColorRGB(1, 1, 1)
    else:
        canvas.setFillColorRGB(0, 0, 0)
    y = page.y(baseline_mm)
    if e.align == "centre":
        canvas.drawCentredString(page.x(e.x_mm + e.width_mm / 2), y, text)
    elif e.align == "right":
        canvas.drawRightString(page.x(e.x_mm + e.width_mm), y, text)
    else:
        canvas.drawString(page.x(e.x_mm), y, text)
    canvas.setFillColorRGB(0, 0, 0)


_PT_PER_MM = 72 / 25.4
DRAW = {
    "code128": _draw_code128,
    "datamatrix": _draw_datamatrix,
    "din": _draw_din,
    "text": _draw_text,
    "rule": _draw_rule,
}
