"""Exports of patient data ask for the password again (SECURITY.md A5)."""

from __future__ import annotations

from flask import render_template, request
from flask_login import current_user

from clinic.auth.forms import ConfirmPasswordForm
from clinic.auth.services import reauthenticate
from clinic.core.transaction import attempt


def confirm_export(description: str, *, back: str, audit_as: str | None = None) -> tuple[str, int] | None:
    """Exports of patient data need the password again (SECURITY.md A5).

    None when this request is a POST that re-authenticated: the caller sends the file. Otherwise the page
    asking for the password (again, after a wrong one, with the failure audited).
    """
    form = ConfirmPasswordForm()
    if request.method == "POST" and form.validate_on_submit():
        # The audit trail names no patient here: admins read these rows. A failed attempt stays in the
        # audit trail (the refusal keeps its record; the request's boundary commits it).
        confirmed = attempt(form.password, reauthenticate, current_user, form.password.data, form.code.data,
                            purpose=f"export: {audit_as or description}")
        if confirmed.ok:
            return None
    status = 400 if request.method == "POST" else 200
    return render_template("auth/confirm_export.html", form=form, description=description,
                           action=request.full_path.rstrip("?"), back=back), status
