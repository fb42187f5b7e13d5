"""The transaction belongs to the request: one commit at its end, one rollback for a refusal.

Services flush and audit but never commit. A view calls a service through ``attempt``: a
``ClinicError`` rolls back what the service wrote and puts the reason beside its form field (or at
the top of the page); anything else the request wrote, such as the audit row of a refused
re-authentication, is committed once by ``commit_request`` when the response leaves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, ParamSpec, TypeAlias, TypeVar, cast

import sqlalchemy as sa
from flask import current_app, g
from flask_wtf import FlaskForm
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response
from wtforms import Field
from wtforms.form import BaseForm

from clinic.core.errors import ClinicError, SavedMeanwhile, VersionConflictError
from clinic.core.forms import show_error
from clinic.extensions import db

P = ParamSpec("P")
T = TypeVar("T")


def commit_request(response: Response) -> Response:
    """After every request: what it wrote lands together, with its audit rows.

    Error pages pass here too: their handlers roll back first, and the 403 page's audit row is then
    committed here. A commit that fails is answered as the error pages answer it (a row changed meanwhile
    is a 409, anything else a 500), never with the response the view prepared.
    """
    try:
        db.session.commit()
    except Exception as error:  # noqa: BLE001 - the error handlers decide, as for a commit in a view
        return current_app.make_response(current_app.handle_user_exception(error))
    if g.get("saved_meanwhile") and response.status_code == 400:
        response.status_code = 409  # the form came back because another save won, not for bad input
    return response


@dataclass
class Outcome(Generic[T]):
    """What ``attempt`` gives back: the service's result, or the refusal it raised."""

    result: T | None = None
    error: ClinicError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def value(self) -> T:
        """The result of an operation that succeeded: read it only after ``ok``."""
        if self.error is not None:
            raise RuntimeError("the operation was refused; it has no result") from self.error
        return cast(T, self.result)

    @property
    def conflict(self) -> bool:
        return isinstance(self.error, (VersionConflictError, SavedMeanwhile))


# Where a refusal is shown: a form (beside the field the error names, else at the top of the page),
# one field (every refusal beside it), None (at the top of the page), or a function of the error for a
# view that words the refusal itself.
ShowRefusal: TypeAlias = "FlaskForm | Field | Callable[[ClinicError], object] | None"


def show_refusal(where: ShowRefusal, error: ClinicError) -> None:
    """Show a refusal where the view asked (see ``ShowRefusal``)."""
    if where is None or isinstance(where, BaseForm):
        show_error(where, error)
    elif isinstance(where, Field):
        where.errors = [*where.errors, str(error)] if isinstance(where.errors, list) else [str(error)]
    else:
        where(error)


def run_service(operation: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Outcome[T]:
    """Run one service operation for a view; a refusal is rolled back and returned, never raised.

    A refusal whose own record must stay (``error.keeps_record``: a wrong password when signing is
    audited) is not rolled back: the services raise those before they change anything.

    On success what the operation wrote is flushed here, before the view says it was saved. A save that
    another request beat to the same row or unique value (``SavedMeanwhile``) is refused like any other:
    the view shows its form again, and the response becomes a 409.
    """
    try:
        result = operation(*args, **kwargs)
        db.session.flush()
    except ClinicError as error:
        if not error.keeps_record:
            db.session.rollback()
        return Outcome(error=error)
    except (sa.exc.IntegrityError, StaleDataError) as error:
        if isinstance(error, sa.exc.IntegrityError) and not is_unique_violation(error):
            raise
        # Another request saved the same row or the same unique value first (it waited for ours, or we
        # for it): this save loses, whole, and says so.
        db.session.rollback()
        g.saved_meanwhile = True
        return Outcome(error=SavedMeanwhile())
    return Outcome(result=result)


def is_unique_violation(error: sa.exc.IntegrityError) -> bool:
    """A duplicate of a unique value (PostgreSQL's SQLSTATE 23505, SQLite's UNIQUE constraint)."""
    return getattr(error.orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(error.orig)


def attempt(form: ShowRefusal, operation: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Outcome[T]:
    """``run_service``, and a refusal shown where the view asked (see ``ShowRefusal``)."""
    outcome = run_service(operation, *args, **kwargs)
    if outcome.error is not None:
        show_refusal(form, outcome.error)
    return outcome
