"""Request ids and response headers (SECURITY.md I6, I7)."""

from __future__ import annotations

import secrets

from flask import current_app, g, request
from werkzeug.wrappers import Response

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def assign_request_id() -> None:
    """A short id that ties log lines, audit rows and the error page together."""
    g.request_id = secrets.token_hex(8)


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.endpoint != "static":
        # Pages may hold patient data: never kept by the browser or a proxy.
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        # Production is HTTPS only: browsers must never try plain HTTP again (a downgrade would expose it).
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if request_id := g.get("request_id"):
        headers["X-Request-ID"] = request_id
    return response
