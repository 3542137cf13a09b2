"""What each label says, read from the records: the field values a template prints.

The lot's disposition decides a bag's label: until QA's release holds, the quarantine label
is the only one a bag can get; a conditional or exceptional release is stated on the final
label in words. Values are plain strings, so a print stores exactly what it said.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select

from custody.domain import eligibility, isbt128
from custody.domain.errors import LabelCannotPrint
from custody.domain.formatting import cell_count, local_time, utc_time
from custody.domain.scan_targets import bag_scan_data
from custody.extensions import db
from custody.labels.catalogue import PURPOSES
from custody.models import (
    Allocation,
    Bag,
    BagStatus,
    Disposition,
    Donation,
    Lot,
    QcSpecItem,
    Shipment,
    ShipmentItem,
    StorageLocation,
)
from custody.services.bags.queries import lot_determinations
from custody.services.core.facility import establishment, product_name, site_zone
from custody.services.quality.release_signature import latest_decision, signature_status

RELEASED = (Disposition.RELEASED, Disposition.CONDITIONALLY_RELEASED)
# A label goes on a bag that is still in the facility's hands; these bags are past that.
NO_LABEL = (BagStatus.INFUSED, BagStatus.DISCARDED)


@dataclass(frozen=True)
class LabelContent:
    """One label to print: its purpose, what it is stuck on, and the values it prints."""

    purpose: str
    subject_key: str
    values: dict[str, str]
    bag_id: int | None = None
    lot_id: int | None = None

    @property
    def subject_type(self) -> str:
        """What a label of this purpose goes on (the catalogue says: bag, donation, …)."""
        return PURPOSES[self.purpose].subject


@dataclass(frozen=True)
class LotRelease:
    """What a lot's release means for its labels; worked out once for all of its bags."""

    purpose: str
    statement: str
    determination: str

    @classmethod
    def of(cls, lot: Lot) -> LotRelease:
        determination = lot_determinations({lot.id})[lot.id]
        if lot.disposition not in RELEASED:
            return cls("quarantine_product", "", determination)
        decision = latest_decision(lot)
        holds, why = signature_status(decision) if decision else (False, "no signed decision")
        if not holds:
            raise LabelCannotPrint(
                f"Lot {lot.lot_number} is marked {lot.disposition.value} but QA's release "
                f"signature no longer holds ({why}). No final label prints until QA reviews "
                "the lot again.",
                lot=lot.lot_number,
            )
        return cls("final_product", _release_statement(lot, decision), determination)


def bag_label(bag: Bag, release: LotRelease | None = None) -> LabelContent:
    """The label the bag calls for now: quarantine until its lot's release holds, then final."""
    if bag.status in NO_LABEL:
        raise LabelCannotPrint(
            f"Bag {bag.code} is {bag.status.value}; no label is printed for a bag that is no "
            "longer in the facility's custody.",
            bag=bag.code,
            status=bag.status.value,
        )
    release = release or LotRelease.of(bag.lot)
    if release.purpose == "final_product" and bag.expires_at is None:
        raise LabelCannotPrint(
            f"Bag {bag.code} has no expiry date and time; a final label must print one. "
            "Record the expiry, then print.",
            bag=bag.code,
        )
    values = _bag_values(bag, site_zone()) | _warnings(release.determination)
    values["release_statement"] = release.statement
    return LabelContent(release.purpose, bag.code, values, bag.id, bag.lot_id)


def _bag_values(bag: Bag, zone: ZoneInfo) -> dict[str, str]:
    name, address = establishment()
    flags = isbt128.type3_flags(bag.din)
    expiry = bag.expires_at
    return {
        "din": bag.din,
        "din_barcode": isbt128.encode_din(bag.din, flags),
        "din_flags": flags,
        "din_eye": isbt128.eye_readable_din(bag.din),
        "product_code_barcode": isbt128.encode_product_code(bag.product_code),
        "product_code": bag.product_code,
        "expiry_barcode": isbt128.encode_expiry(expiry.astimezone(zone)) if expiry else "",
        "compound": bag_scan_data(bag.din, bag.product_code, expiry, zone),
        "product_name": product_name(),
        "lot_number": bag.lot.lot_number,
        "volume": f"{bag.volume_ml:g} mL",
        "cell_dose": cell_count(bag.viable_car_nk_cells),
        "total_cells": cell_count(bag.total_cells),
        "dose_level": bag.dose_level.code if bag.dose_level else "",
        "expiry": local_time(expiry, zone) if expiry else "",
        "expiry_utc": utc_time(expiry) if expiry else "",
        "establishment_name": name,
        "establishment_address": address,
    }


def _warnings(determination: str) -> dict[str, str]:
    warnings = eligibility.warnings_for(determination)
    legend = eligibility.BIOHAZARD if eligibility.BIOHAZARD in warnings else ""
    return {
        "eligibility_warnings": "\n".join(w for w in warnings if w != legend),
        "biohazard": legend,
    }


