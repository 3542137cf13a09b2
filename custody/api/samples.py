"""Follow-up samples with their own barcode, from the ward to the lab."""

from flask import Response

from custody.api.parsing import ApiBlueprint
from custody.auth import api_user, requires
from custody.domain.errors import ValidationFailed
from custody.domain.permissions import UseCase
from custody.schemas.recipients import (
    SampleCollectionIn,
    SampleDispatchIn,
    SampleOut,
    SampleReceiptIn,
)
from custody.services.clinic import samples

PREFIX = "/samples"
blp = ApiBlueprint(
    "samples",
    __name__,
    description="Follow-up samples with their own barcode, from the ward to the lab",
)


@blp.get("/<code>")
@requires(UseCase.READ_RECORDS)
@blp.response(200, SampleOut)
def show(code):
    """The sample: whose, what kind, when due, and who collected, sent and received it."""
    return samples.sample_fields(samples.sample_by_code(code))


@blp.post("/<code>/collection")
@requires(UseCase.COLLECT_SAMPLE)
@blp.arguments(SampleCollectionIn)
@blp.response(200, SampleOut)
def collection(body, code):
    """The nurse took the sample. Send the tube's barcode as `scan` to prove it is this one."""
    scanned = body.get("scan")
    if scanned is not None and scanned.strip().upper() != code.strip().upper():
        raise ValidationFailed(
            f"The tube scanned ({scanned.strip()[:40]}) is not sample {code.strip()[:40]}. "
            "Check that you hold the right tube.",
            field="scan",
        )
    return samples.sample_fields(samples.collect(api_user(), scanned or code, body["at"]))


@blp.post("/<code>/dispatch")
@requires(UseCase.DISPATCH_SAMPLE)
@blp.arguments(SampleDispatchIn)
@blp.response(200, SampleOut)
def dispatch(body, code):
    """The nurse handed the sample to the courier for the lab."""
    return samples.sample_fields(samples.send(api_user(), code, body["at"]))


@blp.post("/<code>/receipt")
@requires(UseCase.RECEIVE_SAMPLE)
@blp.arguments(SampleReceiptIn)
@blp.response(200, SampleOut)
def receipt(body, code):
    """The lab received the sample, in the condition stated. The post-transplant sample's
    receipt takes the recipient off the study."""
    return samples.sample_fields(samples.receive(api_user(), code, body["condition"]))


@blp.get("/<code>/barcode.svg")
@requires(UseCase.READ_RECORDS)
@blp.response(
    200,
    {"type": "string", "format": "binary"},
    content_type="image/svg+xml",
    description="The sample's Code 128 barcode",
)
def barcode(code):
    """The sample's Code 128 barcode with its code printed under it, for the tube's label."""
    return Response(samples.barcode_svg(code), mimetype="image/svg+xml")
