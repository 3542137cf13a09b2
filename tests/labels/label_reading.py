"""Reading a label PDF back the way a scanner and a person would: pixels, barcodes and words.

Label tests never trust the renderer's own idea of what it drew. They rasterise the PDF with
pdfium (a real PDF engine, not reportlab), decode every symbol with zxing-cpp and read the words
with pypdf, so a label that looks right to the code but scans wrong to a real reader fails.
300 dpi gives X = 0.25 mm about 3 pixels, what decoding needs (DESIGN.md); 600 dpi is for
measuring bars.
"""

from __future__ import annotations

import io
import math

import pypdf
import pypdfium2 as pdfium
import zxingcpp
from PIL import Image

MM_PER_INCH = 25.4
POINTS_PER_MM = 72 / MM_PER_INCH
DARK = 128  # a grey level below this is ink


def rasterise(pdf: bytes, dpi: int = 300) -> list[Image.Image]:
    """Every page as a greyscale image at `dpi`."""
    document = pdfium.PdfDocument(pdf)
    try:
        return [page.render(scale=dpi / 72).to_pil().convert("L") for page in document]
    finally:
        document.close()


def decode(image: Image.Image) -> list[tuple[str, str]]:
    """Every symbol zxing-cpp finds, as (format name, decoded text), sorted for comparing."""
    return sorted((result.format.name, result.text) for result in zxingcpp.read_barcodes(image))


def page_texts(pdf: bytes) -> list[str]:
    """The words of each page as pypdf extracts them (lines as drawn, wrapped text split)."""
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def normalise(text: str) -> str:
    """Runs of whitespace as one space: wrapped text compares equal to the words it wraps."""
    return " ".join(text.split())


def text_runs(pdf: bytes) -> list[list[tuple[str, float]]]:
    """Each page's shown strings with the size they are set at on the page, in points."""
    return [_runs(page) for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def _runs(page: pypdf.PageObject) -> list[tuple[str, float]]:
    runs: list[tuple[str, float]] = []

    def visit(text, cm, tm, font_dict, font_size):
        if text.strip():
            runs.append((text.strip(), font_size * _scale(tm, cm)))

    page.extract_text(visitor_text=visit)
    return runs


def _scale(tm: list[float], cm: list[float]) -> float:
    """The vertical scale of the text matrix times the current transformation matrix."""
    a, b, c, d = (
        tm[0] * cm[0] + tm[1] * cm[2],
        tm[0] * cm[1] + tm[1] * cm[3],
        tm[2] * cm[0] + tm[3] * cm[2],
        tm[2] * cm[1] + tm[3] * cm[3],
    )
    return math.sqrt(abs(a * d - b * c))


def page_sizes_mm(pdf: bytes) -> list[tuple[float, float]]:
    """(width, height) of each page in millimetres."""
    return [
        (float(page.mediabox.width) / POINTS_PER_MM, float(page.mediabox.height) / POINTS_PER_MM)
        for page in pypdf.PdfReader(io.BytesIO(pdf)).pages
    ]


def dark_spans(image: Image.Image, row: int, start: int = 0, end: int | None = None):
    """(first, last) columns of each run of ink along one pixel row, between start and end."""
    end = image.width if end is None else min(end, image.width)
    pixels = image.crop((start, row, end, row + 1)).tobytes()
    spans, first = [], None
    for offset, grey in enumerate(pixels + bytes([255])):
        if grey < DARK and first is None:
            first = offset
        elif grey >= DARK and first is not None:
            spans.append((start + first, start + offset - 1))
            first = None
    return spans


def dark_height(image: Image.Image, column: int, row: int) -> int:
    """How many pixels of ink run unbroken up and down through (column, row)."""
    pixels = image.crop((column, 0, column + 1, image.height)).tobytes()
    top = bottom = row
    while top > 0 and pixels[top - 1] < DARK:
        top -= 1
    while bottom < image.height - 1 and pixels[bottom + 1] < DARK:
        bottom += 1
    return bottom - top + 1
