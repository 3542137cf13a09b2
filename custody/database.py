"""Engine settings that make SQLite a safe embedded database for custody records.

- foreign keys on (SQLite leaves them off by default);
- WAL, so readers never block the writer;
- every transaction begins IMMEDIATE: a transaction that reads and then writes can otherwise
  fail with "database is locked" when another writer got in between, and a scan must either
  wait its turn or win, never fail at random.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Engine


def configure_engine(engine: Engine, audit_shards: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, connection_record) -> None:
        connection_record.info["audit_shards"] = audit_shards
        if engine.dialect.name == "sqlite":
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA busy_timeout = 15000")
            cursor.close()

    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "begin")
        def _on_begin(conn) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
