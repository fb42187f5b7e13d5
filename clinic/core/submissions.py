"""One-time keys for create forms (SECURITY.md D1): a double click, a resent form or a second tab never
stores twice; a repeat answers with the first result.

A create form carries a random key made when the form was shown. The Back button brings the form back
with a new key and the browser refills it: the same content sent again by the same person within
``SAME_CONTENT_WINDOW`` is a repeat too. Its view claims the key before it
writes anything: the claim is a row with the key as its primary key, flushed in the same transaction as
the record it guards, so of two requests with the same key one waits for the other (the unique key)
and then finds the first one's result instead of writing a second record. A refused submission rolls
back its claim with everything else, so the same form can be corrected and sent again.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from typing import Any, Optional

import sqlalchemy as sa
from flask import flash, redirect, request
from flask_login import current_user
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.wrappers import Response
from wtforms import HiddenField

from clinic.core.models import UTCDateTime, utcnow
from clinic.extensions import Model, db

KEY_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,64}")
SAME_CONTENT_WINDOW = timedelta(minutes=10)
# Fields that differ between two sendings of the same content, or must not be hashed.
_NOT_CONTENT = frozenset({"csrf_token", "submission", "password", "code", "version"})


class FormSubmission(Model):
    """A create form's one-time key, and where its first submission led."""

    __tablename__ = "form_submission"
    __audit__ = False  # the record it guards is audited; its key is plumbing

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("user.id"))
    endpoint: Mapped[str] = mapped_column(sa.String(80))
    # What was sent (SHA-256 of the path and the fields, less the key, token and password).
    digest: Mapped[Optional[str]] = mapped_column(sa.String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    result_url: Mapped[Optional[str]] = mapped_column(sa.String(500))


def new_key() -> str:
    return secrets.token_urlsafe(24)


class SubmissionKeyField(HiddenField):  # type: ignore[misc]  # wtforms is untyped
    """The hidden one-time key of a create form: a new one each time the form is shown."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default", new_key)
        super().__init__(*args, **kwargs)


def _first_result(found: FormSubmission) -> Response:
    flash("This form was already sent: nothing was saved twice. Here is what the first one saved.", "info")
    return redirect(found.result_url or request.full_path)


def _content_digest() -> str:
    fields = sorted((name, value) for name, value in request.form.items(multi=True) if name not in _NOT_CONTENT)
    # An uploaded file is content too: two different photos sent with the same fields are two photos.
    files = []
    for name, upload in request.files.items(multi=True):
        files.append((name, hashlib.sha256(upload.stream.read()).hexdigest()))
        upload.stream.seek(0)
    content = (request.path, fields, sorted(files)) if files else (request.path, fields)
    return hashlib.sha256(repr(content).encode()).hexdigest()


def already_sent(field: HiddenField) -> Response | None:
    """The first submission's result when this key was used, without claiming it (for a view that may
    still send the form back, e.g. to confirm a likely duplicate, before it writes)."""
    found = db.session.get(FormSubmission, field.data or "") if KEY_SHAPE.fullmatch(field.data or "") else None
    return _first_result(found) if found is not None else None


def claim(field: HiddenField) -> Response | None:
    """Before a create form's view writes: None to go on, or the first submission's result when this key
    was already used (a double click, a resent form). A missing or malformed key goes on unguarded."""
    key = field.data or ""
    if not KEY_SHAPE.fullmatch(key):
        return None
    found = db.session.get(FormSubmission, key)
    if found is not None:
        return _first_result(found)
    user_id, digest = getattr(current_user, "id", None), _content_digest()
    found = db.session.scalar(
        sa.select(FormSubmission).where(
            FormSubmission.digest == digest, FormSubmission.user_id == user_id,
            FormSubmission.result_url.is_not(None), FormSubmission.created_at >= utcnow() - SAME_CONTENT_WINDOW)
        .order_by(FormSubmission.created_at.desc()).limit(1))
    if found is not None:
        return _first_result(found)
    db.session.add(FormSubmission(key=key, user_id=user_id, endpoint=request.endpoint, digest=digest))
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        # Sent twice at once: the other request held the key and has committed by now.
        db.session.rollback()
        found = db.session.get(FormSubmission, key)
        if found is None:
            raise
        return _first_result(found)
    return None


def remember(field: HiddenField, result_url: str) -> None:
    """Where the first submission led: a repeat of its key goes there."""
    found = db.session.get(FormSubmission, field.data or "")
    if found is not None:
        found.result_url = result_url


def done(field: HiddenField, result_url: str) -> Response:
    """The first submission's answer: remember where it led, and go there."""
    remember(field, result_url)
    return redirect(result_url)
