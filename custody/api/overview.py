"""Placeholder: filled in by this change."""

from custody.api.parsing import ApiBlueprint

PREFIX = "/overview"
blp = ApiBlueprint("overview", __name__, description="overview")
