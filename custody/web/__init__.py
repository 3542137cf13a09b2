"""Browser pages: sign-in and the home page; each audience's station adds its blueprint here."""

from flask import Flask


def register_web(app: Flask) -> None:
    from custody.web import session_pages

    app.register_blueprint(session_pages.bp)
