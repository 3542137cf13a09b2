"""The people who call the API in its tests, as their authorization headers: one per role.

They are the people of the service tests (tests/factories.py, CAST); each header's `.user` is
the user it signs in as. `ann` is the first of the two bedside verifiers and brings `nurse`
(Nina) along as the second. A test that needs another caller makes one with `make.auth(role)`.
"""

from __future__ import annotations

import pytest

from tests.factories import Headers


@pytest.fixture
def tech(make) -> Headers:
    """Tess Tech, technician."""
    return make.headers(make.person("tech"))


@pytest.fixture
def qa(make) -> Headers:
    """Quinn Assurance, QA, who signs."""
    return make.headers(make.person("qa"))


@pytest.fixture
def nurse(make) -> Headers:
    """Nina Second, nurse (and the second verifier at the bedside)."""
    return make.headers(make.person("nurse"))


@pytest.fixture
def ann(make, nurse) -> Headers:
    """Ann First, nurse, the first bedside verifier; Nina (`nurse`) is the second."""
    return make.headers(make.person("ann"))


@pytest.fixture
def admin(make) -> Headers:
    """Ada Morales, administrator."""
    return make.headers(make.person("admin"))


@pytest.fixture
def lot(quality, make_lot) -> str:
    """A quarantined lot with two bags, judged by the approved standard specification."""
    quality.specification()
    return make_lot().lot_number
