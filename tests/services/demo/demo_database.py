"""A demo loaded into a database of its own, for test modules that read the demo's data.

Loading the demo takes seconds, so each module loads it once and its tests only read; the
digest of the named tables lets a module check that the same seed gives the same rows.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import make_url, select

from custody import create_app
from custody.extensions import db
from custody.models import Base
from custody.services.demo import load_demo
from tests.conftest import (
    PG_URL,
    TEST_SECRET,
    _drop_pg_database,
    _migrate,
    _recreate_pg_database,
    _worker,
)


def table_digest(names: Iterable[str]) -> str:
    """SHA-256 over every row of the named tables, in primary-key order."""
    digest = hashlib.sha256()
    for name in names:
        table = Base.metadata.tables[name]
        rows = db.session.execute(select(table).order_by(*table.primary_key.columns)).all()
        digest.update(repr((name, [tuple(row) for row in rows])).encode())
    return digest.hexdigest()


@contextmanager
def loaded_demo(migrated_database, tmp_path_factory, label: str, tables) -> Iterator[str]:
    """load_demo(scale=1, seed=1) in a fresh database named after `label`, inside an app
    context; yields the digest of `tables`."""
    name = None
    if PG_URL:
        name = f"{make_url(PG_URL).database}_{label}_{_worker()}"
        url = _recreate_pg_database(PG_URL, name)
        _migrate(url)
    else:
        path = tmp_path_factory.mktemp(label) / "custody.sqlite3"
        shutil.copyfile(migrated_database, path)
        url = f"sqlite:///{path}"
    app = create_app(
        {
            "TESTING": True,
            "CUSTODY_SECRET_KEY": TEST_SECRET,
            "CUSTODY_DATABASE_URL": url,
            "CUSTODY_FIN": "W9999",
        }
    )
    with app.app_context():
        load_demo(scale=1, seed=1)
        yield table_digest(tables)
        db.session.remove()
        db.engine.dispose()
    if name:
        _drop_pg_database(PG_URL, name)


@contextmanager
def demo_database_url(migrated_database, tmp_path_factory, label: str) -> Iterator[str]:
    """The URL of a fresh database holding load_demo(scale=1, seed=1), for a module whose tests
    serve it (as the `database_url` of their app) and only read it."""
    with loaded_demo(migrated_database, tmp_path_factory, label, ()):
        url = str(db.engine.url.render_as_string(hide_password=False))
        db.session.remove()
        db.engine.dispose()
        yield url
