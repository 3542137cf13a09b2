"""Typed SQLAlchemy models, one module per aggregate. Importing this registers them all."""

from custody.models.accounts import ApiToken, Role, User, UserSession
from custody.models.audit import AuditChainHead, AuditEntry
from custody.models.bags import Bag, BagStatus
from custody.models.base import Base
from custody.models.bedside import BedsideVerification, FollowUpSample, Thaw
from custody.models.custody import (
    CustodyEvent,
    DiscrepancyKind,
    DiscrepancyResolution,
    LocationKind,
    Shipment,
    ShipmentDiscrepancy,
    ShipmentItem,
    ShipmentStatus,
    ShipmentTemperature,
    StorageLocation,
)
from custody.models.donors import DinSequence, Donation, Donor, DonorTest, Eligibility
from custody.models.installation import DemoMark
from custody.models.labels import (
    LabelDelivery,
    LabelPrint,
    LabelStatus,
    LabelTemplateApproval,
)
from custody.models.lots import Disposition, Lot, lot_donations
from custody.models.manufacturing import BatchMaterial, BatchStep, MaterialKind
from custody.models.quality import (
    QcResult,
    QcSpecification,
    QcSpecItem,
    QualityAlert,
    ReleaseDecision,
    Signature,
    SpecificationStatus,
)
from custody.models.recalls import Recall, recall_lots
from custody.models.trial import (
    Allocation,
    DoseBasis,
    DoseLevel,
    DoseLevelStatus,
    Infusion,
    Recipient,
    RecipientStatus,
    Trial,
)

__all__ = [
    "Allocation",
    "ApiToken",
    "AuditChainHead",
    "AuditEntry",
    "Bag",
    "BagStatus",
    "Base",
    "BatchMaterial",
    "BatchStep",
    "BedsideVerification",
    "CustodyEvent",
    "DemoMark",
    "DinSequence",
    "DiscrepancyKind",
    "DiscrepancyResolution",
    "Disposition",
    "Donation",
    "Donor",
    "DonorTest",
    "DoseBasis",
    "DoseLevel",
    "DoseLevelStatus",
    "Eligibility",
    "FollowUpSample",
    "Infusion",
    "LabelDelivery",
    "LabelPrint",
    "LabelStatus",
    "LabelTemplateApproval",
    "LocationKind",
    "Lot",
    "MaterialKind",
    "QcResult",
    "QcSpecItem",
    "QcSpecification",
    "QualityAlert",
    "Recall",
    "Recipient",
    "RecipientStatus",
    "ReleaseDecision",
    "Role",
    "Shipment",
    "ShipmentDiscrepancy",
    "ShipmentItem",
    "ShipmentStatus",
    "ShipmentTemperature",
    "Signature",
    "SpecificationStatus",
    "StorageLocation",
    "Thaw",
    "Trial",
    "User",
    "UserSession",
    "lot_donations",
    "recall_lots",
]
