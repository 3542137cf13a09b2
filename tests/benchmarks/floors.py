"""The floors the HTTP benchmark divides by: bare Flask apps doing the least a request could.

- floor-read: one primary-key SELECT of a bag, answered as JSON;
- floor-write: one INSERT of what a scan names, and its commit.

Both talk to the benchmark's own database with the connection settings the tracker uses
(`custody.database.configure_engine` and its engine options): on SQLite WAL, synchronous
NORMAL, foreign keys and the same busy timeout; a write begins IMMEDIATE and a read DEFERRED,
as the tracker's write and read use cases do; the pool pings a connection before lending it.
`settings_of` reads those settings back from live connections, so the benchmark can check
that a floor and the tracker really run alike before dividing by it.

They are served by the tracker's own server code (`custody.server.serve`: gunicorn, sync
workers, the same options), so the only difference left is the work a request does:

    python -m tests.benchmarks.floors read|write --database-url URL --port N --workers W
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from flask import Flask, jsonify, request
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    func,
    insert,
    text,
)

# The tracker's SQLite pragmas (custody/database.py); `settings_of` shows they still agree.
SQLITE_PRAGMAS = {
    "foreign_keys": "ON",
    "journal_mode": "WAL",
    "synchronous": "NORMAL",
    "busy_timeout": "15000",
}

metadata = MetaData()
# The floor-write row: what a scan names (bag, action, place) and when, in a table that no
# trigger, index or foreign key slows.
floor_writes = Table(
    "bench_floor_writes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("bag", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("location", String(64)),
    Column("occurred_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


def floor_engine(url: str, writes: bool) -> Engine:
    """An engine that connects and begins transactions as the tracker's does."""
    engine = create_engine(url, pool_pre_ping=True)  # the tracker's SQLALCHEMY_ENGINE_OPTIONS
    if engine.dialect.name != "sqlite":
        return engine

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # BEGIN is issued below, as the tracker does
        cursor = dbapi_connection.cursor()
        for name, value in SQLITE_PRAGMAS.items():
            cursor.execute(f"PRAGMA {name} = {value}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

    return engine


def settings_of(engine: Engine) -> dict[str, str]:
    """The connection settings that decide a request's database cost, read back from a live
    connection, and whether the pool checks a connection before lending it."""
    pool = {"pool_pre_ping": str(engine.pool._pre_ping)}  # no public accessor
    if engine.dialect.name != "sqlite":
        names = ("synchronous_commit", "default_transaction_isolation", "fsync")
        with engine.connect() as conn:
            return pool | {name: conn.exec_driver_sql(f"SHOW {name}").scalar() for name in names}
    with engine.connect() as conn:
        return pool | {
            name: str(conn.exec_driver_sql(f"PRAGMA {name}").scalar()).lower()
            for name in SQLITE_PRAGMAS
        }


def create_floor_table(url: str) -> None:
    engine = create_engine(url)
    metadata.create_all(engine)
    engine.dispose()


def read_app(url: str) -> Flask:
    app = Flask("floor-read")
    engine = floor_engine(url, writes=False)
    query = text("SELECT * FROM bags WHERE id = :id")

    @app.get("/bags/<int:bag_id>")
    def read(bag_id: int):
        with engine.begin() as conn:
            row = conn.execute(query, {"id": bag_id}).mappings().one()
        return jsonify({key: _plain(value) for key, value in row.items()})

    return app


def write_app(url: str) -> Flask:
    app = Flask("floor-write")
    engine = floor_engine(url, writes=True)

    @app.post("/scans")
    def write():
        body = request.get_json()
        row = {"bag": body["bag"], "action": body["action"], "location": body.get("location")}
        with engine.begin() as conn:
            new_id = conn.execute(insert(floor_writes).returning(floor_writes.c.id), row).scalar()
        return jsonify({"id": new_id}), 201

    return app


def _plain(value):
    return value if value is None or isinstance(value, int | float | str) else str(value)


FLOORS: dict[str, Callable[[str], Flask]] = {"read": read_app, "write": write_app}


def main() -> None:
    from custody.server import serve

    parser = argparse.ArgumentParser(description="Serve one floor app under the tracker's server")
    parser.add_argument("floor", choices=sorted(FLOORS))
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    make_app = FLOORS[args.floor]
    serve(lambda: make_app(args.database_url), "127.0.0.1", args.port, args.workers)


if __name__ == "__main__":
    main()
