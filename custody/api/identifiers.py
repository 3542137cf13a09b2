"""ISBT 128: parse scanned data, check a DIN, and issue new DINs for this facility."""

from custody.api.parsing import ApiBlueprint
from custody.auth import api_user, requires
from custody.config import settings
from custody.domain import isbt128
from custody.domain.permissions import UseCase
from custody.schemas.identifiers import DinCheckOut, DinIssueIn, ScanIn, StructuresOut
from custody.services.core.identifiers import next_din

PREFIX = "/isbt128"
blp = ApiBlueprint("isbt128", __name__, description="ISBT 128 identifiers and scanned data")


@blp.post("/parse")
@requires(UseCase.READ_ISBT128)
@blp.arguments(ScanIn)
@blp.response(200, StructuresOut)
def parse(body):
    return {"items": [s.to_dict() for s in isbt128.parse(body["data"])]}


@blp.get("/dins/<din>")
@requires(UseCase.READ_ISBT128)
@blp.response(200, DinCheckOut)
def check(din):
    din = isbt128.validate_din(din)
    return _din_out(din)


@blp.post("/dins")
@requires(UseCase.ISSUE_DIN)
@blp.arguments(DinIssueIn)
@blp.response(201, DinCheckOut)
def issue(body):
    din = next_din(api_user().username, settings().fin, body.get("year"))
    return _din_out(din)


def _din_out(din: str) -> dict:
    return {
        "din": din,
        "check_character": isbt128.check_character(din),
        "flags": isbt128.type3_flags(din),
    }
