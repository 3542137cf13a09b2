"""The storage tree: sites, freezers, racks, boxes, positions."""

from custody.api.parsing import ApiBlueprint

PREFIX = "/locations"
blp = ApiBlueprint(
    "locations", __name__, description="The storage tree: sites, freezers, racks, boxes, positions"
)
