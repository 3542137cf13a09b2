"""Placeholder: filled in by this change."""

from custody.api.parsing import ApiBlueprint

PREFIX = "/lookback"
blp = ApiBlueprint("lookback", __name__, description="lookback")
