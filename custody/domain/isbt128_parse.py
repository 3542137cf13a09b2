"""Reading scanner output into ISBT 128 data structures.

A scan may hold one structure, two linear barcodes read as one (ST-001 chapter 10:
concatenation gives the left barcode's data then the right one's, nothing between), or a 2-D
compound message (ST-001 2.4.23). Every structure has a known data identifier and a fixed
length (the Patient ID states its own), so the text splits without separators.
Import `parse` from `custody.domain.isbt128`, not from here.
"""

from __future__ import annotations

from custody.domain.errors import InvalidBarcode
from custody.domain.isbt128_checks import describe_char
from custody.domain.isbt128_other_structures import COMPOUND_SPEC, SPECS, patient_id_length
from custody.domain.isbt128_structures import DIN_SPEC, Reading, Spec, Structure
from custody.domain.isbt128_tables import OTHER_IDENTIFIERS

# Keyboard-wedge scanners end a read with Enter (CR and/or LF); some send a tab.
_BLANKS = " \t\r\n\v\f"
_ASCII_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ASCII_ALNUM = _ASCII_LETTERS + "0123456789"
NOTHING_SCANNED = (
    "Nothing was scanned: the scan was empty. Scan the barcode again, holding the scanner "
    "steady until it beeps."
)
RESCAN = "Rescan the barcode, and check it is the barcode this step asks for."


def _skip_between_reads(data: str, index: int) -> int:
    """Skip blanks and AIM symbology identifiers (ISO/IEC 15424: "]" + letter + modifier).

    Scanners may prefix each read with e.g. "]C0" (Code 128) or "]d1" (Data Matrix). No ISBT 128
    structure starts with "]", so a prefix cannot be mistaken for data.
    """
    while index < len(data):
        if data[index] in _BLANKS:
            index += 1
        elif (
            data[index] == "]"
            and index + 2 < len(data)
            and data[index + 1] in _ASCII_LETTERS
            and data[index + 2] in _ASCII_ALNUM
        ):
            index += 3
        else:
            break
    return index


def _not_a_start(data: str, index: int, previous: Spec | None) -> InvalidBarcode:
    """Error for a character where a data identifier ("=" or "&") must begin."""
    char = data[index]
    shown = describe_char(char)
    if previous is COMPOUND_SPEC:
        message = (
            f"The 2-D barcode is not valid: position {index + 1} is {shown}, where its next "
            f"data structure should start with '=' or '&'. {COMPOUND_SPEC.fix}"
        )
    elif previous is None:
        message = (
            f"This is not an ISBT 128 barcode: position {index + 1} of the scan is {shown}, "
            f"but ISBT 128 barcodes start with '=' or '&'. {RESCAN}"
        )
    else:
        message = (
            f"The {previous.label} is too long or followed by something that is not ISBT 128: "
            f"after it ends at position {index}, position {index + 1} is {shown}. "
            f"{previous.fix}"
        )
    return InvalidBarcode(message, position=index + 1, character=char, rule="data identifier")


def _unknown_identifier(identifier: str, index: int) -> InvalidBarcode:
    name = OTHER_IDENTIFIERS.get(identifier)
    if name is None and identifier[0] == "&" and identifier[1] in _ASCII_LETTERS[26:]:
        name = "nationally or locally defined"
    if name is not None:
        message = (
            f"This is an ISBT 128 {name} barcode (it starts with '{identifier}' at position "
            f"{index + 1}), which this system does not read here. Scan the barcode this step "
            f"asks for."
        )
        rule = "supported data identifier"
    else:
        message = (
            f"'{identifier}' at position {index + 1} of the scan is not an ISBT 128 data "
            f"identifier, so this is not an ISBT 128 barcode or it was misread. {RESCAN}"
        )
        rule = "ISBT 128 data identifier"
    return InvalidBarcode(message, position=index + 1, identifier=identifier, rule=rule)


def _too_short(spec: Spec, found: int, needed: int, index: int) -> InvalidBarcode:
    return InvalidBarcode(
        f"The {spec.label} is incomplete: it has {found} characters after its identifier at "
        f"position {index + 1}, but needs {needed}. {spec.fix}",
        position=index + 1,
        found=found,
        needed=needed,
        rule=f"{spec.name} length",
    )


