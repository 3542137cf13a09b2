"""The trial as configuration: protocol, phases, dose levels and product settings."""

from custody.api.parsing import ApiBlueprint

PREFIX = "/trial"
blp = ApiBlueprint(
    "trial",
    __name__,
    description="The trial as configuration: protocol, phases, dose levels and product settings",
)
