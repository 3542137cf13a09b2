"""Allocating released bags to recipients, de-allocation and the dose checks."""

from custody.api.parsing import ApiBlueprint

PREFIX = "/allocations"
blp = ApiBlueprint(
    "allocations",
    __name__,
    description="Allocating released bags to recipients, de-allocation and the dose checks",
)
