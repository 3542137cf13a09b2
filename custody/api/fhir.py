"""Placeholder: filled in by this change."""

from custody.api.parsing import ApiBlueprint

PREFIX = "/fhir"
blp = ApiBlueprint("fhir", __name__, description="fhir")
