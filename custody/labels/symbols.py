"""The module patterns of the two symbologies a label carries, from real encoders.

Code 128 comes from python-barcode, which switches to subset C for runs of digits (ISBT 128
asks for that: shorter symbols). Data Matrix ECC 200 comes from ppf-datamatrix: reportlab's
own Data Matrix widget miscodes `:;<=>?@`, ISBT 128's data-identifier characters, so its
symbols for `=`/`=<`/`&>` strings do not decode (DESIGN.md). The tests decode both with
zxing-cpp. Patterns are cached: a lot's labels repeat the same product code and expiry.
"""

from __future__ import annotations

import functools

import barcode
from ppf.datamatrix import DataMatrix


@functools.lru_cache(maxsize=4096)
def code128_modules(data: str) -> str:
    """'1' a dark module, '0' a light one, start to stop, without quiet zones."""
    return "".join(barcode.get("code128", data).build())


@functools.lru_cache(maxsize=4096)
def datamatrix_modules(data: str) -> tuple[tuple[bool, ...], ...]:
    """Rows of modules (True = dark), finder pattern included, without the quiet zone."""
    return tuple(tuple(bool(m) for m in row) for row in DataMatrix(data).matrix)


def dark_runs(pattern: str) -> list[tuple[int, int]]:
    """(first module, width) of each bar: one rectangle per bar keeps the PDF small and fast."""
    runs, start = [], None
    for i, module in enumerate(pattern + "0"):
        if module == "1" and start is None:
            start = i
        elif module == "0" and start is not None:
            runs.append((start, i - start))
            start = None
    return runs
