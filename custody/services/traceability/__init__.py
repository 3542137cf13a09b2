"""Traceability: the chain of identity as queries (`trace`), lookback both ways, recalls, a
bag's vein-to-vein timeline and custody report, the FHIR export, and the lab lead's overview.

The top of the service contexts: it reads every other one and nothing reads it but the edges.
"""
