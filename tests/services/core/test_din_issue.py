"""DINs are issued per FIN and year, in sequence, and never twice, even under concurrency."""

from __future__ import annotations

import threading

from custody.domain import isbt128
from custody.services.core.identifiers import next_din


def test_dins_follow_the_sequence_per_fin_and_year(app):
    first = next_din("tech", "W9999", 26)
    second = next_din("tech", "W9999", 26)
    other_year = next_din("tech", "W9999", 27)
    assert first == "W999926000001"
    assert second == "W999926000002"
    assert other_year == "W999927000001"
    for din in (first, second, other_year):
        assert isbt128.validate_din(din) == din


def test_concurrent_requests_never_get_the_same_din(app):
    from custody.extensions import db

    db.session.remove()
    issued: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        with app.app_context():
            try:
                for _ in range(5):
                    din = next_din("tech", "W9999", 26)
                    with lock:
                        issued.append(din)
            except BaseException as error:  # surfaced below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(issued) == 30
    assert len(set(issued)) == 30
    assert sorted(issued) == [f"W999926{n:06d}" for n in range(1, 31)]
