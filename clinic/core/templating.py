"""Template helpers shared by every page: date and time filters (every format the pages print, named, in
one place) and ``url_base``.

Timestamps are stored timezone-aware in UTC. By default the filters show an aware datetime in
the clinic's time zone (``CLINIC_TIMEZONE``, clinic/core/clock.py), whatever the server's own. Pages that
show a time in UTC say so with ``utc=True``: ``|datetime`` then prints the time in UTC followed by
" UTC" (``label=False`` where a column heading already says UTC); ``|date(utc=True)`` prints the
UTC calendar day. Plain dates are printed as they are; a naive datetime is printed as it is (never
shifted); ``None`` prints as an empty string.

    {{ lot.expiry_date|date }}                       12 Mar 2026
    {{ session.performed_at|datetime }}              12 Mar 2026 14:30   (local time)
    {{ consent.signed_at|datetime(utc=True) }}       12 Mar 2026 14:30 UTC
    {{ session.performed_at|time }}                  14:30
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Flask, url_for

from clinic.core.clock import in_clinic_zone

DATE_FORMATS = {
    "default": "%d %b %Y",  # 12 Mar 2026
    "long": "%d %B %Y",  # 12 March 2026 (letters, printed documents)
    "weekday": "%A %d %B %Y",  # Thursday 12 March 2026
    "no_year": "%d %b",  # 12 Mar (the first day of a range: 12 Mar–20 Mar 2026)
}

DATETIME_FORMATS = {
    "default": "%d %b %Y %H:%M",  # 12 Mar 2026 14:30
    "seconds": "%d %b %Y %H:%M:%S",  # 12 Mar 2026 14:30:05
    "comma": "%d %b %Y, %H:%M",  # 12 Mar 2026, 14:30
    "long": "%d %B %Y at %H:%M",  # 12 March 2026 at 14:30 (printed documents)
    "weekday": "%A %d %B %Y, %H:%M",  # Thursday 12 March 2026, 14:30
    "iso": "%Y-%m-%d %H:%M:%S",  # 2026-03-12 14:30:05 (audit trail)
}

TIME_FORMAT = "%H:%M"  # 14:30


def _in_zone(value: date, utc: bool) -> date:
    """An aware datetime in the clinic's time zone (or UTC); dates and naive datetimes unchanged."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC) if utc else in_clinic_zone(value)
    return value


def _check(value: object, kind: type) -> None:
    if not isinstance(value, kind):
        raise TypeError(f"expected a {kind.__name__}, got {type(value).__name__}: {value!r}")


def format_date(value: date | None, fmt: str = "default", utc: bool = False) -> str:
    """``|date``: the calendar day of a date or datetime, e.g. "12 Mar 2026"."""
    if value is None:
        return ""
    _check(value, date)
    return _in_zone(value, utc).strftime(DATE_FORMATS[fmt])


def format_datetime(value: datetime | None, fmt: str = "default", utc: bool = False,
                    label: bool = True) -> str:
    """``|datetime``: date and time, e.g. "12 Mar 2026 14:30"; with ``utc=True``, "… UTC"."""
    if value is None:
        return ""
    _check(value, datetime)
    text = _in_zone(value, utc).strftime(DATETIME_FORMATS[fmt])
    if not (utc and label):
        return text
    local = _in_zone(value, utc=False)
    if not isinstance(local, datetime) or local.utcoffset() in (None, timedelta(0)):
        return f"{text} UTC"
    # A signature's or an audit's exact moment: the clinic's clock first (as every other time on the
    # page), the UTC time beside it (what the record holds), so neither reads as before the other.
    clock = "%H:%M:%S" if fmt in ("seconds", "iso") else "%H:%M"
    utc_moment = _in_zone(value, utc=True)
    same_day = isinstance(utc_moment, datetime) and utc_moment.date() == local.date()
    utc_text = utc_moment.strftime(clock if same_day else DATETIME_FORMATS[fmt])
    return f"{local.strftime(DATETIME_FORMATS[fmt])} ({utc_text} UTC)"


def format_time(value: datetime | None) -> str:
    """``|time``: the local time of day of a datetime, e.g. "14:30"."""
    if value is None:
        return ""
    _check(value, datetime)
    return _in_zone(value, utc=False).strftime(TIME_FORMAT)


FILTERS = {"date": format_date, "datetime": format_datetime, "time": format_time}

# Fields drawn as a group of inputs whose first one is ``<id>-0`` (the label points at it).
_GROUPED = frozenset({"RadioField", "CheckboxesField"})


@dataclass(frozen=True)
class FieldProblem:
    """One line of a refused form's error summary: the field to go to, what it is called, what is wrong."""

    target: str
    label: str
    message: str


def form_problems(form: Any) -> list[FieldProblem]:
    """Every field error of ``form`` in page order, rows of repeated fields included, for the summary at
    the top of a refused form (the CSRF token's own message has a sentence of its own)."""
    problems: list[FieldProblem] = []

    def walk(fields: Any, prefix: str = "") -> None:
        for field in fields:
            kind = field.type
            if kind == "CSRFTokenField":
                continue
            if kind == "FormField":
                walk(field.form, prefix)
            elif kind == "FieldList":
                for position, entry in enumerate(field.entries, start=1):
                    walk([entry], f"{prefix}{field.label.text} {position}: ")
            elif field.errors:
                target = f"{field.id}-0" if kind in _GROUPED else field.id
                messages = [m for m in field.errors if isinstance(m, str)]
                problems.append(FieldProblem(target, prefix + str(field.label.text), " ".join(messages)))

    if form is not None and form.errors:
        walk(form)
    return problems


def url_base(endpoint: str, key: str) -> str:
    """The URL of ``endpoint`` up to its trailing id ``key``, for tables of hundreds of links
    (``url_base(...) ~ row.id``): url_for once, not once per row."""
    values: dict[str, Any] = {key: 0}  # typed so it is not taken for url_for's _anchor, _external...
    url = url_for(endpoint, **values)
    if not url.endswith("/0"):
        raise ValueError(f"{endpoint} does not end in its {key}")
    return url[:-1]


def register_filters(app: Flask) -> None:
    app.jinja_env.filters.update(FILTERS)  # |date, |datetime, |time
    app.jinja_env.globals["url_base"] = url_base
    app.jinja_env.globals["form_problems"] = form_problems
