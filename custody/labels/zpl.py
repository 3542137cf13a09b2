"""ZPL II for Zebra thermal printers, from the same label templates the PDF renderer draws.

A lot goes to the printer as one job: one `^XA … ^XZ` format per label. The rules are the
PDF's (custody.labels.pdf): an element whose `when` field is empty is left out, a barcode
without data refuses the label, words are never cut (wrapped to `max_lines`, then set
smaller down to 5 pt, else LabelCannotPrint), and a grow_to_fit label widens for a long
barcode. Positions are the template's millimetres in printer dots (`dpmm`: 8 = 203 dpi,
12 = 300 dpi), and a module is never printed narrower than the template's X.

Words are measured with the PDF's font (DejaVu Sans) and broken into lines here; the
printer's scalable font 0 is condensed, so a line that fits in DejaVu fits on the printer too.
Font 0 has no superscript digits: powers of ten go to the printer as "10^9" (`printer_words`),
the one place a label does not print them raised.

All field data goes through `^FH` hex escapes, so a name holding `^XZ` or `~JA` stays
words on a label and never becomes a command. There is no ZPL rasteriser here (Labelary is
an online service), so ZPL is checked structurally by the tests (fields parsed back, data
un-escaped and compared, the Code 128 symbol characters rebuilt into the PDF's bars); the
PDF, whose barcodes the tests decode with zxing-cpp, is the decoded proof of the layout.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Iterable, Mapping

import barcode
from barcode.errors import BarcodeError
from reportlab.pdfbase.pdfmetrics import stringWidth

from custody.documents.pdf_layout import BOLD, FONT, register_fonts
from custody.domain.errors import LabelCannotPrint
from custody.domain.formatting import caret_powers
from custody.domain.isbt128 import check_character, eye_readable_din
from custody.labels.pdf import BANNER_PAD_MM, EDGE_MM, barcode_data, fill, fit_text
from custody.labels.symbols import code128_modules
from custody.labels.templates import LEADING, PT_PER_MM, QUIET_MODULES, Element, LabelTemplate

PRINTER_DPMM = (6, 8, 12, 24)  # 152, 203, 300 and 600 dpi Zebra print heads
MIN_MODULE_DOTS = 2
# How far below a ^A0 field's origin its baseline falls, as a share of the font height: an
# estimate for the printer's CG Triumvirate, used to put each baseline where the PDF has it.
FONT0_ASCENT = 0.77
JUSTIFY = {"left": "L", "centre": "C", "right": "R"}
# Characters a ZPL field may carry as they are: printable ASCII but the two command
# prefixes (^ and ~) and the ^FH escape indicator (_). Everything else is hex-escaped.
_PLAIN = frozenset(chr(c) for c in range(0x20, 0x7F)) - {"^", "~", "_"}

# Code 128 in ^BC mode N, with python-barcode's own subset choices written out as ZPL
# invocation codes (ZPL II guide, "Code 128 Invocation Characters"). Mode A (automatic)
# would let the printer pick its own subsets: a decoder would read the same data, but the
# symbol could have another width than the PDF's, and the quiet zones, centring and grown
# label width are all computed from the PDF's modules. Explicit codes draw the same bars.
_STARTS = {103: ("A", ">9"), 104: ("B", ">:"), 105: ("C", ">;")}
_SWITCHES = {  # (subset, symbol value) -> (new subset, invocation code)
    ("A", 99): ("C", ">5"),
    ("B", 99): ("C", ">5"),
    ("A", 100): ("B", ">6"),
    ("C", 100): ("B", ">6"),
    ("B", 101): ("A", ">7"),
    ("C", 101): ("A", ">7"),
}
# In subset B these three cannot be sent as themselves: > opens an invocation code, ^ and ~
# are command prefixes.
_SUBSET_B_SPECIAL = {30: ">0", 62: "><", 94: ">="}


def render_zpl(pages: Iterable[tuple[LabelTemplate, Mapping[str, str]]], dpmm: int = 12) -> str:
    """Labels as one ZPL job, one `^XA … ^XZ` format per label, in the order given."""
    if dpmm not in PRINTER_DPMM:
        raise ValueError(f"dpmm must be one of {PRINTER_DPMM} (dots per mm of a Zebra head)")
    register_fonts()
    return "".join(label_zpl(template, values, dpmm) for template, values in pages)


def label_zpl(template: LabelTemplate, values: Mapping[str, str], dpmm: int) -> str:
    """One label's format; LabelCannotPrint if it would print wrong (see the module doc)."""
    template_width = round(template.width_mm * dpmm)
    width = _width_dots(template, values, dpmm)
    label = _Label(dpmm, (width - template_width) // 2, template.grow_to_fit)
    for element in template.elements:
        if element.when and not values.get(element.when):
            continue
        EMIT[element.kind](label, element, values)
    head = f"^XA\n^CI28\n^PW{width}\n^LL{round(template.height_mm * dpmm)}\n^LH0,0\n"
    return head + "".join(line + "\n" for line in label.fields) + "^XZ\n"


def module_dots(module_mm: float, dpmm: int) -> int:
    """The printer's module: the template's X to the nearest dot, rounded up if that would
    print narrower than X (ISBT 128's X is a floor), and never under 2 dots."""
    dots = round(module_mm * dpmm)
    if dots < module_mm * dpmm - 1e-9:
        dots = math.ceil(module_mm * dpmm - 1e-9)
    return max(MIN_MODULE_DOTS, dots)


def escape(text: str, special: Mapping[str, str] | None = None) -> str:
    """Field data for `^FH^FD`: anything but plain printable ASCII as `_XX` hex of UTF-8."""
    special = special or {}
    return "".join(
        special.get(ch) or (ch if ch in _PLAIN else "".join(f"_{b:02X}" for b in ch.encode()))
        for ch in text
    )


@functools.lru_cache(maxsize=4096)
def code128_field_data(data: str) -> str:
    """`^BC` mode N field data that makes the printer draw python-barcode's symbol."""
    try:
        values = barcode.get("code128", data).encoded
    except BarcodeError:
        raise _not_encodable(data) from None
    subset, start = _STARTS[values[0]]
    out = [start]
    for value in values[1:]:
        if (subset, value) in _SWITCHES:
            subset, code = _SWITCHES[(subset, value)]
            out.append(code)
        elif subset == "C" and value < 100:
            out.append(f"{value:02d}")
        elif subset == "B" and value < 95:
            out.append(_SUBSET_B_SPECIAL.get(value) or escape(chr(value + 32)))
        else:  # subset A (control characters) or a function code: ISBT 128 data has neither
            raise _not_encodable(data)
    return "".join(out)


def _not_encodable(data: str) -> LabelCannotPrint:
    return LabelCannotPrint(
        f"The barcode data {data!r} holds characters a Code 128 label cannot carry; "
        "correct the data, then print.",
        data=data,
    )


@dataclasses.dataclass
class _Label:
    """One label being written: millimetres and points become dots, fields are collected."""

    dpmm: int
    shift: int  # dots a label grown for its barcode moves every element right
    grows: bool
    fields: list[str] = dataclasses.field(default_factory=list)

    def dots(self, mm: float) -> int:
        return round(mm * self.dpmm)

    def x(self, x_mm: float) -> int:
        return self.dots(x_mm) + self.shift

    def pt(self, points: float) -> int:
        return self.dots(points / PT_PER_MM)

    def top(self, baseline_mm: float, size_pt: float) -> int:
        """The ^FO of a font 0 field whose baseline falls where the PDF puts its baseline."""
        return self.dots(baseline_mm - FONT0_ASCENT * size_pt / PT_PER_MM)

    def field(self, x: int, y: int, *commands: str) -> None:
        self.fields.append(f"^FO{max(0, x)},{max(0, y)}" + "".join(commands) + "^FS")


def _width_dots(template: LabelTemplate, values: Mapping[str, str], dpmm: int) -> int:
    width = round(template.width_mm * dpmm)
    if not template.grow_to_fit:
        return width
    rooms = [
        _room_dots(e, barcode_data(e, values), dpmm)
        for e in template.elements
        if e.kind == "code128" and (not e.when or values.get(e.when))
    ]
    return max([width] + [room + 2 * round(EDGE_MM * dpmm) for room in rooms])


def _room_dots(e: Element, data: str, dpmm: int) -> int:
    code128_field_data(data)  # refuses data Code 128 cannot carry before it is measured
    return (len(code128_modules(data)) + 2 * QUIET_MODULES) * module_dots(e.module_mm, dpmm)


def _emit_code128(label: _Label, e: Element, values: Mapping[str, str]) -> None:
    data = barcode_data(e, values)
    module = module_dots(e.module_mm, label.dpmm)
    room, width = _room_dots(e, data, label.dpmm), label.dots(e.width_mm)
    if room > width and not label.grows:
        raise LabelCannotPrint(
            f"The barcode {data!r} needs {room / label.dpmm:.1f} mm with its quiet zones at "
            f"X = {module / label.dpmm:g} mm and the template gives it {e.width_mm:g} mm; use a "
            "template version with more room (bars are never squeezed below the X dimension).",
            data=data,
        )
    symbol = len(code128_modules(data)) * module
    left = label.x(e.x_mm) + QUIET_MODULES * module
    if e.align == "centre":
        left = label.x(e.x_mm) + (width - symbol) // 2
    bars = f"^BY{module}^BCN,{label.dots(e.height_mm)},N,N,N,N"
    label.field(left, label.dots(e.y_mm), bars, "^FH^FD", code128_field_data(data))
    if e.caption:  # eye-readable text under the bars, as its own field like the PDF's
        caption = dataclasses.replace(e, size_pt=e.caption_pt, max_lines=1)
        size, lines = fit_text(printer_words(e.caption, values), FONT, caption)
        _block(label, caption, lines, size, e.y_mm + e.height_mm + e.caption_pt / PT_PER_MM)


def _emit_datamatrix(label: _Label, e: Element, values: Mapping[str, str]) -> None:
    """ECC 200 with `_` named as its escape character (firmware defaults differ: `~` or `_`),
    so a `_` in the data is sent doubled and `~` is an ordinary character."""
    data = escape(barcode_data(e, values), {"_": "_5F_5F"})
    symbol = f"^BXN,{module_dots(e.module_mm, label.dpmm)},200,,,,_"
    label.field(label.x(e.x_mm), label.dots(e.y_mm), symbol, "^FH^FD", data)


def _emit_din(label: _Label, e: Element, values: Mapping[str, str]) -> None:
    """`W9999 26 000012 70 [K]`: the flags smaller, K in a box; spaced by Vera's widths."""
    din = values.get("din", "")
    if not din:
        raise LabelCannotPrint("The label needs the DIN and there is none.", field="din")
    size, grouped = e.size_pt, eye_readable_din(din)
    baseline = e.y_mm + size / PT_PER_MM  # the PDF's
    x = label.x(e.x_mm)
    label.field(x, label.top(baseline, size), _font(label, size), "^FH^FD", escape(grouped))
    x += label.pt(stringWidth(grouped + " ", BOLD, size))
    flags = values.get("din_flags", "")
    if flags:
        small = size * 0.6
        label.field(x, label.top(baseline, small), _font(label, small), "^FH^FD", escape(flags))
        x += label.pt(stringWidth(flags + " ", FONT, small))
    box, line = label.pt(stringWidth("W", BOLD, size) + size * 0.3), max(1, label.pt(0.6))
    box_top = label.dots(baseline - 0.83 * size / PT_PER_MM)  # the PDF's box around K
    label.field(x, box_top, f"^GB{box},{label.pt(size * 1.05)},{line}")
    k = escape(check_character(din))
    label.field(x, label.top(baseline, size), _font(label, size), f"^FB{box},1,0,C", "^FH^FD", k)


def printer_words(text: str, values: Mapping[str, str]) -> str:
    """A template's words with their values, in characters the printer's font 0 prints: it
    has Latin-1 ("×", "°") but no superscript digits, so "1.20 × 10⁸" goes as "1.20 × 10^8"."""
    return caret_powers(fill(text, values))


def _emit_text(label: _Label, e: Element, values: Mapping[str, str]) -> None:
    text = printer_words(e.text, values)
    font = BOLD if e.bold else FONT
    if e.banner:  # the words keep a margin inside their black band, as in the PDF
        e = dataclasses.replace(
            e, x_mm=e.x_mm + BANNER_PAD_MM, width_mm=e.width_mm - 2 * BANNER_PAD_MM
        )
    size, lines = fit_text(text, font, e)
    if e.banner:
        width = label.dots(e.width_mm + 2 * BANNER_PAD_MM)
        height = label.dots(len(lines) * size * LEADING / PT_PER_MM + 0.8)
        label.field(
            label.x(e.x_mm - BANNER_PAD_MM),
            label.dots(e.y_mm),
            f"^GB{width},{height},{min(width, height)}",
        )
    _block(label, e, lines, size, e.y_mm + 0.4 + size / PT_PER_MM, reverse=e.banner)


def _emit_rule(label: _Label, e: Element, values: Mapping[str, str]) -> None:
    thickness = max(1, label.dots(e.thickness_mm))
    top = label.dots(e.y_mm) - thickness // 2  # the PDF's line is centred on y
    label.field(label.x(e.x_mm), top, f"^GB{label.dots(e.width_mm)},{thickness},{thickness}")


def _block(label: _Label, e: Element, lines, size: float, baseline_mm: float, reverse=False):
    """Fitted lines joined by ^FB's own line break, the first on the PDF's first baseline;
    room for max_lines, so a printer that still wraps a line uses a spare line rather than
    printing over the last one."""
    height = max(1, label.pt(size))
    spacing = round(height * (LEADING - 1))
    block = f"^FB{label.dots(e.width_mm)},{e.max_lines},{spacing},{JUSTIFY[e.align]}"
    text = "\\&".join(escape(line, {"\\": "\\\\"}) for line in lines)
    commands = ("^FR",) if reverse else ()
    label.field(
        label.x(e.x_mm),
        label.top(baseline_mm, size),
        *commands,
        _font(label, size),
        block,
        "^FH^FD",
        text,
    )


def _font(label: _Label, size_pt: float) -> str:
    height = max(1, label.pt(size_pt))
    return f"^A0N,{height},{height}"


EMIT = {
    "code128": _emit_code128,
    "datamatrix": _emit_datamatrix,
    "din": _emit_din,
    "text": _emit_text,
    "rule": _emit_rule,
}
