"""A label PDF as a picture: what QA looks at before approving a template version.

The picture is the real print rasterised by pdfium (a PDF engine, not reportlab), so what QA
approves is what the printer gets, not a drawing made for the page. pdfium is not thread-safe,
and a server may render two previews at once: one lock serialises them.
"""

from __future__ import annotations

import io
import threading

import pypdfium2 as pdfium

PREVIEW_DPI = 200  # about 8 pixels a millimetre: a 0.25 mm bar is two pixels wide
_PDFIUM = threading.Lock()


def first_page_png(pdf: bytes, dpi: int = PREVIEW_DPI) -> bytes:
    """The PDF's first page as a PNG at `dpi`, on white."""
    with _PDFIUM:
        document = pdfium.PdfDocument(pdf)
        try:
            image = document[0].render(scale=dpi / 72).to_pil()
        finally:
            document.close()
    out = io.BytesIO()
    image.convert("RGB").save(out, format="PNG", optimize=True)
    return out.getvalue()
