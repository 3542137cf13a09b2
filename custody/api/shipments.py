"""Shipments to clinical sites: packing, courier handoff, logger data, receipt."""

from custody.api.parsing import ApiBlueprint

PREFIX = "/shipments"
blp = ApiBlueprint(
    "shipments",
    __name__,
    description="Shipments to clinical sites: packing, courier handoff, logger data, receipt",
)
