"""Benchmark: the tracker under its real server, as ratios to floors measured in the same run.

For each history size it builds one migrated database (the scan benchmark's 2,000 quarantined
bags, the bedside benchmark's bags thawed at the bedside, the demo's lots for lookback, half of
the custody events of history on each of the first two), serves it with `custody serve`
(gunicorn, sync workers) and drives it with wrk (2 threads, 8 connections):

- bag read, GET /api/v1/bags/<code>, every bag in a random order;
- scan, POST /api/v1/scans, each bag stored and then retrieved (every scan must succeed);
- bedside verification, POST /api/v1/bedside/verifications, the first nurse only;
- lookback, GET /api/v1/lookback?lot=, over the demo's lots.

The floors (`tests.benchmarks.floors`) run under the same server on the same database: a bare
Flask app doing one primary-key SELECT (floor-read) or one INSERT and its commit (floor-write).
Every round measures each floor and the tracker one after the other, once per worker count, so
drift on a shared machine reaches both; the figures are medians over the rounds. The table
gives each endpoint's ratio (floor req/s ÷ tracker req/s: how many times slower than the
floor), its target, p99 ÷ p50, and the answers that were not the expected 2xx. Targets are
judged at the largest worker count; the others are context. With two history sizes it also
says whether each figure stayed flat, and, unless told not to, it checks that steady scans and
bag reads (two connections each, a request every 100 ms) keep answering, without a 503 and
with p95 under 50 ms, while one client exports the audit trail as PDF in a loop.

    python -m tests.benchmarks.http_load [--events 1000,1000000] [--duration 10] [--rounds 3]
        [--workers 1,2] [--database-url URL ... | --postgres SERVER_URL] [--no-export-check]

wrk must be on the PATH (Debian: apt-get install wrk).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, func, make_url, select, text

from custody.extensions import db
from custody.models import Bag, CustodyEvent, Lot
from custody.services.core.accounts import issue_token
from custody.services.core.audit_trail import acting_as
from custody.services.core.identifiers import take_dins
from custody.services.demo import load_demo
from tests.benchmarks import bedside_latency, migrated_app, scan_latency
from tests.benchmarks.floors import create_floor_table, floor_engine, settings_of

ROOT = Path(__file__).resolve().parents[2]
LUA_SCRIPT = Path(__file__).with_name("wrk_requests.lua")
THREADS = 2
CONNECTIONS = 8
BEDSIDE_BAGS = 100
DEMO_SCALE = 1
SECRET_KEY = "bench-secret-" * 3  # the one `migrated_app` builds with
P99_OVER_P50 = 4.0
FLAT = 1.2
EXPORT_PATH = "/api/v1/audit/entries.pdf"  # the whole trail, up to the PDF cap
EXPORT_P95_MS = 50.0
EXPORT_CONNECTIONS = 2  # per endpoint, each sending a request every EXPORT_PACE_MS at most
EXPORT_PACE_MS = 100
INCOMPLETE = '"outcome":%s*"incomplete"'  # a Lua pattern: the first nurse's answer

# One request line for the Lua script: (wrk thread number, method, path, body).
RequestLine = tuple[int, str, str, str]


@dataclass
class Dataset:
    """What the benchmark database holds that requests name, and the tokens to name it with."""

    url: str
    events: int
    technician_token: str
    nurse_token: str
    qa_token: str
    bag_codes: list[str]
    positions: list[str]
    bag_ids: list[int]
    bedside_pairs: list[tuple[str, str]]
    lots: list[str]


@dataclass(frozen=True)
class Endpoint:
    name: str
    floor: str  # "read" or "write"
    target: float
    token: Callable[[Dataset], str]
    lines: Callable[[Dataset, int], list[RequestLine]]
    expected: str | None = None  # a Lua pattern every 2xx body must match


@dataclass(frozen=True)
class Run:
    """What one wrk run saw."""

    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    non_2xx: int
    unavailable: int
    unexpected: int
    socket_errors: int
    failed_statuses: dict[str, int]

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def failures(self) -> int:
        return self.non_2xx + self.unexpected + self.socket_errors


@dataclass
class Figures:
    """Runs of one thing (an endpoint or a floor) over the rounds, and their medians."""

    runs: list[Run] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return statistics.median(r.per_second for r in self.runs)

    @property
    def p50_ms(self) -> float:
        return statistics.median(r.p50_ms for r in self.runs)

    @property
    def p99_ms(self) -> float:
        return statistics.median(r.p99_ms for r in self.runs)

    @property
    def failures(self) -> int:
        return sum(r.failures for r in self.runs)

    @property
    def unavailable(self) -> int:
        return sum(r.unavailable for r in self.runs)

    def failures_said(self) -> str:
        """What the failures were: HTTP statuses, 2xx answers that said something else,
        connections that broke."""
        counts: dict[str, int] = {}
        for run in self.runs:
            for status, count in run.failed_statuses.items():
                counts[status] = counts.get(status, 0) + count
            counts["unexpected 2xx"] = counts.get("unexpected 2xx", 0) + run.unexpected
            counts["socket errors"] = counts.get("socket errors", 0) + run.socket_errors
        return ", ".join(f"{what} × {count}" for what, count in counts.items() if count)


# ---- The requests: which wrk thread sends what ------------------------------------------------


def shuffled_per_thread(items: list, threads: int) -> list[list]:
    """Every item for every thread, each thread in its own random order."""
    return [random.Random(n).sample(items, len(items)) for n in range(threads)]


def dealt_per_thread(items: list, threads: int) -> list[list]:
    """The items dealt out like cards: no two threads share one."""
    return [items[n::threads] for n in range(threads)]


def bag_read_lines(data: Dataset, threads: int) -> list[RequestLine]:
    return [
        (n + 1, "GET", f"/api/v1/bags/{quote(code)}", "")
        for n, codes in enumerate(shuffled_per_thread(data.bag_codes, threads))
        for code in codes
    ]


def lookback_lines(data: Dataset, threads: int) -> list[RequestLine]:
    return [
        (n + 1, "GET", f"/api/v1/lookback?lot={quote(lot)}", "")
        for n, lots in enumerate(shuffled_per_thread(data.lots, threads))
        for lot in lots
    ]


def floor_read_lines(data: Dataset, threads: int) -> list[RequestLine]:
    return [
        (n + 1, "GET", f"/bags/{bag_id}", "")
        for n, ids in enumerate(shuffled_per_thread(data.bag_ids, threads))
        for bag_id in ids
    ]


def scan_cycle(bags: list[tuple[str, str, bool]]) -> list[dict]:
    """One thread's scans of its own bags (code, position, stored now): each bag's next
    action, then the opposite. A bag's two scans are a whole pass apart, so the first has
    been answered before the second is sent, and after the cycle every bag is back where it
    started: wrk can go round and round and every scan is allowed."""
    first = [
        _scan_body(code, position, "retrieve" if stored else "store")
        for code, position, stored in bags
    ]
    second = [
        _scan_body(code, position, "store" if stored else "retrieve")
        for code, position, stored in bags
    ]
    return first + second


def _scan_body(code: str, position: str, action: str) -> dict:
    body = {"action": action, "bag": code}
    if action == "store":
        body["location"] = position
    return body


def scan_lines(data: Dataset, threads: int, path: str = "/api/v1/scans") -> list[RequestLine]:
    stored = settled_stored_bags(data.url)
    bags = [
        (code, pos, code in stored)
        for code, pos in zip(data.bag_codes, data.positions, strict=True)
    ]
    return [
        (n + 1, "POST", path, json.dumps(body))
        for n, mine in enumerate(dealt_per_thread(bags, threads))
        for body in scan_cycle(mine)
    ]


def floor_write_lines(data: Dataset, threads: int) -> list[RequestLine]:
    """The same bodies as the scans: the floor parses them and writes one row each."""
    return scan_lines(data, threads, path="/scans")


def bedside_lines(data: Dataset, threads: int) -> list[RequestLine]:
    return [
        (
            n + 1,
            "POST",
            "/api/v1/bedside/verifications",
            json.dumps({"recipient": band, "bag": bag}),
        )
        for n, pairs in enumerate(dealt_per_thread(data.bedside_pairs, threads))
        for band, bag in pairs
    ]


def settled_stored_bags(url: str) -> set[str]:
    """The bags in storage (their next scan is a retrieve) once no scan is landing any more.

    When wrk stops, the scans it had sent are still being served and commit afterwards; a
    state read before them would make the next run's first scans of those bags refused."""
    engine = create_engine(url)
    try:
        seen = _custody_state(engine)
        while True:
            time.sleep(0.5)
            now = _custody_state(engine)
            if now == seen:
                return now[1]
            seen = now
    finally:
        engine.dispose()


