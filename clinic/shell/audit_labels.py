"""The audit trail's values in words: a user id as the user's name, a known record's id as its label, a code
as the catalogue's label; the raw value stays beside it, because auditors need the exact one.

It lives in the shell, the one layer that may read every package's tables: the audit package below stores
values as they were and knows no domain. Labels for a page are loaded in one statement, whatever the rows:
the ids on the page are collected first, then every kind of record is read in one UNION (``Labeller.load``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from clinic.auth.models import ROLE_LABELS, User
from clinic.extensions import Model, db
from clinic.inventory.models import (
    DISCARD_REASONS,
    LOCATION_KINDS,
    PRODUCT_KINDS,
    PRODUCT_UNITS,
    Ingredient,
    Lot,
    Product,
    StorageLocation,
)
from clinic.records.catalogue.models import PROTOCOL_MEASURES, Area, Condition, Indication
from clinic.records.consent.models import CONSENT_KINDS, SIGNATURE_METHODS
from clinic.records.followups.models import (
    ACTIONS,
    CAUSALITY,
    CHANNELS,
    FOLLOW_UP_REASONS,
    FOLLOW_UP_STATUSES,
    GRADES,
    OUTCOMES,
    SOURCES,
    SideEffectType,
)
from clinic.records.outcomes.models import MEASURE_KINDS, TIMEPOINTS
from clinic.records.patients.models import BREASTFEEDING, PATCH_RESULTS, PREGNANCY, SEXES, Patient
from clinic.records.photos.models import VIEWS
from clinic.records.screening.models import RESULTS, RULE_KINDS, RULE_TRIGGERS
from clinic.records.treatments.models import COURSE_STATUSES, SKIN_PREPARATIONS, TECHNIQUES, Course, TreatmentSession
from clinic.tracing.models import CONTACT_METHODS, RECALL_SOURCES, ROW_STATUSES

# Codes and their labels (the catalogues of DESIGN.md), by table and column; a column name alone holds
# wherever it appears.
_CODE_LABELS: dict[tuple[str | None, str], Mapping[Any, str]] = {
    ("user", "role"): ROLE_LABELS,
    ("product", "kind"): PRODUCT_KINDS, ("product", "unit"): PRODUCT_UNITS,
    ("storage_location", "kind"): LOCATION_KINDS, ("lot_discard", "reason"): DISCARD_REASONS,
    ("protocol_range", "measure"): {code: label for code, (label, _) in PROTOCOL_MEASURES.items()},
    ("consent_form", "kind"): CONSENT_KINDS, (None, "signature_method"): SIGNATURE_METHODS,
    ("follow_up_task", "status"): FOLLOW_UP_STATUSES, ("follow_up_task", "reason"): FOLLOW_UP_REASONS,
    (None, "channel"): CHANNELS, (None, "causality"): CAUSALITY, (None, "outcome"): OUTCOMES,
    ("side_effect", "action"): ACTIONS, ("side_effect_version", "action"): ACTIONS,
    ("side_effect", "grade"): GRADES, ("side_effect_version", "grade"): GRADES,
    ("side_effect", "source"): SOURCES,
    ("measure_definition", "kind"): MEASURE_KINDS, (None, "timepoint"): TIMEPOINTS,
    ("patient", "sex"): SEXES, (None, "pregnancy"): PREGNANCY, (None, "breastfeeding"): BREASTFEEDING,
    ("patch_test", "result"): PATCH_RESULTS, (None, "view"): VIEWS,
    ("screening", "result"): RESULTS, ("contraindication_rule", "kind"): RULE_KINDS,
    ("screening_answer", "kind"): RULE_KINDS, ("contraindication_rule", "trigger"): RULE_TRIGGERS,
    ("course", "status"): COURSE_STATUSES, (None, "technique"): TECHNIQUES,
    (None, "skin_preparation"): SKIN_PREPARATIONS,
    ("recall", "source"): RECALL_SOURCES, ("recall_patient", "status"): ROW_STATUSES,
    ("recall_contact", "method"): CONTACT_METHODS,
}


def _whole(keys: Iterable[str]) -> list[int]:
    """Ids as the integer columns hold them (a value that is no id matches nothing)."""
    return [int(k) for k in keys if k.isdigit() and len(k) < 19]


def _text(value: Any) -> Any:
    return sa.cast(value, sa.String)


def _names(model: Any, label: Any, *joins: tuple[Any, Any]) -> Callable[[str, set[str]], sa.Select[Any]]:
    """The label of each of these keys of ``model``'s table, as (kind, key, label) rows for one UNION."""
    key = sa.inspect(model).primary_key[0]

    def select(kind: str, keys: set[str]) -> sa.Select[Any]:
        wanted: list[Any] = _whole(keys) if isinstance(key.type, sa.Integer) else sorted(keys)
        query = sa.select(sa.literal(kind, sa.String).label("kind"), _text(key).label("key"),
                          _text(label).label("label")).select_from(model)
        for target, on in joins:
            query = query.join(target, on)
        return query.where(key.in_(wanted))

    return select


