"""Collection: donors, their infectious-disease tests and eligibility, and donations (the
collections whose DINs start every chain of identity) with their receipt at the cell lab."""
