"""Two-person bedside verification, and the thaw countdown the bedside page shows."""

from custody.api.parsing import ApiBlueprint
from custody.auth import api_user, requires
from custody.domain.permissions import UseCase
from custody.schemas.bedside import (
    BedsideWristbandIn,
    BedsideWristbandOut,
    ThawOut,
    VerificationIn,
    VerificationOut,
)
from custody.services.bags.thawing import thaw_status
from custody.services.clinic.bedside import VerificationRequest, verify
from custody.services.clinic.infusion_in_progress import at_bedside
from custody.services.clinic.verification_record import get_verification

PREFIX = "/bedside"
blp = ApiBlueprint("bedside", __name__, description="Two-person bedside verification")


@blp.post("/verifications")
@requires(UseCase.VERIFY_AT_BEDSIDE)
@blp.arguments(VerificationIn)
@blp.response(201, VerificationOut)
def create_verification(body):
    """Verify the scanned wristband against the scanned bag, with a second nurse's own
    credentials. Every attempt is recorded and answered 201: `passed` is true only when every
    check passed; `outcome` is `incomplete` when only the eligibility acknowledgement or the
    second verifier is missing, `unreadable` when a read failed (a garbled scan, a wrong check
    character): scan again, and `stopped` (with `stop_reason`) on any true mismatch, which no
    field can override. A bag label typed by hand needs `typed_reason`. A passed verification
    moves the bag to `verified`."""
    return verify(api_user(), VerificationRequest(**body))


@blp.get("/verifications/<uid>")
@requires(UseCase.READ_RECORDS)
@blp.response(200, VerificationOut)
def show_verification(uid):
    """A recorded verification with its checks, as it was answered; to a role that may not see
    patient identifiers, the recipient by subject ID and the checks' words without them."""
    return get_verification(uid, api_user().role)


@blp.get("/thaws/<bag_code>")
@requires(UseCase.READ_RECORDS)
@blp.response(200, ThawOut)
def show_thaw(bag_code):
    """The bag's thaw: started, ended, the post-thaw use-by time and the seconds left."""
    return thaw_status(bag_code)


@blp.post("/wristband")
@requires(UseCase.USE_BEDSIDE)
@blp.arguments(BedsideWristbandIn)
@blp.response(200, BedsideWristbandOut)
def wristband(body):
    """What a wristband scan finds at the bedside: the recipient it names and their infusion
    under way, if one is (with any stop that arose since it started). 422 when the wristband
    could not be read: scan it again."""
    return at_bedside(body["wristband"])
