"""The transaction belongs to the request: one commit at its end, one rollback for a refusal.

Services flush and audit but never commit. A view calls a service through ``attempt``: a
``ClinicError`` rolls back what the service wrote and puts the reason beside its form field (or at
the top of the page); anything else the request wrote, such as the audit row of a refused
re-authentication, is committed once by ``commit_request`` when the response leaves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, ParamSpec, TypeVar

from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from clinic.core.errors import ClinicError, VersionConflictError
from clinic.core.forms import show_error
from clinic.extensions import db

P = ParamSpec("P")
T = TypeVar("T")


def commit_request(response: Response) -> Response:
    """After every request that did not fail: what it wrote lands together, with its audit rows."""
    db.session.commit()
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
    def conflict(self) -> bool:
        return isinstance(self.error, VersionConflictError)


def run_service(operation: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Outcome[T]:
    """Run one service operation for a view; a refusal is rolled back and returned, never raised.

    A refusal whose own record must stay (``error.keeps_record``: a wrong password when signing is
    audited) is not rolled back: the services raise those before they change anything.
    """
    try:
        return Outcome(result=operation(*args, **kwargs))
    except ClinicError as error:
        if not error.keeps_record:
            db.session.rollback()
        return Outcome(error=error)


def attempt(form: FlaskForm | None, operation: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Outcome[T]:
    """``run_service``, and a refusal shown beside the form field it names (or at the top of the page)."""
    outcome = run_service(operation, *args, **kwargs)
    if outcome.error is not None:
        show_error(form, outcome.error)
    return outcome
