"""The trial as configuration: protocol, phases, dose levels and product settings; and the
clinic dashboard of what is due across the study."""

from custody.api.parsing import ApiBlueprint
from custody.auth import api_user, requires
from custody.domain.permissions import UseCase
from custody.schemas.trial import (
    DashboardOut,
    DashboardQuery,
    DoseLevelIn,
    DoseLevelOut,
    DoseLevelStatusIn,
    PhaseIn,
    TrialIn,
    TrialOut,
)
from custody.services.clinic import trial
from custody.services.clinic.dashboard import dashboard as clinic_dashboard
from custody.services.clinic.infusion_in_progress import in_progress
from custody.services.clinic.recipients import site_today

PREFIX = "/trial"
blp = ApiBlueprint(
    "trial",
    __name__,
    description="The trial as configuration: protocol, phases, dose levels and product settings",
)


@blp.get("")
@requires(UseCase.READ_RECORDS)
@blp.response(200, TrialOut)
def show():
    """The trial: protocol, the phase now enrolling, the post-thaw window and every dose level
    with its status (open, closed or recommended). 404 until an administrator configures it."""
    return trial.current_trial()


@blp.post("")
@requires(UseCase.CONFIGURE_TRIAL)
@blp.arguments(TrialIn)
@blp.response(200, TrialOut)
def configure(body):
    """Set the trial up (once), or change its title, product name and post-thaw window. The
    protocol ID cannot change."""
    return trial.configure_trial(api_user(), **body)


@blp.post("/phase")
@requires(UseCase.CONFIGURE_TRIAL)
@blp.arguments(PhaseIn)
@blp.response(200, TrialOut)
def phase(body):
    """Change the phase now enrolling; phase 2 needs a recommended dose level."""
    return trial.set_phase(api_user(), body["phase"], body["reason"])


@blp.post("/dose-levels")
@requires(UseCase.CONFIGURE_TRIAL)
@blp.arguments(DoseLevelIn)
@blp.response(201, DoseLevelOut)
def add_dose_level(body):
    """Add a dose level (open): flat cells per infusion, or cells per kg, with a tolerance."""
    return trial.add_dose_level(api_user(), **body)


@blp.post("/dose-levels/<code>/status")
@requires(UseCase.CONFIGURE_TRIAL)
@blp.arguments(DoseLevelStatusIn)
@blp.response(200, DoseLevelOut)
def dose_level_status(body, code):
    """Open, close or recommend a dose level. Only one level is recommended at a time, and it
    stays recommended while phase 2 recipients on the study are on it."""
    return trial.set_dose_level_status(api_user(), code, body["status"], body["reason"])


@blp.get("/dashboard")
@requires(UseCase.READ_RECORDS)
@blp.arguments(DashboardQuery, location="query")
@blp.response(200, DashboardOut)
def dashboard(query):
    """What is due, overdue or coming within `days` days for every recipient on the study, and
    who still lacks a released, allocated bag for their next infusion (with the reason), and
    the infusions under way."""
    return clinic_dashboard(site_today(), query["days"]) | {"in_progress": in_progress()}
