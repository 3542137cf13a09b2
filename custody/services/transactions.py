"""One write of the lab's records as one transaction, attributed, and a lost race in words.

Donors, collections, lots and bags all write the same way: under `acting_as`, commit at the
end, roll back on any error. It lives apart from each of them so that none imports another
only to borrow it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError

from custody.domain.errors import Conflict
from custody.extensions import db
from custody.models import User
from custody.services.audit_trail import acting_as


@contextmanager
def write(user: User, reason: str, race: str) -> Iterator[None]:
    """One transaction under `acting_as`: commit at the end, roll back on any error.

    A unique constraint that fires at commit means another request won a race; `race` says
    in words what the user should do, instead of a bare database error.
    """
    with acting_as(user.username, reason=reason):
        try:
            yield
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            raise Conflict(race) from None
        except BaseException:
            db.session.rollback()
            raise
