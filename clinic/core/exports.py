"""CSV downloads that a spreadsheet cannot turn into formulas (SECURITY.md I2)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

import phonenumbers
from flask import Response, current_app

from clinic.core.http import content_disposition

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> str:
    """A cell as text; one that a spreadsheet would run as a formula gets a leading quote."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def phone_cell(phone: str | None) -> str:
    """A phone number a spreadsheet shows as typed, without the quote that a leading "+" would need:
    the clinic's own country's numbers in national form (020 7946 0321), others with the international
    call prefix (0033 1 42 68 53 00). Both stay text, and a nurse dials either as it stands."""
    if not phone:
        return ""
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return phone.lstrip("+=-@\t\r")
    if phonenumbers.region_code_for_number(number) == current_app.config.get("PHONE_REGION"):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return "00" + phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL).lstrip("+")


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": content_disposition(filename)},
    )
