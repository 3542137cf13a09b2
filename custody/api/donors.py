"""Donors and their eligibility determination."""

from custody.api.parsing import ApiBlueprint

PREFIX = "/donors"
blp = ApiBlueprint("donors", __name__, description="Donors and their eligibility determination")
