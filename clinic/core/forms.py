"""Form fields shared by every package."""

from __future__ import annotations

from datetime import datetime
from typing import Any, overload

from flask import flash
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, SelectField, SelectMultipleField, TextAreaField
from wtforms.validators import DataRequired, Length, StopValidation
from wtforms.widgets import CheckboxInput, ListWidget

from clinic.core.clock import from_clinic_time
from clinic.core.errors import ClinicError, FieldErrors
from clinic.core.http import LARGEST_ID


def whole_number(value: Any) -> int:
    """A choice's number as a database column can hold it: anything else is not a valid choice (wtforms
    turns the ValueError into the field's message) rather than an overflow deep in the driver."""
    number = int(value)
    if not -LARGEST_ID <= number <= LARGEST_ID:
        raise ValueError("not a valid choice")
    return number


def optional_int(value: Any) -> int | None:
    if value in ("", None):
        return None
    return whole_number(value)


class ChoiceField(SelectField):
    """A required pick from a list: one clear message when nothing was chosen."""

    def __init__(self, label: str | None = None, validators: Any = None, *,
                 message: str = "Choose from the list.", **kwargs: Any) -> None:
        kwargs.setdefault("coerce", optional_int)
        super().__init__(label, validators, **kwargs)
        self.message = message

    def pre_validate(self, form: Any) -> None:
        if self.data is None:
            raise StopValidation(self.message)
        super().pre_validate(form)


def show_error(form: FlaskForm | None, error: ClinicError) -> None:
    """Put a service's message next to the field it names, or at the top of the page (each of several)."""
    if isinstance(error, FieldErrors):
        for each in error.errors:
            show_error(form, each)
        return
    name = getattr(error, "field", None)
    target = getattr(form, name, None) if name else None
    if target is not None and hasattr(target, "errors"):
        target.errors = [*target.errors, str(error)] if isinstance(target.errors, list) else [str(error)]
    else:
        flash(str(error), "error")


def submitted_version(field: Any) -> int | str:
    """The record version a form was opened on, for a service's ``expected_version``: a form that lost
    it ("") is refused as a conflict, never saved unchecked (None means "not checked")."""
    return "" if field.data is None else field.data


@overload
def local_to_utc(local: datetime) -> datetime: ...
@overload
def local_to_utc(local: None) -> None: ...
def local_to_utc(local: datetime | None) -> datetime | None:
    """Times typed in the clinic are its wall-clock time (``CLINIC_TIMEZONE``); the database keeps UTC."""
    if local is None:
        return None
    return from_clinic_time(local)


class LocalDateTimeField(DateTimeLocalField):
    """A date and time as typed in the clinic (a browser's date-time box, to the minute). A year no record
    can have (0001, 9999) is refused beside the field, before anything converts it to UTC."""

    def __init__(self, label: str | None = None, validators: Any = None, **kwargs: Any) -> None:
        kwargs.setdefault("format", "%Y-%m-%dT%H:%M")
        super().__init__(label, validators, **kwargs)

    def pre_validate(self, form: Any) -> None:
        if self.data is not None and not 1900 <= self.data.year <= 2999:
            raise StopValidation("Check the year: this date cannot be right.")


class CheckboxesField(SelectMultipleField):
    """A pick of several as checkboxes: iterating it gives one checkbox per choice (tablet-friendly)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class VoidForm(FlaskForm):
    """Void a record entered in error: the reason is required (nothing is deleted)."""

    reason = TextAreaField("Reason", validators=[DataRequired("Give the reason."), Length(max=2000)],
                           render_kw={"rows": 2})
