"""Engine settings that make SQLite a safe embedded database for custody records, and the
check that a database is reachable and migrated before the server starts.

- foreign keys on (SQLite leaves them off by default);
- WAL, so readers never block the writer;
- a transaction begins as its use case needs (the permissions table says which use cases
  write): one that writes begins IMMEDIATE, since a transaction that reads and then writes can
  otherwise fail with "database is locked" when another writer got in between, and a scan must
  either wait its turn or win, never fail at random; one that only reads begins DEFERRED and
  reads its WAL snapshot, so a bag page never queues behind a scan, nor a scan behind an export.

A read transaction must never write: SQLite cannot upgrade a snapshot another writer has moved
past (SQLITE_BUSY at once, whatever the timeout), so a write inside a read use case is refused
as the programming error it is (ReadOnlyUseCaseWrote). Bookkeeping that a read may owe (a
session's last-seen time) is written in a transaction of its own (`own_write_transaction`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, make_url
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from custody.config import MIGRATIONS

# Whether the current unit of work may write. Anything that has not said otherwise (the CLI,
# a service called directly) writes: the safe default, since IMMEDIATE only ever waits.
_writes: ContextVar[bool] = ContextVar("custody_transaction_writes", default=True)

_WRITE_STATEMENTS = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class ReadOnlyUseCaseWrote(RuntimeError):
    """A use case the permissions table says only reads tried to write: a defect in the code,
    never the user's doing (its transaction began DEFERRED, and could not safely write)."""


def begin_use_case(writes: bool):
    """Say whether the unit of work starting now writes; returns the token `end_use_case`
    takes back. Set before its first statement: the mode is chosen when a transaction begins."""
    return _writes.set(writes)


def end_use_case(token) -> None:
    _writes.reset(token)


@contextmanager
def own_write_transaction(session) -> Iterator[None]:
    """Write bookkeeping from a read use case in a short IMMEDIATE transaction of its own.

    The read so far is ended first (a snapshot is never upgraded to a write); what follows the
    block reads a new snapshot, which includes the bookkeeping just committed.
    """
    session.commit()
    token = _writes.set(True)
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        _writes.reset(token)
        # What was read before the block came from an older snapshot: read it again if needed.
        session.expire_all()


def end_snapshot(session) -> None:
    """End a read's transaction once it has read all it needs, before slow work (an export's
    rendering): an open snapshot would hold back the WAL's checkpoint for as long."""
    session.commit()


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
            conn.exec_driver_sql("BEGIN IMMEDIATE" if _writes.get() else "BEGIN")

    @event.listens_for(engine, "before_cursor_execute")
    def _refuse_writes_in_reads(conn, cursor, statement, parameters, context, executemany) -> None:
        if not _writes.get() and statement.lstrip()[:7].upper().startswith(_WRITE_STATEMENTS):
            raise ReadOnlyUseCaseWrote(
                f"a use case that only reads tried to write: {statement.split(None, 3)[:3]}"
            )


class DatabaseNotReady(Exception):
    """The database cannot serve the tracker yet; the message says what to do, in one line."""


def check_database(url: str) -> None:
    """Before serving: the database answers and its schema is at the migrations' head.

    The workers would otherwise start, and every request would fail on its own.
    """
    engine = create_engine(url, connect_args=_connect_timeout(url))
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except DBAPIError as error:
        raise DatabaseNotReady(database_problem(error, url)) from None
    finally:
        engine.dispose()
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    if current != head:
        at = f"at revision {current}" if current else "empty"
        raise DatabaseNotReady(
            f"the database {_shown(url)} is not migrated ({at}; this version needs {head}): "
            "run `custody db upgrade`"
        )


def database_problem(error: DBAPIError, url: str) -> str:
    """A database error as one line that says what is wrong and what to do."""
    reason = str(error.orig or error).strip().splitlines()[0]
    if "no such table" in reason or ("relation" in reason and "does not exist" in reason):
        return f"the database {_shown(url)} has no tracker tables yet: run `custody db upgrade`"
    if isinstance(error, OperationalError | InterfaceError):
        return (
            f"CUSTODY_DATABASE_URL={_shown(url)} cannot be used: {reason}; "
            "start the database or correct the URL"
        )
    return f"the database {_shown(url)} refused the command: {reason}"


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _connect_timeout(url: str) -> dict:
    # A host that does not answer must not hang the start: PostgreSQL waits 10 s at most.
    return {"connect_timeout": 10} if make_url(url).get_backend_name() == "postgresql" else {}
