"""Reads never wait for writers: a use case that only reads (the permissions table's `writes`)
reads a snapshot; one that writes begins IMMEDIATE; a read that tries to write is a defect,
refused before it reaches the database."""

from __future__ import annotations

import sqlite3

import pytest
from flask import jsonify
from sqlalchemy import make_url

from custody import errors
from custody.auth import requires
from custody.database import ReadOnlyUseCaseWrote
from custody.domain.permissions import UseCase, permission
from custody.extensions import db
from custody.models import LocationKind, StorageLocation
from custody.services.core.audit_trail import acting_as
from tests.web.test_bag_page import sign_in

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
def write_lock_held_elsewhere(app):
    """Another process's writer, mid-transaction, holding SQLite's write lock."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "sqlite":
        pytest.skip("SQLite's write lock; PostgreSQL readers never take one")
    other = sqlite3.connect(url.database, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")
    yield
    other.execute("ROLLBACK")
    other.close()


def test_a_bag_read_answers_while_another_writer_holds_the_lock(client, make, make_lot, request):
    headers = make.auth("technician")
    code = make_lot(bags=1).bags[0].code
    # The token's first use writes its bookkeeping; within the minute a read writes nothing.
    assert client.get(f"/api/v1/bags/{code}", headers=headers).status_code == 200
    request.getfixturevalue("write_lock_held_elsewhere")
    for url in (f"/api/v1/bags/{code}", f"/api/v1/bags/{code}/history", "/api/v1/lots"):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.get_json())


def test_a_page_that_only_reads_answers_while_another_writer_holds_the_lock(
    client, make, make_lot, request
):
    make.user("technician", username="tess")
    code = make_lot(bags=1).bags[0].code
    sign_in(client, "tess")
    assert client.get(f"/bags/{code}").status_code == 200
    request.getfixturevalue("write_lock_held_elsewhere")
    page = client.get(f"/bags/{code}")
    assert page.status_code == 200 and code in page.get_data(as_text=True)


def _add_location(code: str):
    with acting_as("system:test", reason="transaction mode test"):
        db.session.add(StorageLocation(code=code, name=code, kind=LocationKind.SITE))
        db.session.commit()
    return jsonify(ok=True)


def test_a_read_use_case_that_writes_is_refused_before_the_write(
    app, client, make, caplog, monkeypatch
):
    # Alembic's logging set-up (the test database's migration) silences existing loggers.
    monkeypatch.setattr(errors.log, "disabled", False)
    assert permission(UseCase.READ_RECORDS).writes is False
    sneaky_write = requires(UseCase.READ_RECORDS)(lambda: _add_location("LOC-SNEAKY"))
    app.add_url_rule("/api/v1/test-sneaky-write", "sneaky", view_func=sneaky_write)
    response = client.get("/api/v1/test-sneaky-write", headers=make.auth("technician"))
    assert response.status_code == 500
    assert "nothing was saved" in response.get_json()["error"]["message"]
    (logged,) = [r for r in caplog.records if r.exc_info]
    assert isinstance(logged.exc_info[1], ReadOnlyUseCaseWrote)
    assert "a use case that only reads tried to write: ['INSERT', 'INTO'" in str(logged.exc_info[1])
    assert db.session.query(StorageLocation).filter_by(code="LOC-SNEAKY").count() == 0


def test_a_write_use_case_still_writes(app, client, make):
    assert permission(UseCase.CREATE_LOCATION).writes is True
    honest_write = requires(UseCase.CREATE_LOCATION)(lambda: _add_location("LOC-HONEST"))
    app.add_url_rule("/api/v1/test-honest-write", "honest", view_func=honest_write)
    response = client.get("/api/v1/test-honest-write", headers=make.auth("technician"))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert db.session.query(StorageLocation).filter_by(code="LOC-HONEST").count() == 1
