"""Follow-up samples with their own barcode, from the ward to the lab."""

from custody.api.parsing import ApiBlueprint

PREFIX = "/samples"
blp = ApiBlueprint(
    "samples",
    __name__,
    description="Follow-up samples with their own barcode, from the ward to the lab",
)