def _custody_state(engine) -> tuple[int, set[str]]:
    with engine.connect() as conn:
        last = conn.execute(text("SELECT max(id) FROM custody_events")).scalar()
        stored = conn.execute(text("SELECT code FROM bags WHERE storage_position_id IS NOT NULL"))
        return last, set(stored.scalars())


ENDPOINTS = (
    Endpoint("bag read", "read", 3.0, lambda d: d.technician_token, bag_read_lines),
    Endpoint("lookback (?lot=)", "read", 4.0, lambda d: d.qa_token, lookback_lines),
    Endpoint("scan", "write", 5.0, lambda d: d.technician_token, scan_lines),
    Endpoint(
        "bedside verification",
        "write",
        6.0,
        lambda d: d.nurse_token,
        bedside_lines,
        expected=INCOMPLETE,
    ),
)
FLOOR_LINES = {"read": floor_read_lines, "write": floor_write_lines}


# ---- The database ----------------------------------------------------------------------------


def build_dataset(app, url: str, events: int) -> Dataset:
    """The scan benchmark's bags, the bedside benchmark's, the demo's lots; `events` custody
    events of history, half on each of the first two."""
    with app.app_context():
        technician_token, codes, positions = scan_latency.build(events // 2)
        reserve_dins_of(codes)
        nurse_token, pairs = bedside_latency.build(app, BEDSIDE_BAGS, events - events // 2)
        lots_before = set(db.session.scalars(select(Lot.lot_number)))
        load_demo(scale=DEMO_SCALE)
        qa_token = issue_token("system:bench", "qa")
        db.session.commit()
        lots = sorted(set(db.session.scalars(select(Lot.lot_number))) - lots_before)
        bag_ids = list(db.session.scalars(select(Bag.id).where(Bag.code.in_(codes))))
        total = db.session.scalar(select(func.count()).select_from(CustodyEvent))
        db.session.remove()
        db.engine.dispose()
    create_floor_table(url)
    return Dataset(
        url, total, technician_token, nurse_token, qa_token, codes, positions, bag_ids, pairs, lots
    )


def reserve_dins_of(codes: list[str]) -> None:
    """The scan benchmark writes its bags' DINs (the first of their FIN and year) without the
    DIN allocator; take as many from it, so the lots made next get DINs of their own."""
    fin, year = codes[0][:5], int(codes[0][5:7])
    with acting_as("system:bench", reason="benchmark setup"):
        take_dins(fin, year, len(codes))
        db.session.commit()


def check_floor_settings(app, url: str) -> dict[str, str]:
    """The floors' connection settings, refused unless the tracker's connections have the same."""
    with app.app_context():
        tracker = settings_of(db.engine)
        db.engine.dispose()
    for writes in (False, True):
        engine = floor_engine(url, writes)
        floor = settings_of(engine)
        engine.dispose()
        if floor != tracker:
            raise SystemExit(f"the floors' settings {floor} differ from the tracker's {tracker}")
    return tracker


@contextmanager
def databases(args) -> Iterator[list[str | None]]:
    """One database URL per history size: given, made on a PostgreSQL server (and dropped
    afterwards), or None for a temporary SQLite file."""
    if args.database_url:
        if len(args.database_url) != len(args.events):
            raise SystemExit("give one --database-url per --events value")
        yield args.database_url
        return
    if not args.postgres:
        yield [None] * len(args.events)
        return
    names = [f"custody_bench_http_{events}" for events in args.events]
    for name in names:
        _pg_admin(args.postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _pg_admin(args.postgres, f'CREATE DATABASE "{name}"')
    try:
        base = make_url(args.postgres)
        yield [base.set(database=n).render_as_string(hide_password=False) for n in names]
    finally:
        for name in names:
            _pg_admin(args.postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_admin(server_url: str, statement: str) -> None:
    engine = create_engine(
        make_url(server_url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    with engine.connect() as conn:
        conn.execute(text(statement))
    engine.dispose()


# ---- Servers and wrk -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tracker_command(port: int, workers: int) -> list[str]:
    server = [sys.executable, "-m", "custody.cli", "serve", "--host", "127.0.0.1"]
    return [*server, "--port", str(port), "--workers", str(workers)]


def floor_command(floor: str, url: str, port: int, workers: int) -> list[str]:
    server = [sys.executable, "-m", "tests.benchmarks.floors", floor, "--database-url", url]
    return [*server, "--port", str(port), "--workers", str(workers)]


@contextmanager
def served(command: list[str], env: dict[str, str], log: Path) -> Iterator[str]:
    """A server started from `command` with `--port` in it; its base URL once it answers."""
    port = int(command[command.index("--port") + 1])
    with log.open("a") as out:
        server = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_until_answering(port, server, log)
            yield f"http://127.0.0.1:{port}"
        finally:
            server.terminate()
            try:
                server.wait(timeout=40)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def wait_until_answering(port: int, server: subprocess.Popen, log: Path) -> None:
    """Any HTTP answer will do (a floor has no page at /)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"server exited with {server.returncode}:\n{_tail(log)}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/")
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server did not answer within two minutes:\n{_tail(log)}")


def _tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def wrk(
    base: str,
    token: str,
    lines: list[RequestLine],
    seconds: float,
    work: Path,
    expected: str | None = None,
    threads: int = THREADS,
    connections: int = CONNECTIONS,
    pace_ms: int | None = None,
) -> Run:
    """One wrk run sending `lines`; what it measured, read from the Lua script's summary."""
    requests_file = work / f"requests-{secrets.token_hex(4)}.tsv"
    requests_file.write_text("".join("\t".join(map(str, line)) + "\n" for line in lines))
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s"]
    command += ["-H", f"Authorization: Bearer {token}", "-H", "Content-Type: application/json"]
    command += ["-s", str(LUA_SCRIPT), base, "--", str(requests_file)]
    command += [expected] if expected else []
    env = {**os.environ, "WRK_PACE_MS": str(pace_ms)} if pace_ms else None
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    requests_file.unlink()
    return parse_wrk(done.stdout, done.stderr)


def parse_wrk(stdout: str, stderr: str = "") -> Run:
    summary = next((line for line in stdout.splitlines() if line.startswith("BENCH ")), None)
    if summary is None:
        raise SystemExit(f"wrk printed no summary:\n{stdout}\n{stderr}")
    figures = json.loads(summary.removeprefix("BENCH "))
    return Run(
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        p50_ms=figures["p50_us"] / 1000,
        p95_ms=figures["p95_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        non_2xx=figures["non_2xx"],
        unavailable=figures["unavailable"],
        unexpected=figures["unexpected"],
        socket_errors=figures["socket_errors"],
        failed_statuses=figures["failed_statuses"],
    )


# ---- The rounds ------------------------------------------------------------------------------


@dataclass
class Bench:
    data: Dataset
    env: dict[str, str]
    work: Path
    duration: float
    warm_up: float
    results: dict[tuple[int, str], Figures] = field(default_factory=dict)

    def measure(self, workers: int, name: str, base: str, token: str, lines, expected=None) -> Run:
        """A warm-up run (every worker has served, its caches are full), then the measured one;
        the requests are made afresh for each, as a scan's depend on where the bags are."""
        wrk(base, token, lines(self.data, THREADS), self.warm_up, self.work, expected)
        run = wrk(base, token, lines(self.data, THREADS), self.duration, self.work, expected)
        self.results.setdefault((workers, name), Figures()).runs.append(run)
        return run

    def floor(self, workers: int, floor: str) -> Run:
        command = floor_command(floor, self.data.url, free_port(), workers)
        with served(command, self.env, self.work / f"floor-{floor}.log") as base:
            token = self.data.technician_token  # sent as the tracker's requests are; unread
            return self.measure(workers, f"floor-{floor}", base, token, FLOOR_LINES[floor])

    def tracker(self, workers: int) -> dict[str, Run]:
        runs = {}
        with served(
            tracker_command(free_port(), workers), self.env, self.work / "tracker.log"
        ) as base:
            for endpoint in ENDPOINTS:
                token = endpoint.token(self.data)
                runs[endpoint.name] = self.measure(
                    workers, endpoint.name, base, token, endpoint.lines, endpoint.expected
                )
        return runs

    def round(self, number: int, workers: int) -> None:
        """Floor-read, the tracker, floor-write: each floor next to the endpoints it is for."""
        runs = {"floor-read": self.floor(workers, "read")}
        runs |= self.tracker(workers)
        runs["floor-write"] = self.floor(workers, "write")
        said = ", ".join(f"{name} {run.per_second:.0f}/s" for name, run in runs.items())
        # Others' work on a shared machine moves every figure: say how busy it was.
        load = os.getloadavg()[0]
        print(f"  round {number}, {workers} worker(s), load {load:.1f}: {said}", flush=True)


def server_env(url: str, work: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CUSTODY_DATABASE_URL": url,
        "CUSTODY_SECRET_KEY": SECRET_KEY,
        "CUSTODY_AUDIT_CHECKPOINT_LOG": str(work / "checkpoints.jsonl"),
    }


# ---- Under an export -------------------------------------------------------------------------


@dataclass
class ExportLoop:
    """One client exporting the audit trail as PDF, again and again, until stopped."""

    base: str
    token: str
    statuses: list[int] = field(default_factory=list)  # 0: no answer
    seconds: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            status, size = self.export()
            self.seconds.append(time.perf_counter() - started)
            self.statuses.append(status)
            self.sizes.append(size)

    def export(self) -> tuple[int, int]:
        host, port = self.base.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=300)
        try:
            conn.request("GET", EXPORT_PATH, headers={"Authorization": f"Bearer {self.token}"})
            answer = conn.getresponse()
            return answer.status, len(answer.read())
        except OSError:
            return 0, 0
        finally:
            conn.close()

    @contextmanager
    def running(self) -> Iterator[None]:
        worker = threading.Thread(target=self.run, daemon=True)
        worker.start()
        try:
            time.sleep(1)  # the first export is under way before the load starts
            yield
        finally:
            self._stop.set()
            worker.join()


def under_export(bench: Bench, workers: int) -> None:
    """Steady scans and bag reads while one client exports the audit PDF in a loop: what a
    ward sees while someone prints the trail. Paced rather than flooding, so the figures
    show waiting on the export, not a queue of our own making."""
    data, token = bench.data, bench.data.technician_token
    command = tracker_command(free_port(), workers)
    with served(command, bench.env, bench.work / "tracker.log") as base:
        wrk(base, token, bag_read_lines(data, THREADS), bench.warm_up, bench.work)
        jobs = {"scan": scan_lines(data, 1), "bag read": bag_read_lines(data, 1)}
        loop = ExportLoop(base, data.qa_token)
        with loop.running():
            runs = concurrent_wrk(base, token, jobs, bench.duration, bench.work)
    print_export_check(workers, bench.duration, loop, runs)


def concurrent_wrk(base: str, token: str, jobs: dict, seconds: float, work: Path) -> dict[str, Run]:
    """One paced wrk run per job, all at the same time."""
    runs: dict[str, Run] = {}

    def one(name: str, lines: list[RequestLine]) -> None:
        runs[name] = wrk(
            base,
            token,
            lines,
            seconds,
            work,
            threads=1,
            connections=EXPORT_CONNECTIONS,
            pace_ms=EXPORT_PACE_MS,
        )

    threads = [threading.Thread(target=one, args=job) for job in jobs.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return runs


def print_export_check(
    workers: int, duration: float, loop: ExportLoop, runs: dict[str, Run]
) -> None:
    failed = sum(status != 200 for status in loop.statuses)
    median = statistics.median(loop.seconds) if loop.seconds else float("nan")
    size = statistics.median(loop.sizes) / 1024 if loop.sizes else 0
    print(
        f"\nUnder a client exporting the audit PDF in a loop ({workers} worker(s), {duration:g} s;"
        f" scans and bag reads on {EXPORT_CONNECTIONS} connections each, every"
        f" {EXPORT_PACE_MS} ms): {len(loop.statuses)} exports ({failed} not 200), median"
        f" {median:.2f} s, {size:.0f} KB each; target: 0 × 503 and p95 < {EXPORT_P95_MS:g} ms"
    )
    rows = []
    for name, run in runs.items():
        ok = run.unavailable == 0 and run.failures == 0 and run.p95_ms < EXPORT_P95_MS
        rows.append(
            [
                name,
                f"{run.per_second:.0f}",
                f"{run.p50_ms:.1f}",
                f"{run.p95_ms:.1f}",
                str(run.failures),
                str(run.unavailable),
                "pass" if ok else "FAIL",
            ]
        )
    print_columns(["endpoint", "req/s", "p50 ms", "p95 ms", "failed", "503", "result"], rows)
    print_failures({name: Figures([run]) for name, run in runs.items()})


# ---- The tables ------------------------------------------------------------------------------


def print_table(data: Dataset, results, workers: int, judged: bool, database: str, args) -> None:
    print(
        f"\n{data.events:,} custody events, {database}, {workers} sync worker(s), wrk -t{THREADS}"
        f" -c{CONNECTIONS} -d{args.duration:g}s, {args.rounds} round(s), medians"
        + ("" if judged else " (context, not judged)")
    )
    rows = []
    for endpoint in ENDPOINTS:
        mine, floor = results[workers, endpoint.name], results[workers, f"floor-{endpoint.floor}"]
        ratio = floor.per_second / mine.per_second
        spread = mine.p99_ms / mine.p50_ms
        result = verdict(ratio, endpoint.target, spread, mine.failures) if judged else "context"
        rows.append(
            [
                endpoint.name,
                f"{mine.per_second:.0f}",
                f"floor-{endpoint.floor}",
                f"{floor.per_second:.0f}",
                f"{ratio:.1f}×",
                f"≤ {endpoint.target:g}×",
                f"{mine.p50_ms:.1f}",
                f"{mine.p99_ms:.1f}",
                f"{spread:.1f}×",
                str(mine.failures),
                result,
            ]
        )
    for floor in ("read", "write"):
        figures = results[workers, f"floor-{floor}"]
        rows.append(
            [
                f"(floor-{floor})",
                f"{figures.per_second:.0f}",
                "",
                "",
                "",
                "",
                f"{figures.p50_ms:.1f}",
                f"{figures.p99_ms:.1f}",
                f"{figures.p99_ms / figures.p50_ms:.1f}×",
                str(figures.failures),
                "",
            ]
        )
    print_columns(
        [
            "endpoint",
            "tracker/s",
            "floor",
            "floor/s",
            "ratio",
            "target",
            "p50 ms",
            "p99 ms",
            "p99/p50",
            "failed",
            "result",
        ],
        rows,
    )
    print_failures({name: results[workers, name] for name in names_in_table()})


def names_in_table() -> list[str]:
    return [endpoint.name for endpoint in ENDPOINTS] + ["floor-read", "floor-write"]


def print_failures(figures: dict[str, Figures]) -> None:
    for name, measured in figures.items():
        if measured.failures:
            print(f"  {name} failed: {measured.failures_said()}")


def print_columns(header: list[str], rows: list[list[str]]) -> None:
    """A plain-text table: the first and last columns to the left, numbers to the right."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    last = len(header) - 1
    for cells in [header, *rows]:
        print(
            "  ".join(
                cell.ljust(width) if n in (0, last) else cell.rjust(width)
                for n, (cell, width) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()
        )


def verdict(ratio: float, target: float, spread: float, failures: int) -> str:
    missed = []
    if ratio > target:
        missed.append("ratio")
    if spread > P99_OVER_P50:
        missed.append(f"p99 > {P99_OVER_P50:g}× p50")
    if failures:
        missed.append("failed requests")
    return f"FAIL ({', '.join(missed)})" if missed else "pass"


def print_scaling(results, workers: list[int]) -> None:
    """What a second worker adds (context: the design says it must add throughput)."""
    if len(workers) < 2:
        return
    low, high = min(workers), max(workers)
    said = ", ".join(
        f"{e.name} {results[high, e.name].per_second / results[low, e.name].per_second:.2f}×"
        for e in ENDPOINTS
    )
    print(f"throughput at {high} workers over {low}: {said}")


def print_flatness(by_size: dict[int, tuple[Dataset, dict]], workers: int) -> None:
    """Each endpoint's figures at the largest history over the smallest (target ≤ 1.2×)."""
    if len(by_size) < 2:
        return
    (small, at_small), (large, at_large) = by_size[min(by_size)], by_size[max(by_size)]
    print(
        f"\nFlat from {small.events:,} to {large.events:,} custody events"
        f" ({workers} worker(s); no figure more than {FLAT:g}× worse):"
    )
    rows = []
    for e in ENDPOINTS:
        a, b = at_small[workers, e.name], at_large[workers, e.name]
        ratio_a = at_small[workers, f"floor-{e.floor}"].per_second / a.per_second
        ratio_b = at_large[workers, f"floor-{e.floor}"].per_second / b.per_second
        growth = {
            "req/s": a.per_second / b.per_second,
            "p50": b.p50_ms / a.p50_ms,
            "p99": b.p99_ms / a.p99_ms,
            "ratio": ratio_b / ratio_a,
        }
        worse = [name for name, g in growth.items() if g > FLAT]
        rows.append(
            [
                e.name,
                f"{a.per_second:.0f} → {b.per_second:.0f}",
                f"{growth['req/s']:.2f}×",
                f"{a.p50_ms:.1f} → {b.p50_ms:.1f}",
                f"{a.p99_ms:.1f} → {b.p99_ms:.1f}",
                f"{ratio_a:.1f}× → {ratio_b:.1f}×",
                f"FAIL ({', '.join(worse)})" if worse else "pass",
            ]
        )
    print_columns(["endpoint", "req/s", "slower", "p50 ms", "p99 ms", "ratio", "result"], rows)


# ---- The whole run ---------------------------------------------------------------------------


def bench_one_size(args, events: int, url: str | None) -> tuple[Dataset, dict]:
    with migrated_app(url) as app:
        url = app.config["SQLALCHEMY_DATABASE_URI"]
        database = "PostgreSQL" if make_url(url).get_backend_name() == "postgresql" else "SQLite"
        started = time.perf_counter()
        data = build_dataset(app, url, events)
        print(
            f"\nbuilt {data.events:,} custody events ({events:,} of history, {len(data.bag_codes)}"
            f" bags to scan, {len(data.bedside_pairs)} at the bedside, {len(data.lots)} lots)"
            f" on {database} in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        settings = check_floor_settings(app, url)
        print(f"tracker and floors connect alike: {settings}", flush=True)
        with tempfile.TemporaryDirectory() as work_dir:
            work = Path(work_dir)
            bench = Bench(data, server_env(url, work), work, args.duration, args.warm_up)
            for number in range(1, args.rounds + 1):
                for workers in args.workers:
                    bench.round(number, workers)
            judged = max(args.workers)
            for workers in args.workers:
                print_table(data, bench.results, workers, workers == judged, database, args)
            print_scaling(bench.results, args.workers)
            if args.export_check:
                under_export(bench, judged)
        return data, bench.results


def comma_separated_ints(value: str) -> list[int]:
    return [int(part) for part in value.split(",") if part]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=comma_separated_ints, default=[1000, 1_000_000])
    parser.add_argument("--duration", type=float, default=10, help="seconds a run (default 10)")
    parser.add_argument("--warm-up", type=float, default=2, help="seconds before each run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=comma_separated_ints, default=[1, 2])
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--database-url", action="append", help="an empty database, once per --events value"
    )
    where.add_argument(
        "--postgres",
        metavar="SERVER_URL",
        help="a PostgreSQL server: a database is made (and dropped) for each --events value",
    )
    parser.add_argument("--no-export-check", dest="export_check", action="store_false")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    if not (os.environ.get("CUSTODY_AUDIT_KEY") or os.environ.get("CUSTODY_AUDIT_KEY_FILE")):
        # `custody serve` needs a key; every process of the run (the set-up here, the
        # servers, which inherit this environment) signs the trail with the same one.
        os.environ["CUSTODY_AUDIT_KEY"] = secrets.token_hex(32)
    by_size = {}
    with databases(args) as urls:
        for events, url in zip(args.events, urls, strict=True):
            by_size[events] = bench_one_size(args, events, url)
    print_flatness(by_size, max(args.workers))


if __name__ == "__main__":
    main()
