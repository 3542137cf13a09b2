"""The fonts the PDFs embed: DejaVu without hinting and without its licence's full text, every
outline and width as DejaVu's own, and in a label only the glyphs that label draws.

fontTools (installed with matplotlib, which ships the DejaVu files) reads the fonts: a reader
that is not the code that wrote them.
"""

from __future__ import annotations

import collections
import functools
import io
import struct

import pypdf
import pytest
from fontTools.ttLib import TTFont

from custody.documents.pdf_layout import font_file, lean_truetype
from custody.labels.pdf import render_pdf
from tests.labels.test_label_rendering import LIBRARY, bag_values

FILES = ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf"]
HINTING = {"fpgm", "prep", "cvt "}
LICENCE_TEXT, COPYRIGHT, LICENCE_URL = 13, 0, 14
CHECKSUM_MAGIC = 0xB1B0AFBA


@functools.cache
def original_and_lean(name: str) -> tuple[TTFont, TTFont, bytes]:
    data = font_file(name).read_bytes()
    lean = lean_truetype(data)
    # checkChecksums=2: reading a table whose directory checksum is wrong fails
    return TTFont(io.BytesIO(data)), TTFont(io.BytesIO(lean), checkChecksums=2), lean


def outline(font: TTFont, glyph: str):
    glyf = font["glyf"]
    coordinates, ends, flags = glyf[glyph].getCoordinates(glyf)
    return list(coordinates), ends, list(flags)


@pytest.mark.parametrize("name", FILES)
def test_every_glyph_keeps_its_outline_width_and_character(name):
    original, lean, _ = original_and_lean(name)
    assert lean.getGlyphOrder() == original.getGlyphOrder()
    assert lean["hmtx"].metrics == original["hmtx"].metrics
    assert lean["cmap"].getBestCmap() == original["cmap"].getBestCmap()
    for glyph in original.getGlyphOrder():
        assert outline(lean, glyph) == outline(original, glyph), glyph


@pytest.mark.parametrize("name", FILES)
def test_hinting_and_the_licence_text_are_left_out_and_the_file_checks(name):
    original, lean, data = original_and_lean(name)
    assert set(original.keys()) >= HINTING and not HINTING & set(lean.keys())
    glyf = lean["glyf"]
    assert not any(
        glyf[g].program.getBytecode() for g in lean.getGlyphOrder() if hasattr(glyf[g], "program")
    )
    names = {record.nameID for record in lean["name"].names}
    assert LICENCE_TEXT not in names and {COPYRIGHT, 1, 2, 4, 6, LICENCE_URL} <= names
    for kept in (COPYRIGHT, LICENCE_URL):
        assert lean["name"].getDebugName(kept) == original["name"].getDebugName(kept)
    for tag in lean.reader.tables:
        lean[tag]  # each table read, its checksum checked
    assert sum(struct.unpack(f">{len(data) // 4}L", data)) & 0xFFFFFFFF == CHECKSUM_MAGIC


def embedded_fonts(pdf: bytes) -> dict[str, TTFont]:
    """Each embedded font program by its BaseFont name."""
    (page,) = pypdf.PdfReader(io.BytesIO(pdf)).pages
    fonts = {}
    for font in page["/Resources"]["/Font"].values():
        font = font.get_object()
        if "/FontDescriptor" in font:
            data = font["/FontDescriptor"]["/FontFile2"].get_object().get_data()
            fonts[font["/BaseFont"]] = TTFont(io.BytesIO(data))
    return fonts


def drawn_characters(pdf: bytes) -> dict[str, set[str]]:
    """The characters each font draws on the page, as a reader finds them."""
    (page,) = pypdf.PdfReader(io.BytesIO(pdf)).pages
    drawn = collections.defaultdict(set)

    def visit(text, cm, tm, font, size):
        characters = set(text) - {"\n"}
        if font is not None and characters:
            drawn[font["/BaseFont"]] |= characters

    page.extract_text(visitor_text=visit)
    return drawn


def test_a_label_embeds_only_the_glyphs_it_draws_without_hinting_or_licence_text():
    pdf = render_pdf([(LIBRARY.get("final_product", 2), bag_values())], "Final product")
    fonts, drawn = embedded_fonts(pdf), drawn_characters(pdf)
    assert len(fonts) == 2 and set(fonts) == set(drawn)
    for name, font in fonts.items():
        # besides what is drawn: the missing-glyph outline and the space
        assert len(font.getGlyphOrder()) <= len(drawn[name]) + 2, name
        assert not HINTING & set(font.keys())
        assert LICENCE_TEXT not in {record.nameID for record in font["name"].names}