def _release_statement(lot: Lot, decision) -> str:
    if decision.exceptional:
        return (
            "EXCEPTIONAL RELEASE: does not meet the release specification. Released at the "
            f"request of {decision.physician}; see the release certificate."
        )
    if lot.disposition is Disposition.CONDITIONALLY_RELEASED:
        pending = ", ".join(_test_titles(lot, decision.pending_tests)) or "results"
        return (
            f"CONDITIONAL RELEASE: {pending} pending. The treating physician is told at once "
            "of any result out of specification."
        )
    return ""


def _test_titles(lot: Lot, tests: list[str]) -> list[str]:
    titles = dict(
        db.session.execute(
            select(QcSpecItem.test, QcSpecItem.title).where(
                QcSpecItem.specification_id == lot.specification_id
            )
        ).all()
    )
    return [titles.get(test) or test for test in tests]


def collection_label(donation: Donation) -> LabelContent:
    zone = ZoneInfo(donation.collection_timezone)
    collected = donation.collected_at.astimezone(zone)
    din, flags = donation.din, isbt128.type3_flags(donation.din)
    din_barcode = isbt128.encode_din(din, flags)
    collection_barcode = isbt128.encode_collection(collected)
    determination = donation.donor.eligibility.value
    values = {
        "din": din,
        "din_barcode": din_barcode,
        "din_eye": isbt128.eye_readable_din(din),
        "din_flags": flags,
        "collection_barcode": collection_barcode,
        "compound": isbt128.encode_compound([din_barcode, collection_barcode]),
        "collected": local_time(donation.collected_at, zone),
        "collection_facility": donation.facility,
        "volume": f"{donation.volume_ml:g} mL",
        "donor_code": donation.donor.donor_code,
        "product_name": product_name(),
        "eligibility": determination,
        "establishment_name": establishment()[0],
    } | _warnings(determination)
    return LabelContent("collection", din, values)


def tie_tag(allocation: Allocation) -> LabelContent:
    bag, recipient = allocation.bag, allocation.recipient
    if not allocation.active:
        raise LabelCannotPrint(
            f"Bag {bag.code}'s allocation to {recipient.subject_id} was ended "
            f"({allocation.end_reason}); a tie-tag prints only for an active allocation.",
            bag=bag.code,
        )
    zone = site_zone()
    bag_values = _bag_values(bag, zone)
    volume = allocation.volume_to_infuse_ml
    values = {
        key: bag_values[key]
        for key in (
            "din",
            "din_barcode",
            "din_eye",
            "product_code_barcode",
            "product_code",
            "compound",
            "product_name",
            "lot_number",
            "expiry",
        )
    } | {
        "recipient_name": recipient.name,
        "subject_id": recipient.subject_id,
        "birth_date": recipient.birth_date.isoformat(),
        "hospital_record_number": recipient.hospital_record_number,
        "site": recipient.site,
        "infusion_number": str(allocation.infusion_number),
        "dose_level": recipient.dose_level.code if recipient.dose_level else "",
        "volume_to_infuse": (
            f"Infuse {volume:g} mL of the bag's {bag.volume_ml:g} mL"
            if volume is not None and volume < bag.volume_ml
            else f"Infuse the whole bag ({bag.volume_ml:g} mL)"
        ),
        "allocated": local_time(allocation.allocated_at, zone),
    }
    return LabelContent("tie_tag", str(allocation.id), values, bag.id, bag.lot_id)


def shipper_label(shipment: Shipment) -> LabelContent:
    bags = db.session.scalars(
        select(Bag)
        .join(ShipmentItem, ShipmentItem.bag_id == Bag.id)
        .where(ShipmentItem.shipment_id == shipment.id)
        .order_by(Bag.code)
    ).all()
    name, address = establishment()
    count = len(bags)
    values = {
        "shipment_barcode": shipment.code,
        "shipment_code": shipment.code,
        "destination_site": shipment.destination_site,
        "courier": shipment.courier,
        "shipper_id": shipment.shipper_id,
        "bag_count": f"{count} bag{'s' if count != 1 else ''}",
        "contents": "; ".join(f"{isbt128.eye_readable_din(b.din)} {b.product_code}" for b in bags)
        or "No bags packed yet",
        "storage_limit": f"{shipment.storage_limit_c:g} °C".replace("-", "−"),
        "establishment_name": name,
        "establishment_address": address,
    }
    return LabelContent("shipper", shipment.code, values)


def location_label(location: StorageLocation, path: str) -> LabelContent:
    values = {
        "location_barcode": location.code,
        "code": location.code,
        "name_and_kind": f"{location.name} ({location.kind.value})",
        "path": path,
    }
    return LabelContent("storage_position", location.code, values)
