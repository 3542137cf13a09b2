"""Collections (apheresis donations) and their receipt at the lab."""

from custody.api.parsing import ApiBlueprint

PREFIX = "/donations"
blp = ApiBlueprint(
    "donations",
    __name__,
    description="Collections (apheresis donations) and their receipt at the lab",
)
