"""Pure domain rules: no Flask, no database session. Everything here is unit-testable."""
