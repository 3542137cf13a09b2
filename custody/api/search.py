"""Search: what a scan or a typed code names, and the page that opens it."""

from custody.api.parsing import ApiBlueprint
from custody.auth import api_user, requires
from custody.domain.permissions import UseCase
from custody.schemas.search import SearchOut, SearchQuery
from custody.services.traceability.search import find, query_text, searchable

PREFIX = "/search"
blp = ApiBlueprint(
    "search",
    __name__,
    description="One search for a bag, DIN, lot, donor, recipient, shipment or location",
)


@blp.get("")
@requires(UseCase.SEARCH)
@blp.arguments(SearchQuery, location="query")
@blp.response(200, SearchOut)
def index(query):
    """What `q` names: bags, collections, lots, donors, recipients, shipments, locations.

    `q` is read as the scan station reads a scan (a bag's Data Matrix or Code 128 reads, a DIN
    with its check character, a bag code, `LOC-`/`SHP-` codes), as a DIN without its check
    character, and as a plain code (lot number, donor code, subject ID, shipment code), every
    match exact in any case. A DIN names the bags that carry it, else its lot or collection.
    Recipients are found by subject ID; by hospital record number or wristband scan only for
    roles that see patient identifiers (QA, nurses, administrators), and never by name.
    Donors only for roles that read donors. Each item carries `url`, the page that opens it
    for the caller (null where the role has none).

    An empty `q` finds nothing (200, `message` says what to send); over 500 characters, a
    wrong check character, broken ISBT 128 data or a station command: 422 in words.
    """
    role = api_user().role
    text = query_text(query["q"])
    items = find(text, role)
    if not text:
        message = "Send q: a scan, a code or a number to search for."
    elif not items:
        message = f"Nothing here matches {text[:80]!r} exactly."
    else:
        message = None
    return {"query": text, "items": items, "message": message, "searchable": searchable(role)}
