"""`custody serve`: the production server answers, and frees the database between requests."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request

from sqlalchemy import create_engine, text

from custody.extensions import db
from tests.conftest import PG_URL, TEST_SECRET


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _assert_no_open_transaction(database_url: str) -> None:
    """No request may leave a transaction open (on SQLite it would hold the write lock)."""
    if PG_URL:
        engine = create_engine(database_url)
        with engine.connect() as conn:
            stuck = conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND state LIKE 'idle in transaction%'"
                )
            )
        engine.dispose()
        assert stuck == 0
    else:
        other = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=0)
        other.execute("BEGIN IMMEDIATE")  # another writer gets the lock at once
        other.execute("ROLLBACK")
        other.close()


def _wait_until_up(url: str, server: subprocess.Popen) -> None:
    for _ in range(100):
        if server.poll() is not None:
            raise AssertionError(f"server exited with {server.returncode}; see its log")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("server did not start")


def test_served_requests_leave_no_transaction_open(app, make, database_url, tmp_path, audit_key):
    token = make.token(make.user("qa", username="served"))
    db.session.remove()
    port = _free_port()
    env = {**os.environ, "CUSTODY_DATABASE_URL": database_url, "CUSTODY_SECRET_KEY": TEST_SECRET}
    env["CUSTODY_AUDIT_KEY_FILE"], env["CUSTODY_AUDIT_CHECKPOINT_LOG"] = map(str, audit_key)
    # The server's log goes to a file: a pipe nobody reads could fill and block its shutdown.
    log = (tmp_path / "serve.log").open("w+")
    server = subprocess.Popen(
        [sys.executable, "-m", "custody.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(f"{base}/login", server)
        for _ in range(4):  # reach both workers
            request = urllib.request.Request(
                f"{base}/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}
            )
            assert urllib.request.urlopen(request, timeout=5).status == 200
        _assert_no_open_transaction(database_url)
    finally:
        _stop(server, log)


def _stop(server: subprocess.Popen, log) -> None:
    """Graceful stop, as an operator would; gunicorn gives workers up to 30 s to finish."""
    server.terminate()
    try:
        server.wait(timeout=35)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
        log.seek(0)
        raise AssertionError(f"server did not stop on SIGTERM:\n{log.read()}") from None
    finally:
        log.close()
