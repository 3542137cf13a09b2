"""What a scan names: a bag, a DIN, a storage location or a shipment, read from raw scanner data.

A keyboard-wedge scanner types whatever the symbol holds, so one field takes all of these:

- a bag's Data Matrix (`=+` compound message) or its Code 128 reads (`=DIN…` and `=<product`,
  alone or concatenated; a separate `=,` divisions read completes a product code ending `99`);
- a DIN typed by hand with its boxed check character K, optionally followed by the product code
  (`W999926000001 B D0001VA0`); a wrong K is refused;
- a bag's public code as the API and URLs show it (`W999926000001-D0001VA0`);
- a location barcode (`LOC-…`) or a shipment barcode (`SHP-…`);
- a scan station's command barcode (`CMD-STORE`, … from the printed command sheet).

Pure Python: the services look the result up in the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from custody.domain import isbt128
from custody.domain.errors import InvalidBarcode

LOCATION_PREFIX = "LOC-"
SHIPMENT_PREFIX = "SHP-"
COMMAND_PREFIX = "CMD-"
# What a scan station can be told by barcode, so a gloved hand never needs the screen.
STATION_COMMANDS = ("STORE", "MOVE", "RETRIEVE", "PACK", "RECEIVE", "DISCARD", "DONE")
_OWN_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,38}$")
_BAG_CODE = re.compile(r"^([A-NP-Z1-9][A-Z0-9]{12})-([A-Z][A-Z0-9]{4}[A-Z0-9][A-Za-z0-9]{2})$")
# Typed DIN + K, then the product code; only the division's second level is lower case (`Aa`).
_TYPED = re.compile(
    r"^([A-Za-z0-9* ]{14,20}?)\s+([A-Za-z][A-Za-z0-9]{4}[A-Za-z0-9]{2}[A-Za-z0-9])$"
)
MAX_SCAN = 500


@dataclass(frozen=True)
class ScanTarget:
    """What was scanned. `kind` is bag, din, location, shipment or command."""

    kind: str
    raw: str
    din: str | None = None
    product_code: str | None = None
    code: str | None = None
    # Typed by hand (DIN with its check character K), not read by a scanner.
    typed: bool = False

    @property
    def bag_code(self) -> str | None:
        return bag_code(self.din, self.product_code) if self.product_code else None


def bag_code(din: str, product_code: str) -> str:
    """A bag's public identifier: its DIN and product code (which ends in the division)."""
    return f"{din}-{product_code}"


def bag_scan_data(
    din: str, product_code: str, expires_at: datetime | None, zone: tzinfo = UTC
) -> str:
    """What the bag label's Data Matrix carries: DIN (with its check flags), product, expiry.

    ISBT 128 dates are wall-clock dates: the expiry is encoded in the facility's zone, the
    same time the label prints beside it.
    """
    structures = [isbt128.encode_din(din, isbt128.type3_flags(din))]
    structures.append(isbt128.encode_product_code(product_code))
    if expires_at is not None:
        aware = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)
        structures.append(isbt128.encode_expiry(aware.astimezone(zone)))
    return isbt128.encode_compound(structures)


def read_scan(raw: object) -> ScanTarget:
    """Decide what `raw` names; InvalidBarcode (or WrongCheckCharacter) says what is wrong."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidBarcode("Nothing was scanned. Scan the barcode again.", rule="empty scan")
    if len(raw) > MAX_SCAN:
        raise InvalidBarcode(
            f"The scan is {len(raw)} characters long; no label here holds more than {MAX_SCAN}. "
            "Scan one barcode at a time.",
            rule="scan length",
        )
    text = raw.strip()
    if text[0] in "=&":
        return _from_isbt128(raw, text)
    upper = text.upper()
    if upper.startswith(COMMAND_PREFIX):
        return _command(raw, upper)
    for prefix, kind in ((LOCATION_PREFIX, "location"), (SHIPMENT_PREFIX, "shipment")):
        if upper.startswith(prefix) and _OWN_CODE.match(upper):
            return ScanTarget(kind=kind, raw=raw, code=upper)
    if match := _BAG_CODE.match(_case_of_bag_code(text)):
        din = isbt128.validate_din(match.group(1))
        return _bag(raw, din, isbt128.encode_product_code(match.group(2))[2:])
    if match := _TYPED.match(text):
        din = isbt128.validate_keyed_din(match.group(1).upper())
        product = isbt128.encode_product_code(_typed_product(match.group(2)))[2:]
        return ScanTarget(kind="bag", raw=raw, din=din, product_code=product, typed=True)
    din = isbt128.validate_keyed_din(text.upper())
    return ScanTarget(kind="din", raw=raw, din=din, typed=True)


def _command(raw: str, upper: str) -> ScanTarget:
    if upper[len(COMMAND_PREFIX) :] not in STATION_COMMANDS:
        known = ", ".join(f"{COMMAND_PREFIX}{c}" for c in STATION_COMMANDS)
        raise InvalidBarcode(
            f"{upper[:40]} is not a station command. The commands are {known}: scan one from "
            "the printed command sheet.",
            rule="unknown command",
        )
    return ScanTarget(kind="command", raw=raw, code=upper)


def _case_of_bag_code(text: str) -> str:
    """A bag code read whatever its case: the DIN and product code upper-cased, except the
    second-level division letter, the one lower-case character a product code has."""
    din, dash, product = text.partition("-")
    return f"{din.upper()}{dash}{_typed_product(product)}" if dash and len(product) == 8 else text


def _typed_product(typed: str) -> str:
    """Upper-case a typed product code except a second-level division letter (`D0001VAa`)."""
    return typed[:7].upper() + typed[7]


def _from_isbt128(raw: str, text: str) -> ScanTarget:
    found = {s.name: s.fields for s in isbt128.parse(text)}
    din = found.get("donation_identification_number", {}).get("din")
    product = found.get("product_code")
    if din is None:
        raise InvalidBarcode(
            "This barcode holds no DIN, so it does not identify a bag. Scan the DIN barcode "
            "(it starts with '=' and a letter) or the label's 2-D code.",
            found=sorted(found),
            rule="a bag is identified by its DIN",
        )
    if product is None:
        return ScanTarget(kind="din", raw=raw, din=din)
    code = product["product_code"]
    if product.get("divisions_required"):
        divisions = found.get("product_divisions")
        if divisions is None:
            raise InvalidBarcode(
                f"Product code {code} ends in 99: scan the product divisions barcode ('=,') too.",
                rule="product code ending 99 needs the divisions structure",
            )
        code = code[:6] + divisions["divisions"][:2]
    return _bag(raw, din, code)


def _bag(raw: str, din: str, product_code: str) -> ScanTarget:
    return ScanTarget(kind="bag", raw=raw, din=din, product_code=product_code)
