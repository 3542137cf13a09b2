"""Audit: reading the trail for review, exporting it, and verifying its hash chains.

Writing the trail is core's (`core.audit_trail`); this context only reads what core wrote.
"""
