"""CSV downloads that a spreadsheet cannot turn into formulas (SECURITY.md I2)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from flask import Response

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> str:
    """A cell as text; one that a spreadsheet would run as a formula gets a leading quote."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def confirm_export(description: str, *, back: str, audit_as: str | None = None) -> tuple[str, int] | None:
    """Exports of patient data need the password again (SECURITY.md A5).

    None when this request is a POST that re-authenticated: the caller sends the file. Otherwise the page
    asking for the password (again, after a wrong one, with the failure audited).
    """
    from flask import render_template, request
    from flask_login import current_user

    from clinic.auth.forms import ReauthForm
    from clinic.auth.services import ReauthenticationFailed, reauthenticate
    from clinic.extensions import db

    form = ReauthForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            # The audit trail names no patient here: admins read these rows.
            reauthenticate(current_user, form.password.data, form.code.data,
                           purpose=f"export: {audit_as or description}")
        except ReauthenticationFailed as failed:
            db.session.commit()  # the failed attempt stays in the audit trail
            form.password.errors = [str(failed)]
        else:
            return None
    status = 400 if request.method == "POST" else 200
    return render_template("core/confirm_export.html", form=form, description=description,
                           action=request.full_path.rstrip("?"), back=back), status
