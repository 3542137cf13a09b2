"""Search at the API's edge (`GET /api/v1/search?q=`): the query in, the records found out.

Each record names its kind, its public key, words to show, and `url`, the browser page that
opens it for the caller's role (null where that role has none). What a hit's words say is
already the caller's: a recipient is named by subject ID only to a role that may not see
patient identifiers, and such a role never finds one by record number or wristband.
"""

from flask import url_for
from marshmallow import Schema, fields

from custody.domain.scan_targets import MAX_SCAN

KINDS = ("bag", "donation", "lot", "donor", "recipient", "shipment", "location")


class SearchQuery(Schema):
    # Not length-checked here: the service refuses a long query in words (422 `q`).
    q = fields.String(
        load_default="",
        metadata={
            "description": (
                "what was scanned or typed: a bag's label (Data Matrix, Code 128 reads, DIN "
                "with check character and product code, bag code), a DIN (with or without its "
                "check character), a lot number, a donor code, a recipient's subject ID (or, "
                "for roles that see patient identifiers, hospital record number or wristband "
                f"scan), a shipment (SHP-…) or a storage location (LOC-…); at most {MAX_SCAN} "
                "characters"
            )
        },
    )


def _url(hit) -> str | None:
    return url_for(hit.endpoint, **hit.values) if hit.endpoint else None


class SearchRelatedOut(Schema):
    kind = fields.String(metadata={"enum": list(KINDS)})
    key = fields.String(
        metadata={
            "description": "public identifier: bag code, DIN, lot number, donor code, subject "
            "ID, shipment or location code"
        }
    )
    label = fields.String(metadata={"description": "what it is, in words"})
    detail = fields.String(metadata={"description": "its state and context, in words"})
    url = fields.Function(
        _url,
        metadata={
            "type": "string",
            "nullable": True,
            "description": "the page that opens it for the caller's role; null if none",
        },
    )


class SearchHitOut(SearchRelatedOut):
    related = fields.List(
        fields.Nested(SearchRelatedOut),
        metadata={
            "description": "records shown with it: a bag's or donor's lots, a collection's "
            "lot, the bag a storage position holds"
        },
    )


class SearchOut(Schema):
    query = fields.String(metadata={"description": "the query as searched (stripped)"})
    items = fields.List(fields.Nested(SearchHitOut), metadata={"description": "best first"})
    message = fields.String(
        allow_none=True,
        metadata={"description": "when nothing was found: that, in words; null otherwise"},
    )
    searchable = fields.List(
        fields.String(), metadata={"description": "what the caller's role can search by"}
    )
