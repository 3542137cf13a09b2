"""Verifies the whole audit trail: every shard's chain, end to end, against its head, its MACs
and the signed checkpoints, in one pass over the entries.

What it names (each problem, not only the first):
- an entry edited, inserted or deleted by hand (sequence, link, hash, head);
- an entry written or re-hashed without the audit key (its MAC);
- a checkpoint that is not genuine, does not follow the one before, or that the trail no
  longer matches, including entries a checkpoint covered that have gone from a chain's end;
- a write to a regulated table that did not come through the application (the PostgreSQL
  tripwire's entries); a tripwire trigger missing or disabled is noted.

Without an audit key only the chains are checked, and the report says so.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Select, select, text
from sqlalchemy.engine import Connection

from custody.config import Settings, audit_secret
from custody.config import settings as app_settings
from custody.domain.audit_chain import (
    CHECKPOINT,
    DIRECT,
    HASHED_FIELDS,
    UNKEYED,
    ChainBreak,
    Pin,
    ShardCheck,
)
from custody.models.audit import AuditChainHead, AuditEntry
from custody.models.base import Base
from custody.services.core.audit_keys import AuditKeys, keys_from_secret
from custody.services.core.checkpoints import (
    Checkpoint,
    CheckpointRefused,
    parse_checkpoint,
    read_log,
)

_BATCH = 20_000


@dataclass(frozen=True)
class LogProblem:
    """A checkpoint log that does not hold: a line, or the whole file."""

    reason: str
    line: int | None = None
    kind: str = CHECKPOINT
    shard: int | None = None
    entry_id: int | None = None
    seq: int | None = None

    def describe(self) -> str:
        where = f"checkpoint log line {self.line}" if self.line else "checkpoint log"
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class VerifyReport:
    entries: int
    first_break: ChainBreak | LogProblem | None
    # Every problem, entry problems first in entry order.
    problems: tuple[ChainBreak | LogProblem, ...] = ()
    # What was and was not checked, and what is not yet covered: said, never a failure.
    notes: tuple[str, ...] = ()
    checkpoints: int = 0
    macs_checked: bool = False

    @property
    def ok(self) -> bool:
        return self.first_break is None

    @property
    def direct_changes(self) -> tuple[ChainBreak, ...]:
        return tuple(p for p in self.problems if p.kind == DIRECT)


@dataclass
class _Log:
    checkpoints: list[Checkpoint] = field(default_factory=list)
    problems: list[LogProblem] = field(default_factory=list)


def verify_trail(
    conn: Connection,
    progress: Callable[[int], None] | None = None,
    settings: Settings | None = None,
) -> VerifyReport:
    """Walk each shard in sequence order once; report every problem, earliest entry first.

    `settings` name the audit key and the checkpoint log: the app's when not given (a command
    that builds no app gives its own). Everything is read on `conn`, in its transaction."""
    settings = settings or app_settings()
    keys = _keys(settings)
    log = _read_checkpoints(settings.audit_checkpoint_log, keys) if keys else _Log()
    pins = _pins(log)
    heads = {row.shard: row for row in conn.execute(select(AuditChainHead.__table__))}
    shards = sorted(set(heads) | _shards_with_entries(conn) | set(pins))
    total, legacy, problems = 0, 0, []
    for shard in shards:
        check = ShardCheck(shard, keys.mac if keys else None, pins.get(shard, ()))
        with _driver_rows(conn, _shard_entries(shard)) as rows:
            check.feed(rows)
        head = heads.get(shard)
        check.finish(head.seq if head else None, head.hash if head else None)
        total += check.count
        legacy += check.legacy
        problems += check.problems
        if progress:
            progress(total)
    problems += log.problems
    problems.sort(key=lambda p: (p.entry_id is None, p.entry_id or 0, p.shard or 0))
    notes = _missing_tripwires(conn) + _notes(keys, log, heads, legacy, problems)
    return VerifyReport(
        entries=total,
        first_break=problems[0] if problems else None,
        problems=tuple(problems),
        notes=tuple(notes),
        checkpoints=len(log.checkpoints),
        macs_checked=keys is not None,
    )


def _keys(settings: Settings) -> AuditKeys | None:
    secret = audit_secret(settings)
    return keys_from_secret(secret) if secret is not None else None


def _shards_with_entries(conn: Connection) -> set[int]:
    entries_table = AuditEntry.__table__
    return set(conn.scalars(select(entries_table.c.shard).distinct()))


def _shard_entries(shard: int) -> Select:
    """A shard's entries as `ShardCheck` reads them: (id, hash, mac, *HASHED_FIELDS)."""
    table = AuditEntry.__table__
    columns = [table.c.id, table.c.hash, table.c.mac, *(table.c[f] for f in HASHED_FIELDS)]
    return select(*columns).where(table.c.shard == shard).order_by(table.c.seq)


