"""Search: one field for whatever a person scans or types, and the record it names.

The field is a scan target too, so it reads what the scan station reads (`read_scan`: a bag's
Data Matrix or Code 128 reads, a DIN with its check character, a bag code, `LOC-` and `SHP-`
codes), a 13-character DIN without its check character, and plain codes: lot numbers, donor
codes, recipients' subject IDs, shipment codes. Every match is exact (in any case): a scan
must open the record it names, never a neighbour that happens to share a prefix.

Patient data follows the permissions table's field-level rule. Everyone finds a recipient by
subject ID; only a role that sees identifiers finds one by hospital record number or by the
wristband's barcode, and only such a role is shown the name. Nobody finds a recipient by
name: a search field is not a patient index. Donors are found only by roles that read donors.

Each hit says which page opens it for the role asking (`endpoint` and `values`, for
`url_for`), chosen from the pages that role may open; a hit with no such page (a donor, a
storage location for a nurse) is shown with its related records instead. Read-only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import select

from custody.domain import isbt128
from custody.domain.errors import InvalidBarcode, ValidationFailed, WrongCheckCharacter
from custody.domain.permissions import Role, UseCase, allows, authorise, sees_patient_identifiers
from custody.domain.scan_targets import MAX_SCAN, ScanTarget, read_scan
from custody.domain.time_zones import local_time
from custody.domain.wristband import read_wristband
from custody.extensions import db
from custody.models import Bag, Donation, Donor, Lot, Recipient, Shipment, StorageLocation
from custody.models.lots import lot_donations
from custody.services.bags.storage import location_paths
from custody.services.core.facility import site_zone

# More hits than this are cut (a DIN of a lot of many bags): the lot's page lists them all.
MAX_HITS = 50
# Plain codes (lot numbers, donor codes, subject IDs) are short; longer text is not one.
MAX_CODE = 64

# The page each kind of record opens: (endpoint, its argument, the use case the page
# requires). A hit links to it only when the role asking may open it.
PAGES: Mapping[str, tuple[str, str, UseCase]] = {
    "bag": ("lab.bag_page", "code", UseCase.READ_RECORDS),
    "lot": ("qa.lot_page", "lot", UseCase.READ_RECORDS),
    "shipment": ("shipping.shipment", "code", UseCase.READ_RECORDS),
    "recipient": ("clinic.recipient_page", "subject_id", UseCase.READ_RECIPIENTS),
    # No page of their own: the scan station shows a location's positions or a collection.
    "location": ("lab.scan_station", "scan", UseCase.USE_SCAN_STATION),
    "donation": ("lab.scan_station", "scan", UseCase.USE_SCAN_STATION),
}
KINDS = ("bag", "donation", "lot", "donor", "recipient", "shipment", "location")


@dataclass(frozen=True)
class Hit:
    """One record found: what it is, its public key, words to show, and the page it opens
    for the role that searched (`endpoint` None: no page that role may open)."""

    kind: str
    key: str
    label: str
    detail: str = ""
    endpoint: str | None = None
    values: Mapping[str, str] = field(default_factory=dict)
    # Records shown with it: a donor's lots, a collection's lot, the bag a position holds.
    related: tuple[Hit, ...] = ()


def find(query: object, role: Role | str) -> list[Hit]:
    """Every record `query` names that `role` may find, best first.

    Empty text finds nothing. Text too long or not storable is refused (ValidationFailed);
    a scan that is wrong in itself (a wrong check character, broken ISBT 128 data, a station
    command) is refused in the scan reader's words when nothing else matched.
    """
    role = Role(role)
    authorise(role, UseCase.SEARCH, "search the records")
    text = query_text(query)
    if not text:
        return []
    wristband = _by_wristband(text, role)
    if wristband is not None:
        return wristband
    hits: list[Hit] = []
    problem: InvalidBarcode | None = None
    try:
        hits += _by_target(read_scan(text), role)
    except InvalidBarcode as error:
        problem = error
        din = bare_din(text)
        hits += _by_din(din, role) if din else []
    hits += _by_code(text, role)
    found = _unique(hits)
    if not found and problem is not None and _says_more(problem, text):
        raise problem
    return found[:MAX_HITS]


def query_text(query: object) -> str:
    """The query as text to look up: stripped; refused when it could not be a label's."""
    if not isinstance(query, str):
        return ""
    if len(query) > MAX_SCAN:
        raise ValidationFailed(
            f"The search is {len(query)} characters long; no label or code here holds more "
            f"than {MAX_SCAN}. Scan one barcode, or type one code.",
            field="q",
            length=len(query),
        )
    if "\x00" in query or not _encodable(query):
        raise ValidationFailed(
            "The search holds characters no label or code has. Scan the barcode again, or "
            "type the code.",
            field="q",
        )
    return query.strip()


