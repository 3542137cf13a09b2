"""Lookback: from a donor, donation, lot or reagent lot to every bag and recipient reached, and
from a recipient back to everything behind them."""

from custody.api.parsing import ApiBlueprint
from custody.auth import requires
from custody.domain.permissions import UseCase
from custody.schemas.lookback import LookbackOut, LookbackQuery
from custody.services.traceability.lookback import lookback, starting_point

PREFIX = "/lookback"
blp = ApiBlueprint(
    "lookback",
    __name__,
    description="Lookback both ways: donor, donation, lot or reagent lot to recipients and back",
)


@blp.get("")
@requires(UseCase.LOOKBACK)
@blp.arguments(LookbackQuery, location="query")
@blp.response(200, LookbackOut)
def index(query):
    """Lookback from exactly one starting point: forward from a donor, DIN, lot or reagent lot,
    backward from a recipient.

    Forward (`donor`, `din`, `lot`, `reagent_lot`): every lot, bag (divisions included),
    recipient and infusion reached, de-allocated bags included. Backward (`recipient`): every
    bag allocated to or infused into them, its lot, donations, donors and the reagent and
    vector lots used. Both directions answer the same keys.

    A DIN may be sent with or without its check character. None or two starting points: 422
    naming the parameters; an identifier not recorded here: 404 (a known one that reached
    nothing yet answers with empty lists). QA and admin only: the answer names recipients.
    """
    return lookback(*starting_point(query))
