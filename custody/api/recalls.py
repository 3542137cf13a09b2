"""Placeholder: filled in by this change."""

from custody.api.parsing import ApiBlueprint

PREFIX = "/recalls"
blp = ApiBlueprint("recalls", __name__, description="recalls")
