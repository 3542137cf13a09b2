"""WSGI entry point: `gunicorn wsgi:app`. The only module-level app in the project."""

from custody import create_app

app = create_app()