def searchable(role: Role | str) -> list[str]:
    """What `role` can search by, in words (the page and the API say it when nothing is
    found)."""
    role = Role(role)
    words = [
        "a bag (scan its label, or type the DIN, its check character and the product code)",
        "a DIN (with or without its check character)",
        "a lot number",
    ]
    if allows(role, UseCase.READ_DONORS):
        words.append("a donor code")
    if allows(role, UseCase.READ_RECIPIENTS):
        if sees_patient_identifiers(role):
            words.append("a recipient's subject ID, hospital record number or wristband barcode")
        else:
            words.append("a recipient's subject ID (your role sees recipients by subject ID only)")
    words += ["a shipment (SHP-…)", "a storage location (LOC-…)"]
    return words


def bare_din(text: str) -> str | None:
    """A DIN typed without its check character (13 characters, printed grouping allowed)."""
    try:
        return isbt128.validate_din(text)
    except InvalidBarcode:
        return None


# --- what a scan names -------------------------------------------------------------------


def _by_target(target: ScanTarget, role: Role) -> list[Hit]:
    if target.kind == "bag":
        bag = db.session.scalar(select(Bag).where(Bag.code == target.bag_code))
        return _bag_hits([bag], role) if bag is not None else []
    if target.kind == "din":
        return _by_din(target.din, role)
    if target.kind == "location":
        return _location_hits(target.code, role)
    if target.kind == "shipment":
        return _shipment_hits([target.code], role)
    raise InvalidBarcode(
        f"{target.code} is a scan station command from the printed command sheet, not a "
        "record. Scan it at the scan station, or search for a bag, lot or shipment.",
        rule="a command is not searchable",
    )


def _by_din(din: str, role: Role) -> list[Hit]:
    """A DIN names the bags that carry it; failing those, the lot that will carry it or the
    collection it was issued for (a pooled lot's bags carry a new DIN of their own)."""
    bags = db.session.scalars(
        select(Bag).where(Bag.din == din).order_by(Bag.code).limit(MAX_HITS)
    ).all()
    if bags:
        return _bag_hits(bags, role)
    lots = db.session.scalars(select(Lot).where(Lot.din == din).order_by(Lot.lot_number)).all()
    donation = db.session.scalar(select(Donation).where(Donation.din == din))
    hits = _lot_hits(lots, role)
    return hits + ([_donation_hit(donation, role)] if donation is not None else [])


def _by_wristband(text: str, role: Role) -> list[Hit] | None:
    """A wristband names a recipient by record number and birth date: for roles that see
    identifiers only. Anyone else is told to use the subject ID; nothing is looked up.
    None: the text is not a wristband."""
    if not text.startswith("&#"):
        return None
    try:
        identity = read_wristband(text)
    except InvalidBarcode:
        return None
    if not sees_patient_identifiers(role):
        raise InvalidBarcode(
            "That is a recipient's wristband. Your role sees recipients by subject ID only: "
            "type the recipient's subject ID instead.",
            rule="identifiers only for roles that see them",
        )
    recipients = db.session.scalars(
        select(Recipient).where(
            Recipient.hospital_record_number == identity.patient_number,
            Recipient.birth_date == identity.birth_date,
        )
    ).all()
    return _recipient_hits(recipients, role, "wristband")


