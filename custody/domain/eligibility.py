"""Donor eligibility as it travels with the product: the worst determination wins.

21 CFR 1271.60(d) and 1271.65: product from a donor whose determination is incomplete (used
under urgent medical need) or who is ineligible carries statements on its label and wherever it
is shown. The statements are fixed words (DOMAIN.md §3); pages and labels print them as given.
"""

from __future__ import annotations

from collections.abc import Iterable

NOT_EVALUATED = "NOT EVALUATED FOR INFECTIOUS SUBSTANCES"
ADVISE_PATIENT = "WARNING: Advise patient of communicable disease risks"
BIOHAZARD = "BIOHAZARD"
# An infectious-disease test's result, and QA's determination from them (21 CFR 1271.50).
TEST_RESULTS = ("non-reactive", "reactive", "indeterminate", "pending")
DETERMINATIONS = ("eligible", "ineligible", "incomplete")
# Worst first: a lot pooled from several donors carries the worst of their determinations.
SEVERITY = ("ineligible", "incomplete", "pending", "eligible")


def worst(determinations: Iterable[str]) -> str:
    found = set(determinations)
    return next((d for d in SEVERITY if d in found), "pending")


def warnings_for(determination: str) -> list[str]:
    """The statements product from a donor with this determination must carry."""
    if determination == "ineligible":
        return [BIOHAZARD, ADVISE_PATIENT]
    if determination in ("incomplete", "pending"):
        return [NOT_EVALUATED, ADVISE_PATIENT]
    return []
