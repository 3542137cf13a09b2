"""Test factories: callables with sensible defaults, building records the way users do."""

from __future__ import annotations

import itertools

from custody.config import settings
from custody.services.core import accounts

PASSWORD = "correct horse battery"
# The meaning QA's signature gives a lot the factories make released.
RELEASE_MEANINGS = {
    "released": "Approved for release",
    "conditionally_released": "Approved for conditional release",
}
_numbers = itertools.count(1)

# The people the tests act as, one per role (the `tech`, `qa`, ... fixtures of the services'
# and the API's conftest.py): fixture name -> (role, username, full name).
CAST = {
    "tech": ("technician", "tess", "Tess Tech"),
    "analyst": ("technician", "ana", "Ana Lyst"),
    "qa": ("qa", "quinn", "Quinn Assurance"),
    "nurse": ("nurse", "nina", "Nina Second"),
    "ann": ("nurse", "ann", "Ann First"),
    "admin": ("admin", "ada", "Ada Morales"),
}


class Headers(dict):
    """Authorization headers of one user; `.user` is the user they sign in as."""

    def __init__(self, user, token: str) -> None:
        super().__init__({"Authorization": f"Bearer {token}"})
        self.user = user


class Factories:
    def __init__(self, app) -> None:
        self.app = app

    def user(self, role: str = "technician", username: str | None = None, name: str | None = None):
        username = username or f"{role}{next(_numbers)}"
        return accounts.create_user(
            "system:test", username, name or f"Test {role.title()} {username}", role, PASSWORD
        )

    def person(self, who: str):
        """The user `who` names in CAST (e.g. "tech": Tess Tech, technician)."""
        role, username, name = CAST[who]
        return self.user(role, username=username, name=name)

    def token(self, user) -> str:
        return accounts.issue_token("system:test", user.username)

    def headers(self, user) -> Headers:
        """Authorization headers that sign in as `user`."""
        return Headers(user, self.token(user))

    def auth(self, role: str = "technician", **kwargs) -> Headers:
        """Authorization headers for a fresh user holding `role`."""
        return self.headers(self.user(role, **kwargs))


class LotFactory:
    """Donor → donation → lot → bags, written directly as test setup (not through services)."""

    def __init__(self, app) -> None:
        self.app = app

    def __call__(
        self,
        disposition: str = "quarantine",
        bags: int = 2,
        eligibility: str = "eligible",
        status: str = "quarantined",
        expires_in_days: float = 365,
    ):
        from datetime import timedelta

        from custody.extensions import db
        from custody.models import Bag, Donation, Donor, Lot
        from custody.models.base import utcnow
        from custody.services.core.audit_trail import acting_as
        from custody.services.core.identifiers import take_dins

        number = next(_numbers)
        with acting_as("system:test", reason="test setup"):
            (din,) = take_dins(settings().fin, 26, 1)
            donor = Donor(
                donor_code=f"DNR-T{number}",
                sex="F",
                birth_date=utcnow().date().replace(year=1990),
                eligibility=eligibility,
            )
            donation = Donation(
                din=din,
                donor=donor,
                collected_at=utcnow() - timedelta(days=20),
                collection_timezone="Europe/Berlin",
                facility="Test apheresis unit",
                volume_ml=250.0,
            )
            expires = utcnow() + timedelta(days=expires_in_days)
            lot = Lot(
                lot_number=f"LT-{number}",
                din=din,
                product_description_code="D0001",
                disposition=disposition,
                expires_at=expires,
            )
            lot.donations.append(donation)
            for b in range(bags):
                product_code = f"D0001V{_division(b)}"
                lot.bags.append(
                    Bag(
                        code=f"{din}-{product_code}",
                        din=din,
                        product_code=product_code,
                        volume_ml=20.0,
                        total_cells=1.5e9,
                        viable_car_nk_cells=1.2e9,
                        status=status,
                        expires_at=expires,
                    )
                )
            db.session.add(lot)
            db.session.commit()
        if disposition in RELEASE_MEANINGS:
            self.sign_release(lot, disposition)
        return lot

    def sign_release(self, lot, disposition: str = "released") -> None:
        """QA's signed decision behind a lot the factory makes released: every step towards a
        patient asks that the release signature hold, not only that the lot read released."""
        from sqlalchemy import select

        from custody.domain.release_rules import canonical_json
        from custody.extensions import db
        from custody.models import ReleaseDecision, User
        from custody.models.base import utcnow
        from custody.services.core.audit_trail import acting_as
        from custody.services.core.signatures import sign
        from custody.services.quality.release_signature import signed_content

        signer = db.session.scalar(select(User).where(User.username == "release.qa"))
        if signer is None:
            signer = accounts.create_user("system:test", "release.qa", "Rel Ease", "qa", PASSWORD)
        meaning, now = RELEASE_MEANINGS[disposition], utcnow()
        with acting_as("system:test", reason="test setup"):
            decision = ReleaseDecision(
                lot_id=lot.id,
                disposition=disposition,
                reason="",
                exceptional=False,
                pending_tests=[],
                decided_at=now,
            )
            content = signed_content(lot, decision, [], signer.username, meaning, now)
            decision.signed_content = canonical_json(content)
            decision.signature = sign(signer, meaning, "lot", lot.id, content, now)
            db.session.add(decision)
            db.session.commit()

    def positions(self, count: int = 3, prefix: str | None = None):
        """A site → freezer → rack → box with `count` positions; returns the positions."""
        from custody.extensions import db
        from custody.models import LocationKind, StorageLocation
        from custody.services.core.audit_trail import acting_as

        tag = prefix or f"T{next(_numbers)}"
        with acting_as("system:test", reason="test setup"):
            parent = None
            for kind in ("site", "freezer", "rack", "box"):
                parent = StorageLocation(
                    code=f"LOC-{tag}-{kind.upper()}",
                    name=f"{kind.title()} {tag}",
                    kind=LocationKind(kind),
                    parent=parent,
                )
            found = [
                StorageLocation(
                    code=f"LOC-{tag}-P{n:02d}",
                    name=f"Position {n}",
                    kind=LocationKind.POSITION,
                    parent=parent,
                )
                for n in range(1, count + 1)
            ]
            db.session.add_all(found)
            db.session.commit()
        return found

    def shipment(self, destination: str = "University Hospital", status: str = "packing"):
        from custody.extensions import db
        from custody.models import Shipment
        from custody.services.core.audit_trail import acting_as

        with acting_as("system:test", reason="test setup"):
            shipment = Shipment(
                code=f"SHP-T{next(_numbers)}",
                destination_site=destination,
                courier="Cryo Couriers",
                status=status,
            )
            db.session.add(shipment)
            db.session.commit()
        return shipment


