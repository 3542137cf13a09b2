"""Runs the app under gunicorn from Python, so `custody serve` needs no extra files."""

from __future__ import annotations

from flask import Flask
from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):
    def __init__(self, app: Flask, options: dict) -> None:
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._app


def serve(app: Flask, host: str, port: int, workers: int) -> None:
    # The app is created before forking; engines are disposed so no worker inherits a
    # database connection opened by the parent.
    from custody.extensions import db

    with app.app_context():
        db.engine.dispose()
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "accesslog": "-",
        "timeout": 60,
    }
    _Gunicorn(app, options).run()
