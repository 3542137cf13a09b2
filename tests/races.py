"""Racing calls for concurrency tests: each in its own thread, app context and session.

All threads wait at one barrier, then act at the same moment; each outcome is what its call
returned or the exception it raised, for the test to judge. Works on SQLite (whose writers
queue at BEGIN IMMEDIATE) and on PostgreSQL (row locks).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from custody.extensions import db
from custody.models import User


def race(app, *calls: tuple[str, Callable[[User], Any]]) -> list[Any]:
    """Run `(username, call)` pairs at once; `call(user)` gets its user, loaded in-thread."""
    db.session.commit()  # the test's own transaction must not hold SQLite's write lock
    start = threading.Barrier(len(calls), timeout=60)
    outcomes: list[Any] = [None] * len(calls)

    def run(slot: int, username: str, call: Callable[[User], Any]) -> None:
        with app.app_context():
            try:
                user = db.session.scalar(select(User).where(User.username == username))
                db.session.commit()  # end the read, so all wait at the barrier, not at BEGIN
                start.wait()
                outcomes[slot] = call(user)
            except Exception as error:  # judged by the test
                outcomes[slot] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, *c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.session.expire_all()
    return outcomes
