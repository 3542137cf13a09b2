"""Benchmark: `custody serve` to its first answer (budget: within 2x a bare Flask app's start
under the same server).

Starts `custody serve` (two workers) on a free port against a freshly migrated temporary SQLite
database with an audit key and checkpoint log of its own, and times from the process's start
until GET /login first answers 200: settings and database checked, the start's checkpoint, the
master's app, gunicorn's workers forked, each worker's app, the page. The floor is a bare Flask
app answering GET / with "ok", written below, run by a process of its own under gunicorn with
the tracker's own server options (`custody.server.gunicorn_options`).

Each is started once untimed (bytecode cached, as an installed tracker's is; page cache warm),
then in interleaved rounds, so that drift on a shared machine reaches both. It prints the
medians, their ratio, and the CPU seconds of each server's whole run (start to stop, its
workers included), which on a busy machine leave out the wait for a core.

    python -m tests.benchmarks.cold_start [--rounds 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from custody.server import gunicorn_options
from tests.benchmarks import children_cpu, command_environment, run_custody

HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 60
POLL_SECONDS = 0.005
BUDGET = 2.0

# The floor: Flask and gunicorn and nothing of the tracker's (importing any of it would make
# the floor pay for the tracker's imports).
BARE_APP = """
import json
import sys

from flask import Flask
from gunicorn.app.base import BaseApplication


def create_app():
    app = Flask(__name__)

    @app.get("/")
    def index():
        return "ok"

    return app


class Server(BaseApplication):
    def __init__(self, options):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return create_app()


if __name__ == "__main__":
    Server(json.loads(sys.argv[1])).run()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def answers(port: int, path: str) -> bool:
    connection = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        connection.request("GET", path)
        status = connection.getresponse().status
    except OSError:
        return False
    finally:
        connection.close()
    if status != 200:
        raise SystemExit(f"GET {path} answered {status}")
    return True


def first_answer(command: list[str], port: int, path: str, env: dict, log: Path):
    """Seconds from starting `command` to the first 200 on `path`, and the CPU seconds of the
    server's whole run (stopped right after)."""
    cpu = children_cpu()
    with log.open("w") as out:
        started = time.perf_counter()
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            while not answers(port, path):
                if server.poll() is not None:
                    raise SystemExit(f"{command} exited with {server.returncode}: see {log}")
                if time.perf_counter() - started > START_TIMEOUT_SECONDS:
                    raise SystemExit(f"{command} did not answer: see {log}")
                time.sleep(POLL_SECONDS)
            seconds = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=60)
    return seconds, children_cpu() - cpu


def custody(folder: Path, env: dict, workers: int):
    port = free_port()
    command = [sys.executable, "-m", "custody.cli", "serve", "--host", HOST]
    command += ["--port", str(port), "--workers", str(workers)]
    return first_answer(command, port, "/login", env, folder / "custody.log")


def bare(folder: Path, env: dict, workers: int):
    port = free_port()
    options = json.dumps(gunicorn_options(HOST, port, workers))
    command = [sys.executable, str(folder / "bare_app.py"), options]
    return first_answer(command, port, "/", env, folder / "bare.log")


def summary(name: str, samples: list[tuple[float, float]]) -> tuple[float, str]:
    wall = statistics.median(s for s, _ in samples)
    cpu = statistics.median(c for _, c in samples)
    rounds = ", ".join(f"{s:.2f}" for s, _ in samples)
    said = f"{name}: median {wall:.2f} s to the first answer ({rounds}); the run's CPU {cpu:.2f} s"
    return wall, said


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "bare_app.py").write_text(BARE_APP, encoding="utf-8")
        env = command_environment(folder)
        run_custody(env, "db", "upgrade")
        bare(folder, env, args.workers)  # untimed: bytecode and page cache
        custody(folder, env, args.workers)
        samples: dict[str, list] = {"bare": [], "custody": []}
        for _ in range(args.rounds):
            samples["bare"].append(bare(folder, env, args.workers))
            samples["custody"].append(custody(folder, env, args.workers))
    floor, floor_line = summary("bare Flask under gunicorn, GET /", samples["bare"])
    tracker, tracker_line = summary("custody serve, GET /login", samples["custody"])
    print(floor_line)
    print(tracker_line)
    ratio = tracker / floor
    verdict = "met" if ratio <= BUDGET else "NOT met"
    print(f"custody serve: {ratio:.2f}x the bare app's start (budget {BUDGET}x: {verdict})")


if __name__ == "__main__":
    main()
