"""One consistent view of the database for a command that only reads (`custody audit verify`),
without building the app.

Building the app imports every page, the API and the libraries behind them, which takes longer
than a command that only reads needs to start; the settings and an engine are all it uses. Its
reads never take SQLite's write lock: a check of the whole trail under it would keep every scan
waiting for as long as it reads.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from flask import has_app_context
from sqlalchemy import URL, create_engine, make_url
from sqlalchemy.engine import Connection, Engine

from custody.config import INSTANCE_PATH, Settings, load_settings
from custody.config import settings as app_settings
from custody.database import begin_use_case, configure_engine, end_use_case


@contextmanager
def snapshot() -> Iterator[tuple[Connection, Settings]]:
    """A connection whose reads all see the database as it was at the first of them, and the
    settings it was opened with, as a use case that only reads (`database.begin_use_case`):
    on SQLite a deferred transaction that never waits for, nor holds up, a writer. Within an
    app (tests, `flask` commands), the app's engine and settings; from the `custody` command,
    the environment's settings and an engine configured as the app's."""
    token = begin_use_case(writes=False)
    try:
        if has_app_context():
            from custody.extensions import db

            with db.engine.connect() as conn:
                yield _one_snapshot(conn), app_settings()
            return
        settings = load_settings()
        engine = read_engine(settings)
        try:
            with engine.connect() as conn:
                yield _one_snapshot(conn), settings
        finally:
            engine.dispose()
    finally:
        end_use_case(token)


def read_engine(settings: Settings) -> Engine:
    """An engine on the app's database with the app's connection settings (custody.database)."""
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        engine = create_engine(url, pool_pre_ping=True)
    else:
        engine = create_engine(_as_the_app_resolves(url))
    configure_engine(engine, settings.audit_shards)
    return engine


def _as_the_app_resolves(url: URL) -> URL:
    """A relative SQLite path names a file in the instance folder, as Flask-SQLAlchemy resolves
    it for the app's own engine (sqlite:///custody.sqlite3 is not the working folder's file)."""
    if url.database in (None, "", ":memory:"):
        return url
    is_uri = bool(url.query.get("uri"))
    path = url.database.removeprefix("file:") if is_uri else url.database
    if os.path.isabs(path):
        return url
    path = os.path.join(INSTANCE_PATH, path)
    return url.set(database=f"file:{path}" if is_uri else path)


def _one_snapshot(conn: Connection) -> Connection:
    # PostgreSQL's default (READ COMMITTED) takes a snapshot per statement: the heads, the
    # entries and the records would not be read as of one moment.
    if conn.dialect.name == "postgresql":
        return conn.execution_options(isolation_level="REPEATABLE READ")
    return conn
