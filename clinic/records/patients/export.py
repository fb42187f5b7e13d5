"""Everything held about one patient, for their copy (SECURITY.md D8, GDPR articles 15 and 20).

The tables are found from the schema, not listed by hand: the patient's row,
then every table with a foreign key to a table already taken, with the rows
that point at rows already taken. A table added later joins the export by
itself. Lots, products and staff are named beside the rows that use them; the
audit trail's entries about the patient close the export.
"""

from __future__ import annotations

import base64
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa

from clinic.audit.models import AuditEvent
from clinic.auth.models import User
from clinic.core.clock import clinic_now
from clinic.extensions import db
from clinic.records.patients.models import Patient
from clinic.records.treatments.queries import lots_received_by

SCHEMA_VERSION = 1


def linked_tables() -> list[sa.Table]:
    """The patient table and every table linked to it by a chain of foreign keys, parents first."""
    taken = {Patient.__table__.name}
    ordered = [Patient.__table__]
    grew = True
    while grew:
        grew = False
        for table in db.metadata.sorted_tables:
            if table.name not in taken and any(fk.column.table.name in taken for fk in table.foreign_keys):
                taken.add(table.name)
                ordered.append(table)
                grew = True
    return ordered


# Not the patient's data but the system's: search keys, and the secret of their report link.
INTERNAL_COLUMNS = frozenset({("patient", "search_text"), ("patient", "sort_name"), ("patient_report_link", "token")})


def _name_staff(tables: dict[str, list[dict[str, object]]]) -> None:
    """Beside each member of staff's id (who recorded, signed, witnessed...), their name and role: one query."""
    staff_columns = {(table.name, fk.parent.name) for table in linked_tables() for fk in table.foreign_keys
                     if fk.column.table.name == User.__table__.name}
    wanted = {row[column] for name, column in staff_columns for row in tables.get(name, [])
              if row.get(column) is not None}
    if not wanted:
        return
    names = {user_id: f"{name} ({role})" for user_id, name, role in db.session.execute(
        sa.select(User.id, User.full_name, User.role).where(User.id.in_(wanted)))}
    for name, column in staff_columns:
        for row in tables.get(name, []):
            if row.get(column) is not None:
                row[f"{column.removesuffix('_id')}_name"] = names.get(row[column])


def _value(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def patient_export(patient: Patient) -> dict[str, object]:
    """Every row of every linked table that belongs to this patient, one query per table."""
    ids: dict[str, set[object]] = {}
    tables: dict[str, list[dict[str, object]]] = {}
    for table in linked_tables():
        if table.name == Patient.__table__.name:
            condition = table.c.id == patient.id
        else:
            links = [fk for fk in table.foreign_keys if fk.column.table.name in ids]
            conditions = [fk.parent.in_(ids[fk.column.table.name]) for fk in links if ids[fk.column.table.name]]
            if not conditions:
                tables[table.name] = []
                ids[table.name] = set()
                continue
            condition = sa.or_(*conditions)
        order = list(table.primary_key.columns) or list(table.columns)[:1]
        rows = [dict(r) for r in db.session.execute(sa.select(table).where(condition).order_by(*order)).mappings()]
        tables[table.name] = [{k: _value(v) for k, v in row.items() if (table.name, k) not in INTERNAL_COLUMNS}
                              for row in rows]
        if "id" in table.c:
            ids[table.name] = {row["id"] for row in rows}
    _name_staff(tables)
    # Who created, changed, signed, voided or read any of those rows (the chart reads are on the patient's row).
    about = [sa.and_(AuditEvent.record_type == name, AuditEvent.record_id.in_([str(i) for i in found]))
             for name, found in ids.items() if found]
    audit = db.session.scalars(sa.select(AuditEvent).where(sa.or_(*about)).order_by(AuditEvent.seq)).all()
    return {
        "format": "clinic patient export", "version": SCHEMA_VERSION,
        "patient": {"record_number": patient.record_number, "name": patient.full_name,
                    "date_of_birth": patient.date_of_birth.isoformat()},
        "generated_at": clinic_now().isoformat(timespec="seconds"),
        "tables": tables,
        "lots_received": _lots_received(patient),
        "audit_trail": [{"at": _value(e.at), "user": e.user_email, "role": e.role, "action": e.action,
                         "record": f"{e.record_type} {e.record_id}", "reason": e.reason} for e in audit],
    }


def _lots_received(patient: Patient) -> list[dict[str, object]]:
    return [{"session_date": _value(r.performed_at), "session_number": r.session_number,
             "voided": r.session_voided, "treatment": r.indication, "product": r.product, "lot": r.lot_number,
             "expiry": _value(r.expiry), "units": r.units, "ml_drawn": _value(r.volume_ml),
             "lot_recalled": r.recalled} for r in lots_received_by(patient)]
