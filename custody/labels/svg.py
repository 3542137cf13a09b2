"""Code 128 as SVG for a page to print: the scan station's sheet of command barcodes.

python-barcode's SVG writer draws the bars (it switches to subset C for digit runs, as the
labels' symbols do). Its quiet zone is set to 10 modules, the ISBT 128 minimum (its default is
narrower, DESIGN.md). The drawing is returned as an `<svg>` element to place in HTML: no XML
declaration, no DOCTYPE, and fills as attributes rather than `style`, so a page whose content
security policy forbids inline styles still draws it.
"""

from __future__ import annotations

import barcode
from barcode.writer import SVGWriter

# 0.4 mm bars: larger than a label's 0.25 mm, so a worn scanner at arm's length reads a sheet
# printed on an office printer.
SHEET_MODULE_MM = 0.4
QUIET_ZONE_MODULES = 10


class _InlineSVGWriter(SVGWriter):
    """The SVG writer's drawing as one `<svg>` element with presentation attributes."""

    def __init__(self, label: str) -> None:
        super().__init__()
        self.with_doctype = False
        self._label = label

    def _finish(self) -> bytes:
        for node in self._document.getElementsByTagName("rect"):
            fill = node.getAttribute("style").removeprefix("fill:").rstrip(";")
            node.removeAttribute("style")
            node.setAttribute("fill", fill)
        for node in list(self._root.childNodes):
            if node.nodeType == node.COMMENT_NODE:
                self._root.removeChild(node)
        # One id per page: a sheet holds several symbols.
        self._group.removeAttribute("id")
        self._root.setAttribute("role", "img")
        self._root.setAttribute("aria-label", self._label)
        self._root.setAttribute("shape-rendering", "crispEdges")
        return self._root.toxml().encode()


def code128_svg(data: str, module_mm: float = SHEET_MODULE_MM, height_mm: float = 15.0) -> str:
    """`data` as a Code 128 symbol in an inline `<svg>`, sized in millimetres, no text."""
    symbol = barcode.get("code128", data, writer=_InlineSVGWriter(f"Code 128 barcode: {data}"))
    options = {
        "module_width": module_mm,
        "module_height": height_mm,
        "quiet_zone": QUIET_ZONE_MODULES * module_mm,
        "write_text": False,
    }
    return symbol.render(writer_options=options).decode()
