"""Runs the app under gunicorn from Python, so `custody serve` needs no extra files.

Each worker builds its own app after the fork. Handing gunicorn the app that the CLI created
would leak the CLI's application context into every worker; Flask then skips pushing a fresh
context per request, the database session is never closed, and on SQLite its transaction
would hold the write lock for good.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gunicorn.app.base import BaseApplication

if TYPE_CHECKING:
    from flask import Flask


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict, app_factory: Callable[[], Flask]) -> None:
        self._options = options
        self._app_factory = app_factory
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._app_factory()


def gunicorn_options(host: str, port: int, workers: int) -> dict[str, Any]:
    """gunicorn's settings for the tracker (the benchmarks serve their bare floors with these
    too, so that the server is never the difference)."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "accesslog": "-",
        "timeout": 60,
        "preload_app": False,
        "control_socket_disable": True,
    }


def serve(app_factory: Callable[[], Flask], host: str, port: int, workers: int) -> None:
    """Serve apps made by `app_factory` (`create_app`, handed in by the CLI, which sits above)."""
    _Gunicorn(gunicorn_options(host, port, workers), app_factory).run()