@contextmanager
def _driver_rows(conn: Connection, query: Select) -> Iterator[Iterable[Sequence]]:
    """The query's rows as the database driver returns them (plain tuples), streamed, on
    `conn`'s own connection and transaction. A million entries: SQLAlchemy's result rows would
    cost about as much as hashing them. PostgreSQL's rows come through a server-side cursor,
    a batch at a time, never all in memory; SQLite's cursor steps through them as read."""
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    if not conn.in_transaction():  # read in conn's transaction, as its own statements are
        conn.begin()
    driver = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        cursor = driver.cursor(name="custody_audit_verify")
        cursor.itersize = _BATCH
    else:
        cursor = driver.cursor()
    try:
        cursor.execute(sql)
        yield cursor
    finally:
        cursor.close()


# --- the checkpoint log --------------------------------------------------------------------


def _read_checkpoints(path: Path, keys: AuditKeys) -> _Log:
    """Every line of the log checked on its own and against the one before it: genuine
    (this installation's key), numbered in turn, linked to the previous line by its hash,
    no shard shrinking or vanishing."""
    log = _Log()
    try:
        lines = read_log(path)
    except CheckpointRefused as why:
        log.problems.append(LogProblem(str(why)))
        return log
    previous: Checkpoint | None = None
    for number, line in lines:
        try:
            checkpoint = parse_checkpoint(line)
        except ValueError as why:
            log.problems.append(LogProblem(str(why), number))
            continue
        forged = _not_ours(checkpoint, keys)
        if forged:  # nothing in a line that is not ours can be relied on
            log.problems.append(LogProblem(forged, number))
            continue
        problem = _out_of_turn(checkpoint, previous)
        if problem:
            log.problems.append(LogProblem(problem, number))
        log.checkpoints.append(checkpoint)
        previous = checkpoint
    return log


def _not_ours(checkpoint: Checkpoint, keys: AuditKeys) -> str | None:
    if checkpoint.key_id != keys.key_id:
        return (
            f"checkpoint {checkpoint.number} was signed with another key ({checkpoint.key_id}; "
            f"this installation's is {keys.key_id})"
        )
    if not checkpoint.signed_by(keys.public):
        return f"checkpoint {checkpoint.number}'s signature does not hold (the line was altered)"
    return None


def _out_of_turn(checkpoint: Checkpoint, previous: Checkpoint | None) -> str | None:
    expected = previous.number + 1 if previous else 1
    if checkpoint.number != expected:
        return (
            f"checkpoint {checkpoint.number} follows checkpoint {expected - 1}: checkpoints "
            "were removed from the log"
        )
    link = previous.line_hash if previous else "0" * 64
    if checkpoint.previous != link:
        return (
            f"checkpoint {checkpoint.number} does not follow the line before it (a checkpoint "
            "was removed or replaced)"
        )
    if previous is not None:
        for head in previous.shards:
            now = checkpoint.head(head.shard)
            if now is None or now.size < head.size:
                return (
                    f"checkpoint {checkpoint.number} is not consistent with checkpoint "
                    f"{previous.number}: shard {head.shard} went from {head.size} entries to "
                    f"{now.size if now else 0}"
                )
    return None


