"""What the demo holds: the accounts, the clock, each bag's path and each lot's mix of fates.

Tables only, plus the working state one scale unit shares while its rows are built; the
modules beside this one turn them into rows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from custody.models import (
    Bag,
    Disposition,
    Eligibility,
    MaterialKind,
    QcSpecification,
    Recipient,
    Role,
    Shipment,
    ShipmentItem,
    StorageLocation,
    Trial,
    User,
)

DEMO_PASSWORD = "demo-password-2026"
DEMO_ACCOUNTS = [
    ("tech", Role.TECHNICIAN, "Tomás Herrera"),
    ("tech2", Role.TECHNICIAN, "Aiko Tanaka"),
    ("qa", Role.QA, "Grace Okafor"),
    ("qa2", Role.QA, "Lukas Meyer"),
    ("nurse", Role.NURSE, "Priya Raman"),
    ("nurse2", Role.NURSE, "Daniel Moreau"),
    ("admin", Role.ADMIN, "Sam Whitfield"),
]
ACTOR = "system:demo"
# Collections fall in the first half of 2026, but for two recent donors (RECENT_COLLECTIONS);
# everything still under way (shipments in transit, results pending) is seen as at DEMO_NOW.
EPOCH = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
DEMO_NOW = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
BAGS_PER_LOT = 25
SITE = "University Hospital"
COURIER = "Cryo Couriers"
LAB = "Cell therapy lab"
MIN, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
# The one infusion per unit under way now: a recipient's second infusion, started 20 minutes
# ago and not yet ended, for the bedside to resume on any tablet.
INFUSING_NOW = DEMO_NOW - 20 * MIN

# The actions each kind of bag goes through after "fill", in order.
_STORED = ("quarantine", "store")
_RELEASED = (*_STORED, "release")
_ALLOCATED = (*_RELEASED, "allocate")
_SHIPPED = (*_ALLOCATED, "retrieve", "pack", "handoff")
_RECEIVED = (*_SHIPPED, "receive")
_THAWED = (*_RECEIVED, "thaw")
_VERIFIED = (*_THAWED, "verify")
PATHS: dict[str, tuple[str, ...]] = {"filled": (), "quarantined": ("quarantine",)}
PATHS |= {"stored": _STORED, "moved": (*_STORED, "move"), "discarded": (*_STORED, "discard")}
PATHS |= {"inspected": (*_STORED, "retrieve", "store"), "rejected": (*_STORED, "reject")}
PATHS |= {"rejected_discarded": (*_STORED, "reject", "retrieve", "discard")}
PATHS |= {"released": _RELEASED, "allocated": _ALLOCATED, "in_transit": _SHIPPED}
PATHS |= {"missing": _SHIPPED, "received": _RECEIVED, "thawed": _THAWED, "verified": _VERIFIED}
PATHS |= {"infused": (*_VERIFIED, "infuse"), "thaw_discarded": (*_THAWED, "discard")}
PATHS |= {"returned": (*_RECEIVED, "return", "store")}
# What becomes of the 25 bags of a lot, by the lot's disposition.
_RELEASED_MIX = {"stored": 1, "released": 8, "allocated": 3, "in_transit": 3, "received": 2}
_RELEASED_MIX |= {"thawed": 1, "verified": 1, "infused": 3, "thaw_discarded": 1}
_RELEASED_MIX |= {"returned": 1, "discarded": 1}
_QUARANTINE_MIX = {"filled": 3, "quarantined": 3, "stored": 14, "moved": 2, "inspected": 2}
_QUARANTINE_MIX |= {"discarded": 1}
MIX = {
    Disposition.QUARANTINE: _QUARANTINE_MIX,
    Disposition.REJECTED: {"rejected": 18, "rejected_discarded": 7},
    Disposition.RELEASED: _RELEASED_MIX,
    Disposition.CONDITIONALLY_RELEASED: _RELEASED_MIX,
}
# Bags allocated to a recipient, most advanced first: pairs of them become infusions 1 and 2.
ALLOCATION_ORDER = ("infused", "verified", "thawed", "thaw_discarded", "received", "missing")
ALLOCATION_ORDER += ("returned", "in_transit", "allocated")
# Bags that travel in their lot's shipment to the site (which has arrived).
ON_TRIP = frozenset(ALLOCATION_ORDER[:7])
# Donors of a unit and the dispositions their two collections' lots end in.
DONORS = (
    (Eligibility.ELIGIBLE, (Disposition.RELEASED, Disposition.RELEASED)),
    (Eligibility.ELIGIBLE, (Disposition.QUARANTINE, Disposition.CONDITIONALLY_RELEASED)),
    (Eligibility.INCOMPLETE, (Disposition.CONDITIONALLY_RELEASED, Disposition.QUARANTINE)),
    (Eligibility.INELIGIBLE, (Disposition.REJECTED, Disposition.REJECTED)),
)
# Donors whose collections are recent (the others fall in the first half of 2026): their lots
# were filled about two weeks before DEMO_NOW, so 14-day sterility can still be pending or just
# in. Donor 2's second lot is filled ~13 d 6 h before now: its conditional release, urgent
# shipment and every infusion fit before the positive culture at ALERT_AT (day 13 of 14).
# Donor 3's first lot is filled ~13 d before now: its last infusion falls before now and its
# sterility result is due the day after.
RECENT_COLLECTIONS = {1: DEMO_NOW - 30 * DAY - 12 * HOUR, 2: DEMO_NOW - 29 * DAY - 6 * HOUR}
FACILITIES = (
    ("Apheresis Unit, University Hospital", "America/Chicago"),
    ("Regional Blood Center, Apheresis", "America/New_York"),
)
# Batch record: step, day after expansion start, duration (h), equipment, materials.
BATCH_STEPS = (
    ("NK expansion start", 0, 3, "BSC-02 biosafety cabinet; G-Rex 100M-CS", ("il2", "feeder")),
    ("CAR transduction", 4, 4, "BSC-02 biosafety cabinet; incubator INC-04", ("vector", "vf1")),
    ("Expansion day 14", 14, 1, "Incubator INC-04; cell counter NC-202", ("il2",)),
    ("Harvest and formulation", 15, 3, "Sepax C-Pro; BSC-02 biosafety cabinet", ("plyte", "hsa")),
)
MATERIALS = {
    "il2": (MaterialKind.REAGENT, "IL-2 (aldesleukin)", "IL2-"),
    "feeder": (MaterialKind.REAGENT, "K562-mbIL21 feeder cells", "FDR-"),
    "vector": (MaterialKind.VECTOR, "CD33 CAR lentiviral vector", "LV33-"),
    "vf1": (MaterialKind.REAGENT, "Vectofusin-1", "VF1-"),
    "plyte": (MaterialKind.REAGENT, "Plasma-Lyte A", "PLA-"),
    "hsa": (MaterialKind.REAGENT, "Human serum albumin 25 %", "HSA-"),
    "cs10": (MaterialKind.REAGENT, "CryoStor CS10", "CS10-"),
}
DEVIATIONS = {
    Disposition.REJECTED: (
        "Expansion day 14",
        "Viability 61 % at day 14, below the 70 % in-process limit; lot referred to QA.",
    ),
    Disposition.CONDITIONALLY_RELEASED: (
        "CAR transduction",
        "Vector held thawed 35 min beyond the allowed window; QA impact assessment: none "
        "expected, 14-day sterility pending at release.",
    ),
}

# --- quality control and QA -------------------------------------------------------------------

# What QC and QA did with each lot of a unit, in the order DONORS makes them (two per donor).
STORIES = (
    "corrected",  # released; one result corrected (with its reason) before QA signed
    "exceptional",  # released at a physician's request with an investigated OOS result
    "awaiting_review",  # quarantine with every result in: the QA queue's next lot
    "alert",  # conditionally released, then sterility positive: back in quarantine, alert
    "pending",  # conditionally released (donor incomplete), sterility still pending
    "partial",  # quarantine, results still coming in
    "rejected",  # viability out of specification, investigated; donor ineligible
    "rejected",
)
# QA's decision, after fill: conditional release is the urgent path (every result but the
# 14-day sterility in, after two days), release waits for sterility. Plus 2-8 h of the day.
DECIDED_AFTER = {
    Disposition.RELEASED: 16 * DAY,
    Disposition.CONDITIONALLY_RELEASED: 2 * DAY + 4 * HOUR,
    Disposition.REJECTED: 16 * DAY,
}
# The lot's shipment to the site leaves this long after QA's decision.
SHIPPED_AFTER = {
    Disposition.RELEASED: 4 * DAY + 9 * HOUR,
    Disposition.CONDITIONALLY_RELEASED: DAY + 6 * HOUR,
}
SPECIFICATION_APPROVED = EPOCH - 20 * DAY
ALERT_AT = DEMO_NOW - 2 * HOUR
# Each release test as the QC lab reports it: when after fill, how, on what; and the range
# of a passing value (qualitative tests pass with "negative").
QC_METHODS = {
    "cell_count": (2 * HOUR, "Automated count, acridine orange/DAPI", "NucleoCounter NC-202"),
    "viability": (2 * HOUR, "7-AAD flow cytometry", "BD FACSLyric FL-01"),
    "endotoxin": (6 * HOUR, "Kinetic chromogenic LAL", "Endosafe nexgen-PTS EPT-03"),
    "identity_cd56": (20 * HOUR, "Flow cytometry CD56/CD3", "BD FACSLyric FL-01"),
    "residual_cd3": (20 * HOUR, "Flow cytometry, CD3+ of viable cells", "BD FACSLyric FL-01"),
    "mycoplasma": (DAY, "qPCR (MycoSEQ)", "QuantStudio 5 QS-02"),
    "car_expression": (26 * HOUR, "Flow cytometry, CD33-Fc binding", "BD FACSLyric FL-01"),
    "potency": (2 * DAY, "Killing assay vs MOLM-13, E:T 5:1", "BD FACSLyric FL-01"),
    "vector_copy_number": (50 * HOUR, "ddPCR, WPRE/RPP30", "QX200 ddPCR DD-01"),
    "sterility": (14 * DAY, "14-day culture, USP <71>", "BacT/ALERT 3D BA-02"),
}
QC_PASSING = {
    "endotoxin": (0.1, 1.5),
    "viability": (82.0, 96.0),
    "identity_cd56": (80.0, 95.0),
    "car_expression": (35.0, 70.0),
    "vector_copy_number": (1.2, 3.5),
    "potency": (45.0, 80.0),
}

# --- bags and their custody ------------------------------------------------------------------

LAB_STATION, WARD_STATION = "LAB-SCAN-01", "WARD-SCAN-01"
AT_SITE = frozenset({"receive", "thaw", "verify", "infuse", "return"})
NOT_SCANNED = frozenset({"fill", "allocate", "handoff"})
ACTORS = {"release": "qa", "reject": "qa", "allocate": "qa"} | {a: "nurse" for a in AT_SITE}
TEMPERATURES = {"fill": 4.0, "quarantine": 4.0, "store": -185.0, "move": -185.0}
TEMPERATURES |= {"retrieve": -180.0, "pack": -186.0, "handoff": -186.0, "receive": -184.0}
TEMPERATURES |= {"thaw": 37.0, "verify": 22.0, "infuse": 22.0, "return": -182.0}
REASONS = {
    "reject": "Lot rejected by QA: day-14 viability below specification.",
    "return": "Infusion postponed (recipient febrile): bag returned to the cell lab.",
    ("discard", "thaw"): "Post-thaw use window exceeded before infusion.",
    ("discard", "retrieve"): "Rejected lot destroyed on QA instruction.",
    ("discard", "store"): "Bag integrity: crack at the port found on inspection.",
}
FIRST_NAMES = ("Maria", "James", "Fatima", "Olga", "John", "Amina", "Wei", "Lucía", "Kofi")
LAST_NAMES = ("Lopez", "Chen", "Ali", "Petrova", "Smith", "Yusuf", "Novak", "Haddad", "Berg")

# --- what one unit shares while it is built ----------------------------------------------------


@dataclass
class Trip:
    """A shipment's timeline; bags are packed one a minute, in the order they join."""

    shipment: Shipment
    packed_at: datetime
    handed_over_at: datetime
    arrived_at: datetime | None
    bags: list[Bag] = field(default_factory=list)


@dataclass
class Walk:
    """One bag on its way: the clock, the state and where it is."""

    bag: Bag
    outcome: str
    index: int
    filled_at: datetime
    decided_at: datetime | None
    home: StorageLocation
    trip: Trip | None = None
    infusion_at: datetime | None = None
    item: ShipmentItem | None = None
    times: dict[str, datetime] = field(default_factory=dict)


@dataclass
class Unit:
    """What the rows of one scale unit share while they are built."""

    rng: random.Random
    number: int
    users: dict[str, User]
    trial: Trial
    # Where each position is, in words (for 'move' notes); a box of positions per lot.
    paths: dict[int, str] = field(default_factory=dict)
    boxes: list[list[StorageLocation]] = field(default_factory=list)
    spare: list[StorageLocation] = field(default_factory=list)
    rows: list = field(default_factory=list)
    allocations: list = field(default_factory=list)
    recipients: list[Recipient] = field(default_factory=list)
    trips: list[Trip] = field(default_factory=list)
    specification: QcSpecification | None = None
    # When QA decided each lot (by lot number); lots still in quarantine have no entry.
    decided: dict[str, datetime] = field(default_factory=dict)
