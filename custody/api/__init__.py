"""The JSON API under /api/v1, with an OpenAPI document built from the marshmallow schemas."""

from __future__ import annotations

from flask import Flask, current_app, json
from flask_smorest import Api

from custody.extensions import csrf
from custody.schemas.common import ErrorEnvelopeSchema


class CustodyApi(Api):
    """flask-smorest, with its app-wide JSON error handler replaced by `custody.errors`."""

    ERROR_SCHEMA = ErrorEnvelopeSchema

    def _register_error_handlers(self):
        pass

    def _openapi_json(self):
        """The OpenAPI document, built once: it changes only with the code (every blueprint is
        registered before the first request), and building it costs more than most requests."""
        if self._openapi_text is None:
            self._openapi_text = json.dumps(self.spec.to_dict(), indent=2, sort_keys=False)
        return current_app.response_class(self._openapi_text, mimetype="application/json")

    _openapi_text: str | None = None


def register_api(app: Flask) -> None:
    from custody import errors
    from custody.api import (
        accounts,
        allocations,
        audit,
        bags,
        bedside,
        donations,
        donors,
        fhir,
        identifiers,
        infusions,
        labels,
        locations,
        lookback,
        lots,
        overview,
        quality,
        recalls,
        recipients,
        release,
        samples,
        scans,
        search,
        shipments,
        specifications,
        trial,
    )

    api = CustodyApi(
        app,
        spec_kwargs={
            "info": {"description": "Chain of identity and custody for cell-therapy products."},
            "components": {
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer"},
                }
            },
            "security": [{"bearer": []}],
        },
    )
    modules = (
        accounts,
        audit,
        identifiers,
        donors,
        donations,
        lots,
        specifications,
        release,
        quality,
        bags,
        locations,
        scans,
        shipments,
        labels,
        trial,
        recipients,
        allocations,
        bedside,
        infusions,
        samples,
        lookback,
        recalls,
        fhir,
        overview,
        search,
    )
    for module in modules:
        csrf.exempt(module.blp)  # the API checks CSRF itself for cookie sessions (custody.auth)
        api.register_blueprint(module.blp, url_prefix=f"/api/v1{module.PREFIX}")
    errors.register(app)
