"""Core: what every other context writes and signs with.

One write as one attributed transaction (`transactions.write`), the audit trail's flush
listener (`audit_trail`), accounts and sign-in (`accounts`), electronic signatures
(`signatures`), issuing DINs (`identifiers`) and the facility's own settings as the services
need them (`facility`). Core imports no other service package.
"""
