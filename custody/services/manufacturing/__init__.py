"""Manufacturing: lots made from received donations, their batch record, and the bags filled
from a lot and divided (ISBT 128 divisions)."""
