"""Entry point for gunicorn and the flask CLI: ``gunicorn wsgi:app``."""

from clinic import create_app

app = create_app()
