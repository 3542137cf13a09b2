"""The storage tree's limits: how long a location's code, how deep the tree, how full a box.

A location hangs under the kind just above it (site → freezer → rack → box → position); the
services build the tree, these numbers bound it, and the API's schemas check requests against
the same numbers.
"""

# The scan reader accepts own codes of up to 39 characters (the column holds 40).
MAX_LOCATION_CODE = 39
MAX_POSITIONS = 100  # a 10 × 10 cryobox
MAX_DEPTH = 4  # site → position is four levels down
