"""Recipients: registration, status, wristband, calendar and the clinic dashboard."""

from custody.api.parsing import ApiBlueprint

PREFIX = "/recipients"
blp = ApiBlueprint(
    "recipients",
    __name__,
    description="Recipients: registration, status, wristband, calendar and the clinic dashboard",
)
