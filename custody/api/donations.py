"""Collections (apheresis donations) and their receipt at the lab."""

from custody.api.parsing import ApiBlueprint
from custody.auth import api_user, requires
from custody.config import settings
from custody.domain.permissions import UseCase
from custody.schemas.collection import (
    DonationIn,
    DonationListOut,
    DonationOut,
    DonationQuery,
    ReceiptIn,
    ReceiptOut,
)
from custody.services.bags.queries import event_summary
from custody.services.collection.donations import (
    CollectionRequest,
    ReceiptRequest,
    donation_detail,
    list_donations,
    receive_collection,
    record_collection,
)

PREFIX = "/donations"
blp = ApiBlueprint(
    "donations",
    __name__,
    description="Collections (apheresis donations) and their receipt at the lab",
)


@blp.post("")
@requires(UseCase.RECORD_COLLECTION)
@blp.arguments(DonationIn)
@blp.response(201, DonationOut)
def create(body):
    """Record a collection. The DIN is issued here and answered with its check character."""
    request = CollectionRequest(donor_code=body.pop("donor"), **body)
    donation = record_collection(api_user(), request, settings().fin)
    return donation_detail(donation.din)


@blp.get("")
@requires(UseCase.READ_DONORS)
@blp.arguments(DonationQuery, location="query")
@blp.response(200, DonationListOut)
def index(query):
    return {"items": list_donations(**query)}


@blp.get("/<din>")
@requires(UseCase.READ_DONORS)
@blp.response(200, DonationOut)
def show(din):
    """One collection, by its 13-character DIN (or the DIN typed with its check character)."""
    return donation_detail(din)


@blp.post("/receipts")
@requires(UseCase.RECEIVE_COLLECTION)
@blp.arguments(ReceiptIn)
@blp.response(201, ReceiptOut)
def receive(body):
    """Receive a collection at the cell lab by scanning its DIN barcode (or typing the DIN
    with its check character; a wrong one is refused). A second receipt is 409, naming
    when and by whom it was received."""
    event = receive_collection(api_user(), ReceiptRequest(**body))
    din = event.donation.din
    return {"donation": donation_detail(din), "event": event_summary(event) | {"donation": din}}
