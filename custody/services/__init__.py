"""Use cases, one package per context: the only code that writes. Each checks domain rules,
changes state, and commits; audit entries are written by the flush listener in
`core.audit_trail`, inside the same transaction.

The contexts depend on each other in one direction, top to bottom (the import contract in
pyproject.toml holds it): demo → traceability → clinic, labelling, manufacturing → quality →
bags → collection → audit → core.
"""