def read_structure(
    data: str, index: int, previous: Spec | None = None
) -> tuple[Structure, Spec, int]:
    """Read the structure starting at `index`; return it, its spec and the index after it."""
    if data[index] not in "=&":
        raise _not_a_start(data, index, previous)
    if index + 1 >= len(data):
        raise InvalidBarcode(
            f"The scan ends right after '{data[index]}' at position {index + 1}: the barcode "
            f"was not read completely. {RESCAN}",
            position=index + 1,
            rule="data identifier",
        )
    second = data[index + 1]
    if data[index] == "=" and second in _ASCII_ALNUM:
        # ST-001 2.4.1: the DIN's first character is also its identifier's second character.
        spec, start, identifier = DIN_SPEC, index + 1, "="
    else:
        identifier = data[index : index + 2]
        found = SPECS.get(identifier)
        if found is None:
            raise _unknown_identifier(identifier, index)
        spec, start = found, index + 2
    length = spec.length
    if spec.variable:
        head = data[start : start + spec.length]
        if len(head) < spec.length:
            raise _too_short(spec, len(head), spec.length, index)
        length = patient_id_length(head, Reading(offset=start))
    content = data[start : start + length]
    if len(content) < length:
        raise _too_short(spec, len(content), length, index)
    fields = spec.decode(content, Reading(offset=start))
    end = start + length
    structure = Structure(spec.name, identifier, data[index:end], fields, position=index + 1)
    return structure, spec, end


def _count_more(data: str, index: int) -> tuple[int, bool]:
    """How many further structures follow (for the error message); False if the rest is junk."""
    count = 0
    try:
        while (index := _skip_between_reads(data, index)) < len(data):
            _, _, index = read_structure(data, index)
            count += 1
    except InvalidBarcode:
        return count + 1, False
    return count, True


def _read_compound(data: str, index: int, header: Structure) -> tuple[list[Structure], int]:
    """Read exactly the announced number of structures, back to back (ST-001 2.4.23 rules 2, 4)."""
    announced: int = header.fields["count"]
    inner: list[Structure] = []
    while len(inner) < announced:
        if not data[index:].strip(_BLANKS):
            raise _count_mismatch(announced, f"only {len(inner)}", len(inner))
        structure, _, index = read_structure(data, index, COMPOUND_SPEC)
        if structure.name == COMPOUND_SPEC.name:
            raise InvalidBarcode(
                f"The 2-D barcode holds a second compound message at position "
                f"{structure.position}, and compound messages cannot be nested. "
                f"{COMPOUND_SPEC.fix}",
                position=structure.position,
                rule="no nested compound message",
            )
        inner.append(structure)
    if _skip_between_reads(data, index) < len(data):
        more, complete = _count_more(data, index)
        found = f"{announced + more}" if complete else f"more than {announced}"
        raise _count_mismatch(announced, found, announced + more)
    return inner, len(data)


def _count_mismatch(announced: int, found_words: str, found: int) -> InvalidBarcode:
    structures = "data structure" if announced == 1 else "data structures"
    verb = "was" if found == 1 else "were"
    return InvalidBarcode(
        f"The 2-D barcode announces {announced} {structures} but {found_words} {verb} found, "
        f"so it is damaged or was printed wrongly. {COMPOUND_SPEC.fix}",
        announced=announced,
        found=found,
        rule="compound message count",
    )


def parse(data: str) -> list[Structure]:
    """Every ISBT 128 data structure in one scan, in order; InvalidBarcode for anything else.

    A compound message comes back as its own `compound_message` structure followed by the
    structures it holds. Blanks, a trailing Enter and symbology identifiers between reads are
    ignored; inside a compound message nothing may come between structures.
    """
    if not isinstance(data, str):
        raise InvalidBarcode(NOTHING_SCANNED, rule="scan required")
    structures: list[Structure] = []
    previous: Spec | None = None
    index = _skip_between_reads(data, 0)
    if index >= len(data):
        raise InvalidBarcode(NOTHING_SCANNED, rule="scan required")
    while index < len(data):
        structure, previous, index = read_structure(data, index, previous)
        if structure.name == COMPOUND_SPEC.name:
            if structures:
                raise InvalidBarcode(
                    f"A compound message must be scanned on its own, but one starts at position "
                    f"{structure.position} after another barcode. Scan the 2-D barcode by itself.",
                    position=structure.position,
                    rule="compound message first",
                )
            inner, index = _read_compound(data, index, structure)
            structures += [structure, *inner]
        else:
            structures.append(structure)
        index = _skip_between_reads(data, index)
    return structures