# Records a foreign key can name, and how each reads; all of a page's are read in one statement.
_RESOLVERS: dict[str, Callable[[str, set[str]], sa.Select[Any]]] = {
    "user": _names(User, User.full_name),
    "patient": _names(Patient, Patient.first_name + " " + Patient.last_name + " (" + Patient.record_number + ")"),
    "product": _names(Product, Product.name),
    "lot": _names(Lot, "lot " + Lot.lot_number + " of " + Product.name, (Product, Lot.product_id == Product.id)),
    "course": _names(Course, Indication.name + " course from " + _text(Course.starts_on),
                     (Indication, Course.indication_code == Indication.code)),
    "treatment_session": _names(
        TreatmentSession, "session " + _text(TreatmentSession.number) + ", " + Indication.name,
        (Course, TreatmentSession.course_id == Course.id), (Indication, Course.indication_code == Indication.code)),
    "indication": _names(Indication, Indication.name),
    "area": _names(Area, Area.name),
    "condition": _names(Condition, Condition.name),
    "side_effect_type": _names(SideEffectType, SideEffectType.name),
    "ingredient": _names(Ingredient, Ingredient.name),
    "storage_location": _names(StorageLocation, StorageLocation.name),
}
# Patients are named only to those who read clinical records (admins see that a change happened, not to whom).
CLINICAL_KINDS = frozenset({"patient", "course", "treatment_session"})


def _foreign_keys() -> dict[tuple[str, str], str]:
    """(table, column) → the table its single foreign key points at, from the models' own metadata."""
    found = {}
    for table in Model.metadata.tables.values():
        for column in table.columns:
            targets = {fk.column.table.name for fk in column.foreign_keys}
            if len(targets) == 1:
                found[(table.name, column.name)] = targets.pop()
    return found


@dataclass(frozen=True)
class Value:
    """A value as shown (``label``) and as stored (``raw``, shown beside it when they differ)."""

    label: str
    raw: str = ""


@dataclass(frozen=True)
class ChangeLine:
    field: str
    old: Value
    new: Value


# Column names whose parts do not read as words on their own.
_FIELD_WORDS = {"dob": "date of birth", "sha256": "SHA-256", "ml": "ml", "mm": "mm", "id": "(id)"}
_EMPTY = Value("—")


def _words(field: str) -> str:
    text = " ".join(_FIELD_WORDS.get(part, part) for part in field.split("_"))
    return text[:1].upper() + text[1:]


def _plain(raw: object) -> str:
    return {"true": "yes", "false": "no"}.get(str(raw), str(raw))


def _parsed(changes: str | None) -> dict[str, Any] | None:
    if not changes:
        return {}
    try:
        parsed = json.loads(changes)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


class Labeller:
    """Collects the ids of a page of audit rows, loads their labels (one statement for all), then reads
    each row's changes as lines."""

    def __init__(self, *, clinical: bool = True) -> None:
        self.foreign_keys = _foreign_keys()
        self.kinds = {kind: load for kind, load in _RESOLVERS.items() if clinical or kind not in CLINICAL_KINDS}
        self.labels: dict[str, dict[str, str]] = {}

    def _target(self, table: str | None, field: str) -> str | None:
        target = self.foreign_keys.get((table or "", field))
        return target if target in self.kinds else None

    def load(self, rows: Iterable[tuple[str | None, str | None]]) -> Labeller:
        """``rows``: (record type, changes) of every row on the page."""
        wanted: dict[str, set[str]] = defaultdict(set)
        for table, changes in rows:
            for field, pair in (_parsed(changes) or {}).items():
                target = self._target(table, field)
                if target is not None and isinstance(pair, list):
                    wanted[target].update(str(v) for v in pair if v not in (None, ""))
        if wanted:
            union = sa.union_all(*(self.kinds[kind](kind, keys) for kind, keys in sorted(wanted.items())))
            for kind, key, label in db.session.execute(union).tuples():
                self.labels.setdefault(kind, {})[key] = label
        return self

    def _value(self, table: str | None, field: str, raw: object) -> Value:
        if raw is None or raw == "":
            return _EMPTY
        text = str(raw)
        target = self._target(table, field)
        if target is not None:
            label = self.labels.get(target, {}).get(text)
            return Value(label, f"id {text}" if field.endswith("_id") else text) if label else Value(text)
        codes = _CODE_LABELS.get((table, field)) or _CODE_LABELS.get((None, field))
        if codes is not None:
            label = codes.get(raw) if not isinstance(raw, str) or not raw.isdigit() else (
                codes.get(raw) or codes.get(int(raw)))
            if label:
                return Value(label, text)
        return Value(_plain(raw))

    def _field(self, table: str | None, field: str) -> str:
        if self._target(table, field) is not None and field.endswith(("_id", "_code")):
            return _words(field.rsplit("_", 1)[0])
        return _words(field)

    def lines(self, table: str | None, changes: str | None) -> list[ChangeLine]:
        """An audit row's changes as lines a person reads; an empty old value (a created record) or new
        value (a removed one) reads as "—"."""
        parsed = _parsed(changes)
        if parsed is None:
            return [ChangeLine("Changes", Value(changes or ""), Value(""))]
        return [ChangeLine(self._field(table, field), self._value(table, field, pair[0]),
                           self._value(table, field, pair[1]))
                for field, pair in sorted(parsed.items()) if isinstance(pair, list) and len(pair) == 2]
