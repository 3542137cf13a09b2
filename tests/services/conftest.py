"""The people who act in the service tests: one per role, the same in every context.

Who they are is written once, in tests/factories.py (CAST); the API's tests sign in as the same
people. Each is made when a test asks for them. `ann` is the first of the two bedside verifiers
and brings `nurse` (Nina) along as the second. A test that needs more people of a role makes
them with `make.user(...)`; a module's own fixture of the same name builds on the one here.
"""

from __future__ import annotations

import pytest

from custody.models import User


@pytest.fixture
def tech(make) -> User:
    """Tess Tech, technician: scans, storage, shipping, lots and labels."""
    return make.person("tech")


@pytest.fixture
def analyst(make) -> User:
    """Ana Lyst, technician, who enters the QC results."""
    return make.person("analyst")


@pytest.fixture
def qa(make) -> User:
    """Quinn Assurance, QA: specifications, release signatures, allocations and recalls."""
    return make.person("qa")


@pytest.fixture
def nurse(make) -> User:
    """Nina Second, nurse on the ward (and the second verifier at the bedside)."""
    return make.person("nurse")


@pytest.fixture
def ann(make, nurse) -> User:
    """Ann First, nurse, the first bedside verifier; Nina (`nurse`) is the second."""
    return make.person("ann")


@pytest.fixture
def admin(make) -> User:
    """Ada Morales, administrator: the trial's configuration and the recipients."""
    return make.person("admin")