def _pins(log: _Log) -> dict[int, list[Pin]]:
    pins: dict[int, list[Pin]] = defaultdict(list)
    for checkpoint in log.checkpoints:
        for head in checkpoint.shards:
            try:
                root = bytes.fromhex(head.root)
            except ValueError:
                root = b""
            pins[head.shard].append(Pin(checkpoint.number, head.size, root, head.mac_from))
    return pins


# --- the tripwire --------------------------------------------------------------------------


def _missing_tripwires(conn: Connection) -> list[str]:
    """On PostgreSQL, the regulated tables without their direct-change trigger, enabled. Said,
    not failed: the tripwire is no control (whoever has full rights can drop it); a table a
    later migration added without it is a gap to close."""
    if conn.dialect.name != "postgresql":
        return []
    # Imported here: the audit trail's writing side brings the app's extensions with it.
    from custody.services.core.audit_trail import UNAUDITED_TABLES

    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE t.tgname = c.relname || '_direct_change' AND t.tgenabled <> 'D'"
        )
    )
    armed = {name for (name,) in rows}
    regulated = set(Base.metadata.tables) - UNAUDITED_TABLES
    return [
        f"table {name} has no enabled direct-change trigger: writes to it that bypass the "
        "application are not recorded"
        for name in sorted(regulated - armed)
    ]


def _notes(keys, log: _Log, heads: dict, legacy: int, problems: list) -> list[str]:
    if keys is None:
        return [
            "MACs and checkpoints not checked: no audit key is configured "
            "(CUSTODY_AUDIT_KEY_FILE or CUSTODY_AUDIT_KEY)"
        ]
    notes = []
    if legacy:
        notes.append(
            f"{legacy} entries written before the audit key was configured carry no MAC "
            "(the chain and the checkpoints still cover them)"
        )
    if not log.checkpoints and any(p.reason == UNKEYED for p in problems):
        notes.append(
            "entries written before the audit key was configured carry no MAC: the first "
            "checkpoint pins them as such (`custody audit checkpoint`, made too when `custody "
            "serve` starts), if the chains are otherwise intact"
        )
    if not log.checkpoints:
        notes.append(
            "no signed checkpoint yet: run `custody audit checkpoint`; until one is made, "
            "entries deleted from the end of a chain would go unseen"
        )
        return notes
    latest = log.checkpoints[-1]
    covered = {head.shard: head.size for head in latest.shards}
    since = sum(max(0, row.seq - covered.get(shard, 0)) for shard, row in heads.items())
    notes.append(
        f"{len(log.checkpoints)} checkpoints checked; the latest, {latest.number}, was made at "
        f"{latest.made_at} ({latest.reason})"
    )
    if since:
        notes.append(
            f"{since} entries written since checkpoint {latest.number} are not yet covered by "
            "one: until the next, deleting them from the end of a chain would go unseen"
        )
    return notes


def grouped(problems) -> list[str]:
    """Problems in words, one a line, a run of the same problem on consecutive entries of a
    shard (a re-hashed chain) said once with its range."""
    lines: list[str] = []
    run: list = []

    def close() -> None:
        if len(run) == 1:
            lines.append(run[0].describe())
        elif run:
            first, last = run[0], run[-1]
            lines.append(
                f"entries {first.entry_id}–{last.entry_id} (shard {first.shard}, seq "
                f"{first.seq}–{last.seq}, {len(run)} entries): {first.reason}"
            )
        run.clear()

    for problem in problems:
        if (
            run
            and problem.entry_id is not None
            and (problem.shard, problem.reason) == (run[-1].shard, run[-1].reason)
            and problem.seq == run[-1].seq + 1
        ):
            run.append(problem)
            continue
        close()
        if problem.entry_id is None:
            lines.append(problem.describe())
        else:
            run.append(problem)
    close()
    return lines