# Results that meet the standard specification (custody.services.quality.specifications).
PASSING_RESULTS = {
    "sterility": {"value_text": "negative"},
    "mycoplasma": {"value_text": "negative"},
    "endotoxin": {"value_numeric": 0.5},
    "viability": {"value_numeric": 91.5},
    "identity_cd56": {"value_numeric": 88.0},
    "residual_cd3": {"value_numeric": 0.2, "unit": "%"},
    "car_expression": {"value_numeric": 54.0},
    "vector_copy_number": {"value_numeric": 2.1},
    "potency": {"value_numeric": 62.0},
    "cell_count": {"value_numeric": 2.4e9},
}


class QualityFactory:
    """An approved specification, results entered by an analyst, QA signing: through services."""

    def __init__(self, app, make: Factories) -> None:
        self.app = app
        self.make = make
        self._qa = None

    @property
    def qa(self):
        if self._qa is None:
            self._qa = self.make.user("qa")
        return self._qa

    def specification(self, approve: bool = True, product: str = "D0001"):
        from custody.services.quality import specifications as specs

        spec = specs.create_specification(
            self.qa, specs.SpecificationRequest(product, specs.STANDARD_RELEASE_TESTS)
        )
        if approve:
            spec = specs.approve_specification(
                self.qa, product, spec.version, self.qa.username, PASSWORD
            )
        return spec

    def results(self, lot_number: str, by=None, skip=(), **overrides):
        """Every standard result, passing unless overridden (test=dict of fields)."""
        from custody.services.quality.results import ResultRequest, enter_result

        analyst = by or self.make.user("technician")
        for test, fields in PASSING_RESULTS.items():
            if test in skip:
                continue
            enter_result(analyst, lot_number, ResultRequest(test, **overrides.get(test, fields)))
        return analyst

    def sign(self, lot_number: str, action: str = "release", signer=None, **fields):
        from custody.services.quality.disposition import DispositionRequest, sign_disposition

        signer = signer or self.make.user("qa")
        request = DispositionRequest(action, signer.username, PASSWORD, **fields)
        return sign_disposition(signer, lot_number, request)

    def released_lot(self, make_lot, action: str = "release", **lot_fields):
        """A lot through specification, results and QA's signature."""
        if self.specification_missing():
            self.specification()
        lot = make_lot(**lot_fields)
        self.results(lot.lot_number)
        # QA acknowledges the donor-eligibility statements a lot of such a donor must carry.
        warned = lot_fields.get("eligibility") in ("incomplete", "ineligible")
        self.sign(lot.lot_number, action, **({"statements_acknowledged": True} if warned else {}))
        return lot

    def specification_missing(self) -> bool:
        from custody.services.quality.specifications import current_specification

        return current_specification("D0001") is None


