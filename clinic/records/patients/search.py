"""Patient search: partial, accent- and case-insensitive, by name, record number, date of birth or phone.

Each patient row carries ``search_text`` (normalised names, record number,
phone digits, email). PostgreSQL searches it through a pg_trgm GIN index,
SQLite through an FTS5 trigram table kept in step by triggers; both are
created by the migrations. Results come in keyset pages ordered by name.
"""

from __future__ import annotations

import base64
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

import phonenumbers
import sqlalchemy as sa

from clinic.extensions import db
from clinic.records.patients.models import Patient

SEARCH_TABLE = "patient_search"  # SQLite only: the FTS5 table and its shadow tables
PAGE_SIZE = 25
# Typed dates, including the form the chart shows ("04 May 1985").
_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%d %b %Y", "%d %B %Y")


def is_search_table(name: str) -> bool:
    """For schema comparisons: the FTS5 tables live in migrations, not in the models."""
    return name == SEARCH_TABLE or name.startswith(SEARCH_TABLE + "_")


def normalise(text: str) -> str:
    """Lower-case, accents removed, spaces collapsed: 'Zoë  Müller' -> 'zoe muller'."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


def _phone_digits(phone: str) -> list[str]:
    """International and national digits, so "+44 20 7946 0958" and "020 7946 0958" both find it."""
    if not phone:
        return []
    forms = [re.sub(r"\D", "", phone)]
    try:
        number = phonenumbers.parse(phone, None)
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        forms.append(re.sub(r"\D", "", national))
    except phonenumbers.NumberParseException:
        pass
    return list(dict.fromkeys(forms))


def search_text_for(patient: Patient) -> str:
    parts = [patient.first_name, patient.last_name, patient.record_number, *_phone_digits(patient.phone or ""),
             patient.email or ""]
    return normalise(" ".join(p for p in parts if p))


def sort_name_for(patient: Patient) -> str:
    return normalise(f"{patient.last_name} {patient.first_name}")


def _parse_date(text: str) -> date | None:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _encode_cursor(patient: Patient) -> str:
    raw = json.dumps([patient.sort_name, patient.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> tuple[str, int] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        sort_name, patient_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return str(sort_name), int(patient_id)
    except (ValueError, TypeError):
        return None  # a tampered cursor starts from the first page


def _word_condition(word: str, dialect: str) -> sa.ColumnElement[bool]:
    if len(word) >= 3 and dialect == "sqlite":
        phrase = '"' + word.replace('"', '""') + '"'
        # unique=True: each word of the query gets its own parameter, not the last word's.
        # The table name is a constant of this module; the words are bound parameters.
        matches = sa.text(f"SELECT rowid FROM {SEARCH_TABLE} WHERE {SEARCH_TABLE} MATCH :phrase")  # noqa: S608
        matches = matches.bindparams(sa.bindparam("phrase", phrase, unique=True))
        return Patient.id.in_(matches.columns(sa.column("rowid")))
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    # On PostgreSQL a LIKE with at least three characters is answered by the trigram index.
    return Patient.search_text.like(f"%{escaped}%", escape="\\")


@dataclass
class SearchPage:
    patients: list[Patient]
    next_cursor: str | None


def search_patients(query: str, *, cursor: str | None = None, page_size: int = PAGE_SIZE,
                    include_voided: bool = False) -> SearchPage:
    """One page of patients matching every word of the query, ordered by name."""
    statement = sa.select(Patient)
    if not include_voided:
        statement = statement.where(Patient.not_voided())
    text = (query or "").strip()
    on = _parse_date(text)
    if on is not None:
        statement = statement.where(Patient.date_of_birth == on)
    elif text:
        dialect = db.session.get_bind().dialect.name
        words = normalise(text).split()
        # Phone numbers are searched as digits, however they were typed.
        if re.fullmatch(r"[\d\s()+.-]+", text):
            words = [re.sub(r"\D", "", text)]
        for word in words[:6]:
            statement = statement.where(_word_condition(word, dialect))
    after = _decode_cursor(cursor)
    if after is not None:
        after_name, after_id = after
        statement = statement.where(
            sa.tuple_(Patient.sort_name, Patient.id) > sa.tuple_(sa.literal(after_name), sa.literal(after_id))
        )
    rows = list(db.session.scalars(
        statement.order_by(Patient.sort_name, Patient.id).limit(page_size + 1)
    ))
    next_cursor = _encode_cursor(rows[page_size - 1]) if len(rows) > page_size else None
    return SearchPage(rows[:page_size], next_cursor)
