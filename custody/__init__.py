"""The custody tracker: chain of identity and chain of custody for cell-therapy products."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask_sqlalchemy.session import Session as FlaskSession

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None) -> Flask:
    """Build an app: settings from the environment, then `config` overrides (tests use it)."""
    from custody import auth, cli
    from custody.api import register_api
    from custody.config import load_settings
    from custody.database import configure_engine
    from custody.extensions import csrf, db, login_manager, migrate
    from custody.services.core import audit_trail
    from custody.web import register_web

    app = Flask(
        __name__,
        instance_path=str(PROJECT_ROOT / "instance"),
        static_folder=str(PROJECT_ROOT / "static"),
        static_url_path="/static",
    )
    app.config.update(load_settings(app.instance_path, config))

    db.init_app(app)
    migrate.init_app(
        app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True, compare_type=True
    )
    csrf.init_app(app)
    login_manager.init_app(app)
    auth.init_app(app)
    with app.app_context():
        configure_engine(db.engine, app.config["CUSTODY_AUDIT_SHARDS"])
    audit_trail.install(FlaskSession)

    register_api(app)
    register_web(app)
    cli.register(app)
    return app
