"""Infusion records."""

from custody.api.parsing import ApiBlueprint

PREFIX = "/infusions"
blp = ApiBlueprint("infusions", __name__, description="Infusion records")
