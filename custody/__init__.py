"""The custody tracker: chain of identity and chain of custody for cell-therapy products."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

# Flask settings that follow from the tracker's own; set the CUSTODY_* variable instead.
_DERIVED = frozenset({"SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "SESSION_COOKIE_SECURE"})


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build an app from the environment's settings (checked: a bad one raises SettingsError).

    `config` overrides by name: CUSTODY_* (and HOST, PORT, WEB_CONCURRENCY) variables are read
    exactly as if they were in the environment; other keys are Flask's own (tests set TESTING).
    """
    from flask_sqlalchemy.session import Session as FlaskSession

    from custody import auth, cli, security_headers
    from custody.api import register_api
    from custody.config import (
        EXTENSION_KEY,
        INSTANCE_PATH,
        MIGRATIONS,
        PROJECT_ROOT,
        VARIABLE_NAMES,
        load_settings,
    )
    from custody.database import configure_engine
    from custody.extensions import csrf, db, login_manager, migrate
    from custody.services.core import audit_trail
    from custody.web import register_web

    config = dict(config or {})
    if derived := _DERIVED & config.keys():
        raise TypeError(f"{sorted(derived)} follow from the CUSTODY_* settings; set those instead")
    overrides = {k: str(config.pop(k)) for k in list(config) if k in VARIABLE_NAMES}
    settings = load_settings({**os.environ, **overrides})

    app = Flask(
        __name__,
        instance_path=str(INSTANCE_PATH),
        static_folder=str(PROJECT_ROOT / "static"),
        static_url_path="/static",
    )
    app.config.update(settings.flask_config(), **config)
    app.extensions[EXTENSION_KEY] = settings

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    auth.init_app(app)
    security_headers.init_app(app)
    with app.app_context():
        configure_engine(db.engine, settings.audit_shards)
    audit_trail.install(FlaskSession)

    register_api(app)
    register_web(app)
    cli.register(app)
    return app
