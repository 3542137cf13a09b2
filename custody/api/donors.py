"""Donors and their eligibility determination."""

from custody.api.parsing import ApiBlueprint
from custody.auth import api_user, requires
from custody.domain.permissions import UseCase
from custody.schemas.collection import (
    DonorIn,
    DonorListOut,
    DonorOut,
    DonorQuery,
    DonorTestIn,
    EligibilityIn,
)
from custody.services.collection.donors import (
    determine_eligibility,
    donor_detail,
    list_donors,
    record_donor_test,
    register_donor,
)

PREFIX = "/donors"
blp = ApiBlueprint("donors", __name__, description="Donors and their eligibility determination")


@blp.post("")
@requires(UseCase.REGISTER_DONOR)
@blp.arguments(DonorIn)
@blp.response(201, DonorOut)
def create(body):
    """Register a donor; eligibility starts pending, and product is flagged until determined."""
    donor = register_donor(api_user(), body["donor_code"], body["sex"], body["birth_date"])
    return donor_detail(donor.donor_code)


@blp.get("")
@requires(UseCase.READ_DONORS)
@blp.arguments(DonorQuery, location="query")
@blp.response(200, DonorListOut)
def index(query):
    eligibility = query.pop("eligibility", None)
    return {"items": list_donors(eligibility, **query)}


@blp.get("/<donor_code>")
@requires(UseCase.READ_DONORS)
@blp.response(200, DonorOut)
def show(donor_code):
    return donor_detail(donor_code)


@blp.post("/<donor_code>/tests")
@requires(UseCase.RECORD_DONOR_TEST)
@blp.arguments(DonorTestIn)
@blp.response(201, DonorOut)
def add_test(body, donor_code):
    """Record an infectious-disease test result. A result other than non-reactive reopens an
    "eligible" determination (back to pending) until QA determines again."""
    record_donor_test(api_user(), donor_code, body["test"], body["result"], body["sampled_on"])
    return donor_detail(donor_code)


@blp.post("/<donor_code>/eligibility")
@requires(UseCase.DETERMINE_ELIGIBILITY)
@blp.arguments(EligibilityIn)
@blp.response(200, DonorOut)
def determine(body, donor_code):
    """QA's eligibility determination. "eligible" needs every required test (setting
    CUSTODY_DONOR_TESTS) recorded non-reactive; ineligible and incomplete need notes."""
    determine_eligibility(api_user(), donor_code, body["determination"], body["notes"])
    return donor_detail(donor_code)
