"""PDF documents the tracker prints: location labels, and later certificates and reports."""
