"""One write of the lab's records as one transaction, attributed, and a lost race in words.

Donors, collections, lots, bags, scans, storage and shipments all write the same way: under
`acting_as`, commit at the end, roll back on any error. It lives apart from each of them
so that none imports another only to borrow it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from custody.domain.errors import Conflict
from custody.extensions import db
from custody.models import User
from custody.services.core.audit_trail import acting_as


@contextmanager
def write(user: User, reason: str, race: str | None = None, **details) -> Iterator[None]:
    """One transaction under `acting_as`: commit at the end, roll back on any error.

    A unique constraint or a version check that fires means another request won a race; `race`
    says in words what the user should do, instead of a bare database error. Without `race` the
    database error goes to the caller, for callers that retry (e.g. taking the next number).
    """
    with acting_as(user.username, reason=reason):
        try:
            yield
            db.session.commit()
        except (IntegrityError, StaleDataError):
            db.session.rollback()
            if race is None:
                raise
            raise Conflict(race, **details) from None
        except BaseException:
            db.session.rollback()
            raise
