"""The FHIR export at the API's edge: the search's query, and the answers' shape for OpenAPI.

The answers themselves are FHIR R5 JSON built by the services
(custody.services.traceability.fhir_*); the schemas here only describe them in the OpenAPI
document.
"""

from marshmallow import Schema, fields, validate


class DispenseSearchQuery(Schema):
    patient = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "the recipient's trial subject ID, e.g. CAR33-001-01"},
    )


def resource_document(resource_type: str, description: str) -> dict:
    """An OpenAPI schema naming the FHIR resource type an endpoint answers with."""
    return {
        "type": "object",
        "description": f"{description} (FHIR R5 {resource_type}, https://hl7.org/fhir/R5/)",
        "required": ["resourceType"],
        "properties": {"resourceType": {"type": "string", "enum": [resource_type]}},
        "additionalProperties": True,
    }
