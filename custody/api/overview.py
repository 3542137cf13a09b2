"""The lab lead's overview as JSON: the same read model the `/overview` page shows."""

from custody.api.parsing import ApiBlueprint
from custody.auth import requires
from custody.domain.permissions import UseCase
from custody.schemas.overview import OverviewOut
from custody.services.traceability.overview import overview

PREFIX = "/overview"
blp = ApiBlueprint(
    "overview",
    __name__,
    description="The lab lead's overview: lots, bags, infusions, excursions, open items",
)


@blp.get("")
@requires(UseCase.READ_OVERVIEW)
@blp.response(200, OverviewOut)
def show():
    """The lab lead's overview: lots, bags, infusions, excursions and what is open.

    Lots by disposition, and those awaiting QA with their age; bags by state at each site
    (a storage site, the lab out of storage, or the clinical site the bag was shipped to);
    infusions due within 14 days or overdue, and recipients awaiting infusion 1, each with
    whether a released, allocated bag is ready; shipper temperature excursions of the last 30
    days; and what is still open: batch-record deviations of lots in quarantine, unsettled
    shipment discrepancies, unacknowledged quality alerts, and lots whose donor eligibility
    must be settled before release. Each item carries `page`, where it is dealt with.
    Technicians, QA and administrators."""
    return overview()