def _by_code(text: str, role: Role) -> list[Hit]:
    """Plain codes typed or scanned from a form: lot, donor, subject ID, record number,
    shipment. Exact matches, in any case."""
    if len(text) > MAX_CODE or any(c.isspace() for c in text):
        return []
    wanted = sorted({text, text.upper()})
    upper = text.upper()
    hits = _lot_hits(db.session.scalars(select(Lot).where(Lot.lot_number == upper)), role)
    if allows(role, UseCase.READ_DONORS):
        donor = db.session.scalar(select(Donor).where(Donor.donor_code.in_(wanted)))
        hits += [_donor_hit(donor, role)] if donor is not None else []
    if allows(role, UseCase.READ_RECIPIENTS):
        by_subject = select(Recipient).where(Recipient.subject_id == upper)
        hits += _recipient_hits(db.session.scalars(by_subject), role, "subject")
        if sees_patient_identifiers(role):
            by_record = select(Recipient).where(Recipient.hospital_record_number.in_(wanted))
            hits += _recipient_hits(db.session.scalars(by_record), role, "record")
    return hits + _shipment_hits([upper], role)


# --- hits ---------------------------------------------------------------------------------


def _page(kind: str, key: str, role: Role) -> tuple[str | None, dict[str, str]]:
    endpoint, argument, use_case = PAGES[kind]
    return (endpoint, {argument: key}) if allows(role, use_case) else (None, {})


def _hit(kind: str, key: str, label: str, detail: str, role: Role, **kw) -> Hit:
    page = kw.pop("page", None) or _page(kind, key, role)
    return Hit(kind, key, label, detail, page[0], page[1], **kw)


def _din_words(din: str) -> str:
    """The DIN as printed, with its boxed check character: 'W9999 26 000001 K'."""
    return f"{isbt128.eye_readable_din(din)} {isbt128.check_character(din)}"


def _bag_hits(bags: Iterable[Bag], role: Role) -> list[Hit]:
    bags = list(bags)
    paths = location_paths([b.storage_position for b in bags if b.storage_position is not None])
    hits = []
    for bag in bags:
        where = (
            f" · in {paths[bag.storage_position_id]}" if bag.storage_position_id is not None else ""
        )
        detail = f"{bag.status.value} · lot {bag.lot.lot_number}{where}"
        label = f"Bag {_din_words(bag.din)} {bag.product_code}"
        lot = _lot_hits([bag.lot], role)
        hits.append(_hit("bag", bag.code, label, detail, role, related=tuple(lot)))
    return hits


def _lot_hits(lots: Iterable[Lot], role: Role) -> list[Hit]:
    hits = []
    for lot in lots:
        disposition = lot.disposition.value.replace("_", " ")
        detail = f"{disposition} · {_count(len(lot.bags), 'bag')} · DIN {_din_words(lot.din)}"
        hits.append(_hit("lot", lot.lot_number, f"Lot {lot.lot_number}", detail, role))
    return hits


def _donation_hit(donation: Donation, role: Role) -> Hit:
    """A collection: its lot's page once it was made into one, else the scan station's view
    of it (where it is received) for roles that use the station."""
    lots = db.session.scalars(
        select(Lot)
        .join(lot_donations, lot_donations.c.lot_id == Lot.id)
        .where(lot_donations.c.donation_id == donation.id)
    ).all()
    collected = local_time(donation.collected_at, site_zone())
    parts = [f"collected {collected} at {donation.facility}"]
    if allows(role, UseCase.READ_DONORS):
        parts.append(f"donor {donation.donor.donor_code}")
    parts.append(f"lot {lots[0].lot_number}" if lots else "not yet made into a lot")
    related = tuple(_lot_hits(lots, role))
    if related and related[0].endpoint:
        page = (related[0].endpoint, dict(related[0].values))
    else:  # typed as a technician would, with its check character
        page = _page("donation", f"{donation.din}{isbt128.check_character(donation.din)}", role)
    label = f"Collection {_din_words(donation.din)}"
    return Hit("donation", donation.din, label, " · ".join(parts), *page, related=related)


