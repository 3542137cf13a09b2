"""Where a trace can start: a donor, a donation (DIN), a lot, or a reagent or vector lot.

Lookback and recall start from the same points, named in the same words, so what a recall
blocks is what a lookback shows.
"""

SCOPES = ("donor", "din", "lot", "reagent_lot")
SCOPE_WORDS = {
    "donor": "donor",
    "din": "donation (DIN)",
    "lot": "lot",
    "reagent_lot": "reagent or vector lot",
}
