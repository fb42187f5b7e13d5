"""View helpers every clinical package shares."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect
from flask_login import current_user
from werkzeug.wrappers import Response

from clinic.core.forms import VoidForm
from clinic.core.models import VoidableMixin
from clinic.core.services import void_record
from clinic.core.transaction import attempt


def void_from_form(record: VoidableMixin, *, done: str, missing_reason: str, back: str,
                   void: Callable[[Any, Any, str], None] = void_record) -> Response:
    """The "void: entered in error" button of a record's page: voids with the reason typed (nothing is
    deleted), says ``done`` or why not, and goes ``back`` to the page. ``void`` is the package's own void
    service when others must hear of it."""
    form = VoidForm()
    if form.validate_on_submit():
        if attempt(None, void, record, current_user, form.reason.data).ok:
            flash(done, "success")
    else:
        flash(missing_reason, "error")
    return redirect(back)
