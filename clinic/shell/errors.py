"""Error pages: a clear word to the user, never a traceback (SECURITY.md I7)."""

from __future__ import annotations

from flask import Flask, current_app, g, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, InternalServerError, SecurityError

from clinic.audit.services import record_event
from clinic.core.errors import RecordLockedError, VersionConflictError
from clinic.extensions import db

TITLES = {
    400: "The request could not be understood",
    403: "Not allowed",
    404: "Page not found",
    405: "Not allowed here",
    409: "Someone else changed this record",
    413: "Too large",
    429: "Too many attempts",
    500: "Something went wrong",
}

MESSAGES = {
    400: "Something in the request was not right. Go back, check the form and try again.",
    403: "Your role does not give access to this page. The attempt has been recorded.",
    404: "There is nothing at this address. Check the link or use the menu.",
    405: "This page cannot be used that way.",
    409: "The record changed after you opened it. Reload it to see the latest version.",
    413: "What you sent is larger than the clinic system accepts.",
    429: "Too many attempts in a short time. Please wait and try again.",
    500: "The error has been logged. If it happens again, give this reference to support.",
}


def render_error(code: int, message: str | None = None) -> tuple[str, int]:
    return (
        render_template(
            "errors/error.html",
            code=code,
            title=TITLES.get(code, "Error"),
            message=message or MESSAGES.get(code, ""),
            reference=g.get("request_id"),
        ),
        code,
    )


def handle_csrf_error(error: CSRFError) -> tuple[str, int]:
    return render_error(
        400,
        "This form expired or was opened in another window. "
        "Reload the page, then submit it again; nothing was saved.",
    )


def handle_forbidden(error: HTTPException) -> tuple[str, int]:
    # Nothing the refused request wrote stays, except this row: the request's boundary commits it.
    db.session.rollback()
    record_event("forbidden", record_type="endpoint", record_id=request.endpoint,
                 reason=f"{request.method} {request.path}")
    return render_error(403)


def handle_http_error(error: HTTPException) -> tuple[str, int]:
    code = error.code or 500
    if code >= 500:
        return handle_server_error(error)
    db.session.rollback()  # a request answered with an error page keeps nothing it wrote
    return render_error(code, MESSAGES.get(code) or error.description)


def handle_conflict(error: Exception) -> tuple[str, int]:
    db.session.rollback()
    return render_error(409)


def handle_locked(error: RecordLockedError) -> tuple[str, int]:
    db.session.rollback()
    return render_error(409, str(error))


def handle_server_error(error: Exception) -> tuple[str, int]:
    db.session.rollback()
    original = getattr(error, "original_exception", None) or error
    current_app.logger.error(
        "unhandled error, reference %s: %s", g.get("request_id"), type(original).__name__,
        exc_info=original if isinstance(error, InternalServerError) else error,
    )
    return render_error(500)


def handle_untrusted_host(error: SecurityError) -> tuple[str, int, dict[str, str]]:
    """A Host header not in TRUSTED_HOSTS: no page of ours is built for it (its links would point there)."""
    return "Unknown host.\n", 400, {"Content-Type": "text/plain; charset=utf-8"}


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(SecurityError, handle_untrusted_host)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(403, handle_forbidden)
    app.register_error_handler(VersionConflictError, handle_conflict)
    app.register_error_handler(StaleDataError, handle_conflict)
    app.register_error_handler(RecordLockedError, handle_locked)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_server_error)