def _donor_hit(donor: Donor, role: Role) -> Hit:
    """A donor (no page of their own): eligibility, and the lots made from their donations."""
    lots = db.session.scalars(
        select(Lot)
        .join(lot_donations, lot_donations.c.lot_id == Lot.id)
        .join(Donation, Donation.id == lot_donations.c.donation_id)
        .where(Donation.donor_id == donor.id)
        .order_by(Lot.lot_number)
    ).all()
    detail = (
        f"eligibility {donor.eligibility.value} · "
        f"{_count(len(donor.donations), 'collection')} · {_count(len(lots), 'lot')}"
    )
    return Hit(
        "donor",
        donor.donor_code,
        f"Donor {donor.donor_code}",
        detail,
        related=tuple(_lot_hits(lots, role)),
    )


def _recipient_hits(recipients: Iterable[Recipient], role: Role, by: str) -> list[Hit]:
    """Recipients by subject ID; the name (and what matched, when it was an identifier) only
    for a role that sees identifiers."""
    sees = sees_patient_identifiers(role)
    hits = []
    for recipient in recipients:
        parts = [recipient.status.value.replace("_", " "), recipient.site]
        if sees:
            parts.insert(0, recipient.name)
            if by == "record":
                parts.append(f"hospital record number {recipient.hospital_record_number}")
            elif by == "wristband":
                parts.append("found by wristband")
        label = f"Recipient {recipient.subject_id}"
        hits.append(_hit("recipient", recipient.subject_id, label, " · ".join(parts), role))
    return hits


def _shipment_hits(codes: list[str], role: Role) -> list[Hit]:
    hits = []
    for shipment in db.session.scalars(select(Shipment).where(Shipment.code.in_(codes))):
        status = shipment.status.value.replace("_", " ")
        detail = f"{status} · to {shipment.destination_site} · {_count(len(shipment.items), 'bag')}"
        hits.append(_hit("shipment", shipment.code, f"Shipment {shipment.code}", detail, role))
    return hits


def _location_hits(code: str, role: Role) -> list[Hit]:
    location = db.session.scalar(select(StorageLocation).where(StorageLocation.code == code))
    if location is None:
        return []
    path = location_paths([location])[location.id]
    held = db.session.scalar(select(Bag).where(Bag.storage_position_id == location.id))
    detail = f"{location.kind.value} · {path}" + (f" · holds bag {held.code}" if held else "")
    related = tuple(_bag_hits([held], role)) if held is not None else ()
    label = f"Storage {location.kind.value} {location.code}"
    return [_hit("location", location.code, label, detail, role, related=related)]


def _count(n: int, word: str) -> str:
    """Counted in words: "no lots", "1 lot", "2 lots"."""
    return f"{n or 'no'} {word}{'' if n == 1 else 's'}"


def _unique(hits: list[Hit]) -> list[Hit]:
    """Each record once (a record number that is also a subject ID is one recipient)."""
    seen: set[tuple[str, str]] = set()
    found = []
    for hit in hits:
        if (hit.kind, hit.key) not in seen:
            seen.add((hit.kind, hit.key))
            found.append(hit)
    return found


def _says_more(problem: InvalidBarcode, text: str) -> bool:
    """Whether the scan reader's words help more than "nothing found": a wrong check
    character, ISBT 128 data (a scan that starts with = or &), a station command, a
    recipient's wristband for a role that may not look it up."""
    return (
        isinstance(problem, WrongCheckCharacter)
        or text[:1] in "=&"
        or (problem.details.get("rule") in {"unknown command", "a command is not searchable"})
    )


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
