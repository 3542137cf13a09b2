"""Test factories: callables with sensible defaults, building records the way users do."""

from __future__ import annotations

import itertools

from custody.services import accounts

PASSWORD = "correct horse battery"
_numbers = itertools.count(1)


class Factories:
    def __init__(self, app) -> None:
        self.app = app

    def user(self, role: str = "technician", username: str | None = None, name: str | None = None):
        username = username or f"{role}{next(_numbers)}"
        return accounts.create_user(
            "system:test", username, name or f"Test {role.title()} {username}", role, PASSWORD
        )

    def token(self, user) -> str:
        return accounts.issue_token("system:test", user.username)

    def auth(self, role: str = "technician", **kwargs) -> dict:
        """Authorization headers for a fresh user holding `role`."""
        user = self.user(role, **kwargs)
        return {"Authorization": f"Bearer {self.token(user)}"}


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
        from custody.services.audit_trail import acting_as
        from custody.services.identifiers import take_dins

        number = next(_numbers)
        with acting_as("system:test", reason="test setup"):
            (din,) = take_dins(self.app.config["CUSTODY_FIN"], 26, 1)
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
        return lot

    def positions(self, count: int = 3, prefix: str | None = None):
        """A site → freezer → rack → box with `count` positions; returns the positions."""
        from custody.extensions import db
        from custody.models import LocationKind, StorageLocation
        from custody.services.audit_trail import acting_as

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
        from custody.services.audit_trail import acting_as

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


# Results that meet the standard specification (custody.services.specifications).
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
        from custody.services import specifications as specs

        spec = specs.create_specification(
            self.qa, specs.SpecificationRequest(product, specs.STANDARD_RELEASE_TESTS)
        )
        if approve:
            spec = specs.approve_specification(
                self.qa, product, spec.version, self.qa.username, PASSWORD, 5
            )
        return spec

    def results(self, lot_number: str, by=None, skip=(), **overrides):
        """Every standard result, passing unless overridden (test=dict of fields)."""
        from custody.services.qc_results import ResultRequest, enter_result

        analyst = by or self.make.user("technician")
        for test, fields in PASSING_RESULTS.items():
            if test in skip:
                continue
            enter_result(analyst, lot_number, ResultRequest(test, **overrides.get(test, fields)))
        return analyst

    def sign(self, lot_number: str, action: str = "release", signer=None, **fields):
        from custody.services.release import DispositionRequest, ReleaseSettings, decide

        signer = signer or self.make.user("qa")
        request = DispositionRequest(action, signer.username, PASSWORD, **fields)
        return decide(signer, lot_number, request, ReleaseSettings.from_config(self.app.config))

    def released_lot(self, make_lot, action: str = "release", **lot_fields):
        """A lot through specification, results and QA's signature."""
        if self.specification_missing():
            self.specification()
        lot = make_lot(**lot_fields)
        self.results(lot.lot_number)
        self.sign(lot.lot_number, action)
        return lot

    def specification_missing(self) -> bool:
        from custody.services.specifications import current_specification

        return current_specification("D0001") is None


def _division(n: int) -> str:
    """The n-th bag's division: A0 … Z0, then second-level divisions Aa … Za, Ab …"""
    first = chr(ord("A") + n % 26)
    return first + ("0" if n < 26 else chr(ord("a") + n // 26 - 1))


def approve_label_templates(make: Factories) -> object:
    """Every shipped label template approved by a QA signature, as a site does before printing.

    Returns the QA user who signed."""
    from custody.services.label_templates import approve_template, library

    qa = make.user("qa")
    for name, version in sorted(library().templates):
        approve_template(qa, name, version, qa.username, PASSWORD, 5)
    return qa