def _division(n: int) -> str:
    """The n-th bag's division: A0 … Z0, then second-level divisions Aa … Za, Ab …"""
    first = chr(ord("A") + n % 26)
    return first + ("0" if n < 26 else chr(ord("a") + n // 26 - 1))


def approve_label_templates(make: Factories, signer=None) -> object:
    """Every shipped label template approved by a QA signature, as a site does before printing.

    Returns the QA user who signed (`signer`, or a new QA user)."""
    from custody.services.labelling.templates import approve_template, library

    qa = signer or make.user("qa")
    for name, version in sorted(library().templates):
        approve_template(qa, name, version, qa.username, PASSWORD)
    return qa


SITE = "University Hospital"


class RecipientFactory:
    """Recipients of the trial, written directly as test setup (as ClinicFactory writes).

    By default a phase 1 recipient of 70 kg at DL2, in lymphodepletion (ready for infusion 1),
    at the University Hospital, with a subject ID, record number, name and birth date of their
    own. Any other column is a keyword (day0=..., second_infusion_ordered=True, ...);
    `dose_level=None` makes one without a dose level. The recipient service is what the
    recipient tests drive; it does not build the other tests' recipients.
    """

    def __init__(self, app, dose_level) -> None:
        self.app = app
        self._dose_level = dose_level  # a code -> the trial's DoseLevel (the trial made if missing)

    def __call__(
        self,
        dose_level: str | None = "DL2",
        status: str = "lymphodepletion",
        weight_kg: float = 70.0,
        birth_date=None,
        site: str | None = None,
        **fields,
    ):
        from datetime import date

        from custody.extensions import db
        from custody.models import Recipient
        from custody.services.clinic.recipients import site_today
        from custody.services.core.audit_trail import acting_as

        number = next(_numbers)
        level_id = self._dose_level(dose_level).id if dose_level else None
        with acting_as("system:test", reason="test setup"):
            recipient = Recipient(
                subject_id=fields.pop("subject_id", f"CAR33-T-{number:03d}"),
                hospital_record_number=fields.pop("hospital_record_number", f"MRN{number:07d}"),
                name=fields.pop("name", f"Test Recipient {number}"),
                birth_date=birth_date or date(1960 + number % 30, 1 + number % 12, 1 + number % 28),
                weight_kg=weight_kg,
                weight_measured_on=fields.pop("weight_measured_on", site_today()),
                site=site or SITE,
                phase=fields.pop("phase", 1),
                dose_level_id=level_id,
                status=status,
                **fields,
            )
            db.session.add(recipient)
            db.session.commit()
        return recipient


class ClinicFactory:
    """The trial, recipients, and bags brought to the bedside, written directly as test setup.

    Services under test are not used to build their own preconditions: an allocation made
    here is a row, a bag "received at the site" has a shipment item with its receipt, and a
    thaw is a row; each test then drives the service it is about.
    """

    SITE = SITE

    def __init__(self, app, make: Factories, quality: QualityFactory, make_lot) -> None:
        self.app = app
        self.make = make
        self.quality = quality
        self.make_lot = make_lot
        self._trial = None
        # clinic.recipient(...): recipients on this trial (also the `make_recipient` fixture).
        self.recipient = RecipientFactory(app, self.dose_level)

    def trial(self, post_thaw_minutes: int = 60):
        """The one trial, with flat DL1-DL3 (6e8, 1.2e9, 1.8e9) and per-kg DL4 (1.5e7/kg)."""
        from custody.extensions import db
        from custody.models import DoseBasis, DoseLevel, Trial
        from custody.services.core.audit_trail import acting_as

        if self._trial is not None:
            return self._trial
        with acting_as("system:test", reason="test setup"):
            trial = Trial(
                protocol_id="NCT07026942",
                title="CD33 CAR-NK cells for relapsed/refractory AML",
                product_name="CD33 CAR-NK cells",
                post_thaw_minutes=post_thaw_minutes,
            )
            for code, basis, cells, status in (
                ("DL1", DoseBasis.FLAT, 6e8, "closed"),
                ("DL2", DoseBasis.FLAT, 1.2e9, "open"),
                ("DL3", DoseBasis.FLAT, 1.8e9, "open"),
                ("DL4", DoseBasis.PER_KG, 1.5e7, "open"),
            ):
                trial.dose_levels.append(
                    DoseLevel(code=code, phase=1, basis=basis, dose_cells=cells, status=status)
                )
            db.session.add(trial)
            db.session.commit()
        self._trial = trial
        return trial

    def dose_level(self, code: str):
        return next(level for level in self.trial().dose_levels if level.code == code)

    def released_bags(self, count: int = 2, **lot_fields):
        """Bags of a lot released through QA's signature (1.2e9 viable CAR+ NK cells, 20 mL)."""
        lot = self.quality.released_lot(self.make_lot, bags=count, **lot_fields)
        for bag in lot.bags:
            self._set_status(bag, "released")
        return lot.bags

    def allocate(self, bag, recipient, infusion_number: int = 1, volume_ml: float | None = None):
        """An active allocation row (what the allocation service would have written)."""
        from custody.extensions import db
        from custody.models import Allocation
        from custody.services.core.audit_trail import acting_as

        with acting_as("system:test", reason="test setup"):
            allocation = Allocation(
                bag_id=bag.id,
                recipient_id=recipient.id,
                infusion_number=infusion_number,
                volume_to_infuse_ml=volume_ml or bag.volume_ml,
                allocated_by_id=self.quality.qa.id,
                planned_cells=bag.viable_car_nk_cells,
                dose_level_id=recipient.dose_level_id,
                weight_kg_used=recipient.weight_kg,
            )
            db.session.add(allocation)
            if bag.status.value == "released":
                bag.status = "allocated"
            db.session.commit()
        return allocation

    def receive(self, bag, site: str | None = None):
        """The bag shipped to `site` and received there, as the shipping service records it."""
        from datetime import timedelta

        from custody.extensions import db
        from custody.models import ShipmentItem
        from custody.models.base import utcnow
        from custody.services.core.audit_trail import acting_as

        shipment = self.make_lot.shipment(destination=site or self.SITE, status="received")
        nurse = self.make.user("nurse")
        with acting_as("system:test", reason="test setup"):
            now = utcnow()
            db.session.add(
                ShipmentItem(
                    shipment_id=shipment.id,
                    bag_id=bag.id,
                    packed_at=now - timedelta(hours=6),
                    packed_by_id=self.quality.qa.id,
                    status_before=bag.status.value,
                    received_at=now - timedelta(hours=1),
                    received_by_id=nurse.id,
                )
            )
            bag.status = "received"
            db.session.commit()
        return shipment

    def thaw(self, bag, allocation, minutes_ago: float = 5, ended: bool = True, window=None):
        """A thaw row: started a few minutes before it ended `minutes_ago` minutes ago."""
        from datetime import timedelta

        from custody.extensions import db
        from custody.models import Thaw
        from custody.models.base import utcnow
        from custody.services.core.audit_trail import acting_as

        window = window or self.trial().post_thaw_minutes
        nurse = self.make.user("nurse")
        ended_at = utcnow() - timedelta(minutes=minutes_ago)
        with acting_as("system:test", reason="test setup"):
            thaw = Thaw(
                bag_id=bag.id,
                allocation_id=allocation.id,
                started_at=ended_at - timedelta(minutes=12),
                started_by_id=nurse.id,
                ended_at=ended_at if ended else None,
                ended_by_id=nurse.id if ended else None,
                window_minutes=window,
                use_by=ended_at + timedelta(minutes=window) if ended else None,
            )
            db.session.add(thaw)
            if ended:
                bag.status = "thawed"
            db.session.commit()
        return thaw

    def at_bedside(self, recipient=None, infusion_number: int = 1, thawed: bool = True, **kw):
        """A released bag allocated to `recipient`, received at their site and thawed.

        Returns (bag, recipient, allocation)."""
        recipient = recipient or self.recipient()
        (bag,) = self.released_bags(1, **kw)
        allocation = self.allocate(bag, recipient, infusion_number)
        self.receive(bag, recipient.site)
        if thawed:
            self.thaw(bag, allocation)
        return bag, recipient, allocation

    def _set_status(self, bag, status: str) -> None:
        from custody.extensions import db
        from custody.services.core.audit_trail import acting_as

        with acting_as("system:test", reason="test setup"):
            bag.status = status
            db.session.commit()
