"""Use cases: the only code that writes. Each checks domain rules, changes state, and commits.

Audit entries are written by the flush listener in `audit_trail`, inside the same transaction.
"""
