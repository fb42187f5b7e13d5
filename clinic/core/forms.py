"""Form fields shared by every package."""

from __future__ import annotations

from datetime import datetime
from typing import Any, overload

from flask import flash, g, has_app_context
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import DateTimeLocalField, SelectField, SelectMultipleField, TextAreaField
from wtforms.validators import DataRequired, Length, StopValidation
from wtforms.widgets import CheckboxInput, ListWidget, Select, html_params

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


class SharedChoicesSelect(Select):
    """A select whose long list of choices many rows of one form share: a lot for each component of each
    preparation, an area for each injection row. WTForms renders every option of every row anew (each one
    converted, compared, escaped: hundreds of lots on a chain's shelf, several rows); this renders the list
    once per request and marks each row's own choice. The field's ``choices`` must be the one list object
    the rows share; the rendering is the same as ``Select``'s."""

    def __call__(self, field: Any, **kwargs: Any) -> Markup:
        kwargs.setdefault("id", field.id)
        flags = getattr(field, "flags", {})
        for name in self.validation_attrs:
            if name not in kwargs and getattr(flags, name, False):
                kwargs[name] = True
        parts, position = _shared_options(field)
        chosen = position.get("" if field.data is None else str(field.data))
        body = [html if index != chosen else html.replace("<option ", "<option selected ", 1)
                for index, html in enumerate(parts)]
        # Every value went through html_params and every label through escape, as in WTForms' Select.
        return Markup(f"<select {html_params(name=field.name, **kwargs)}>{''.join(body)}</select>")  # noqa: S704


def _shared_options(field: Any) -> tuple[list[str], dict[str, int]]:
    """The options of ``field.choices`` as HTML (groups included), and where each value's option is."""
    cache: dict[int, Any] = g.setdefault("shared_select_options", {}) if has_app_context() else {}
    choices = field.choices
    cached = cache.get(id(choices))
    if cached is not None and cached[0] is choices:
        return cached[1], cached[2]
    parts: list[str] = []
    position: dict[str, int] = {}
    group: object = None
    for choice in field._choices_from_input(choices) or []:  # wtforms' own reading of a choices list
        if choice.optgroup != group:
            if group is not None:
                parts.append("</optgroup>")
            if choice.optgroup is not None:
                parts.append(f"<optgroup {html_params(label=choice.optgroup)}>")
            group = choice.optgroup
        value = str(choice.value) if isinstance(choice.value, bool) else choice.value
        position.setdefault("" if value is None else str(value), len(parts))
        # html_params' own output for a plain value, without its general handling per option.
        attributes = (f'value="{escape(value)}"' if not choice.render_kw and isinstance(value, (str, int))
                      else html_params(value=value, **(choice.render_kw or {})))
        parts.append(f"<option {attributes}>{escape(choice.label or choice.value)}</option>")
    if group is not None:
        parts.append("</optgroup>")
    cache[id(choices)] = (choices, parts, position)  # the list is kept, so its id is not reused meanwhile
    return parts, position


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
