"""Lookback at the API's edge: one starting point in, the same shape out in both directions."""

from marshmallow import Schema, fields, validate

from custody.models import BagStatus, Disposition, Eligibility, MaterialKind, RecipientStatus


def _starting_point(max_length: int, description: str) -> fields.String:
    # Empty values pass here on purpose: the service then says which identifier is missing.
    return fields.String(
        validate=validate.Length(max=max_length), metadata={"description": description}
    )


class LookbackQuery(Schema):
    donor = _starting_point(32, "a donor code: forward to every lot, bag and recipient reached")
    din = _starting_point(
        100, "a donation's DIN (13 characters, or with its check character, or as scanned)"
    )
    lot = _starting_point(32, "a manufacturing lot number")
    reagent_lot = _starting_point(64, "a reagent or vector lot number from the batch records")
    recipient = _starting_point(
        32, "a recipient's subject ID: backward to every bag, lot, donation and donor"
    )


def _one_of(values) -> dict:
    return {"description": "one of: " + ", ".join(v.value for v in values)}


class LookbackQueryEcho(Schema):
    scope = fields.String(metadata={"description": "donor, din, lot, reagent_lot or recipient"})
    value = fields.String(
        metadata={"description": "the identifier as stored (a DIN without its check character)"}
    )


class LookbackDonorOut(Schema):
    donor = fields.String(metadata={"description": "donor code"})
    eligibility = fields.String(metadata=_one_of(Eligibility))


class LookbackDonationOut(Schema):
    din = fields.String()
    donor = fields.String(metadata={"description": "donor code"})
    collected_at = fields.DateTime()
    facility = fields.String()


class ReagentLotOut(Schema):
    kind = fields.String(metadata=_one_of(MaterialKind))
    name = fields.String()
    lot_number = fields.String()


class LookbackLotOut(Schema):
    lot = fields.String(metadata={"description": "lot number"})
    status = fields.String(
        metadata={"description": "disposition: " + _one_of(Disposition)["description"]}
    )
    din = fields.String(metadata={"description": "the DIN the lot's product carries"})
    dins = fields.List(fields.String(), metadata={"description": "the DINs of its donations"})
    reagent_lots = fields.List(
        fields.Nested(ReagentLotOut),
        metadata={"description": "reagent and vector lots named in its batch record"},
    )


class LookbackBagOut(Schema):
    code = fields.String(metadata={"description": "public identifier: DIN-product code"})
    din = fields.String()
    product_code = fields.String()
    division = fields.String(metadata={"description": "the product code's last two characters"})
    status = fields.String(metadata=_one_of(BagStatus))
    lot = fields.String()
    recipient = fields.String(
        allow_none=True,
        metadata={"description": "subject ID of its active allocation or its infusion, or null"},
    )
    infused = fields.Boolean()


class LookbackRecipientOut(Schema):
    subject_id = fields.String()
    status = fields.String(metadata=_one_of(RecipientStatus))
    site = fields.String()
    bags = fields.List(
        fields.String(),
        metadata={"description": "bag codes allocated (now or once) or infused, of those here"},
    )
    infused_bags = fields.List(fields.String(), metadata={"description": "bag codes infused"})


class LookbackAllocationOut(Schema):
    bag = fields.String(metadata={"description": "bag code"})
    recipient = fields.String(metadata={"description": "subject ID"})
    infusion_number = fields.Integer()
    active = fields.Boolean(metadata={"description": "false once de-allocated"})
    allocated_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    end_reason = fields.String(allow_none=True)


class LookbackInfusionOut(Schema):
    bag = fields.String(metadata={"description": "bag code"})
    recipient = fields.String(metadata={"description": "subject ID"})
    infusion_number = fields.Integer()
    started_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    volume_ml = fields.Float(allow_none=True)


class LookbackOut(Schema):
    """The same keys forward and backward, each list sorted by its identifier."""

    query = fields.Nested(LookbackQueryEcho)
    donors = fields.List(
        fields.Nested(LookbackDonorOut),
        metadata={"description": "every donor behind the lots (a pooled lot names them all)"},
    )
    donations = fields.List(
        fields.Nested(LookbackDonationOut),
        metadata={
            "description": "the lots' donations, and the starting donor's or DIN's own "
            "(also those in no lot yet)"
        },
    )
    lots = fields.List(fields.Nested(LookbackLotOut))
    bags = fields.List(
        fields.Nested(LookbackBagOut),
        metadata={
            "description": "forward: every bag of the lots, divisions included; backward: "
            "the bags allocated to or infused into the recipient"
        },
    )
    recipients = fields.List(
        fields.Nested(LookbackRecipientOut),
        metadata={"description": "forward: everyone reached; backward: the recipient"},
    )
    allocations = fields.List(
        fields.Nested(LookbackAllocationOut),
        metadata={"description": "active and ended (de-allocated) allocations"},
    )
    infusions = fields.List(fields.Nested(LookbackInfusionOut))
