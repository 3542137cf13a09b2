"""Location labels (the storage_position template): a real decoder reads the code back, and the
print follows the barcode rules."""

from __future__ import annotations

import io

import pypdf
import pypdfium2 as pdfium
import pytest
import zxingcpp

from custody.config import SHIPPED_LABEL_TEMPLATES
from custody.labels.library import load_library
from custody.labels.pdf import render_pdf
from custody.labels.symbols import code128_modules
from custody.services.bags.storage import LocationRequest, create_location
from custody.services.labelling.jobs import location_labels

DPI = 300
MM_PER_INCH = 25.4
POINTS_PER_MM = 72 / MM_PER_INCH


TEMPLATE = load_library(SHIPPED_LABEL_TEMPLATES).get("storage_position", 1)


def _values(code: str, name: str, kind: str, path: str) -> dict[str, str]:
    return {
        "location_barcode": code,
        "code": code,
        "name_and_kind": f"{name} ({kind})",
        "path": path,
    }


def render_location_label(code: str, name: str, kind: str, path: str) -> bytes:
    return render_pdf([(TEMPLATE, _values(code, name, kind, path))], "Location label")


def _pages(pdf: bytes, dpi: int = DPI):
    document = pdfium.PdfDocument(pdf)
    try:
        return [page.render(scale=dpi / 72).to_pil().convert("L") for page in document]
    finally:
        document.close()


def _decoded(image) -> list[str]:
    return [
        result.text
        for result in zxingcpp.read_barcodes(image)
        if result.format == zxingcpp.BarcodeFormat.Code128
    ]


def _text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


@pytest.mark.parametrize(
    "code",
    [
        "LOC-F01",
        "LOC-SITE01",
        "LOC-LN2-01-R01-B01-P01",
        "LOC-20260101-1234567",  # digit runs: subset C
        "LOC-" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[:35],  # the longest code allowed
    ],
)
def test_a_decoder_reads_the_code_and_the_code_is_printed(code):
    pdf = render_location_label(code, "Box 7", "box", "Cell therapy lab › LN2 freezer 1 › Box 7")
    (image,) = _pages(pdf)
    assert _decoded(image) == [code]
    (text,) = _text(pdf)
    assert code in text
    assert "Box 7 (box)" in text


def _dark_columns(image, row: int) -> list[int]:
    return [x for x in range(image.width) if image.getpixel((x, row)) < 128]


def _dark_run(image, column: int, start_row: int) -> int:
    top = start_row
    while top > 0 and image.getpixel((column, top - 1)) < 128:
        top -= 1
    bottom = start_row
    while bottom < image.height - 1 and image.getpixel((column, bottom + 1)) < 128:
        bottom += 1
    return bottom - top + 1


@pytest.mark.parametrize("code", ["LOC-F01", "LOC-F01-R01-B01-P01", "LOC-" + "X" * 35])
def test_bars_quiet_zones_and_size_follow_the_print_rules(code):
    dpi = 600
    pdf = render_location_label(code, "Position 1", "position", "Lab › Position 1")
    page = pypdf.PdfReader(io.BytesIO(pdf)).pages[0]
    width_mm = float(page.mediabox.width) / POINTS_PER_MM
    height_mm = float(page.mediabox.height) / POINTS_PER_MM
    assert height_mm == pytest.approx(25, abs=0.01)
    assert width_mm >= 50 - 0.01
    (image,) = _pages(pdf, dpi)
    px_per_mm = dpi / MM_PER_INCH
    bar_row = int(5 * px_per_mm)  # 5 mm below the top edge: inside the bars
    dark = _dark_columns(image, bar_row)
    symbol_mm = (dark[-1] - dark[0] + 1) / px_per_mm
    x_mm = symbol_mm / len(code128_modules(code))
    assert 0.25 - 0.01 <= x_mm <= 0.33 + 0.01
    left_quiet_mm = dark[0] / px_per_mm
    right_quiet_mm = (image.width - 1 - dark[-1]) / px_per_mm
    assert min(left_quiet_mm, right_quiet_mm) >= 10 * x_mm
    assert _dark_run(image, dark[0], bar_row) / px_per_mm >= 8
    # Vector bars and text only: nothing is a bitmap.
    assert list(page.images) == []


def test_the_path_is_printed_and_a_long_one_keeps_its_end():
    short = render_location_label("LOC-F01", "LN2 freezer 1", "freezer", "Lab A › LN2 freezer 1")
    assert "Lab A › LN2 freezer 1" in _text(short)[0]
    long_path = " › ".join(["A very long site name indeed"] * 6 + ["Position 25"])
    (text,) = _text(render_location_label("LOC-P1", "Position 25", "position", long_path))
    *_, cut_line, last_line = text.strip().splitlines()
    assert last_line.endswith("Position 25") and cut_line.startswith("…")
    assert text.count("A very long site name indeed") < 6


def test_markup_characters_in_names_are_printed_as_they_are():
    (text,) = _text(render_location_label("LOC-F02", "Freezer <B> & co", "freezer", "Lab"))
    assert "Freezer <B> & co (freezer)" in text


def test_several_labels_print_as_one_pdf_a_page_each():
    labels = [
        (TEMPLATE, _values(f"LOC-B01-P0{n}", f"Position {n}", "position", f"Box 1 › Position {n}"))
        for n in (1, 2, 3)
    ]
    pdf = render_pdf(labels, "Location labels")
    assert [_decoded(image) for image in _pages(pdf)] == [
        ["LOC-B01-P01"],
        ["LOC-B01-P02"],
        ["LOC-B01-P03"],
    ]


def test_the_label_of_a_stored_location_decodes_to_its_code_in_the_database(make, approved_labels):
    tech = make.user("technician")
    site = create_location(tech, LocationRequest(kind="site", name="Cell therapy lab"))
    freezer = create_location(tech, LocationRequest(kind="freezer", parent=site.code))
    (label,) = location_labels(tech, freezer.code, with_children=False)
    assert (label.purpose, label.template_version) == ("storage_position", 1)
    pdf = label.pdf
    (image,) = _pages(pdf)
    assert _decoded(image) == [freezer.code]
    assert "Cell therapy lab › Freezer 1" in _text(pdf)[0]
