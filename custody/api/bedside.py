"""Two-person bedside verification."""

from custody.api.parsing import ApiBlueprint

PREFIX = "/bedside"
blp = ApiBlueprint("bedside", __name__, description="Two-person bedside verification")
