"""The audit trail page for auditors and admins."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import sqlalchemy as sa
from flask import Blueprint, current_app, render_template, request
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from wtforms import SelectChoice

from clinic.audit.models import AuditEvent
from clinic.audit.services import record_event, verify_chain
from clinic.auth.forms import ActionForm
from clinic.auth.models import Role, User
from clinic.extensions import Model, db
from clinic.records.patients.models import Patient
from clinic.shell.audit_forms import ACTION_LABELS, AuditFilterForm
from clinic.shell.audit_labels import Labeller

bp = Blueprint("audit", __name__, url_prefix="/audit")


# Catalogue tables under clinic.records hold no patient data; admins maintain them.
_CATALOGUE_TABLES = frozenset({"indication", "area", "condition", "contraindication_rule",
                               "contraindication_rule_indication", "contraindication_rule_area", "consent_form",
                               "consent_text_version", "record_number_counter", "side_effect_type"})


def clinical_record_types() -> frozenset[str]:
    """Tables whose audit details hold patient data: admins see that a change happened, not what it was."""
    return frozenset(
        mapper.class_.__tablename__ for mapper in Model.registry.mappers
        if mapper.class_.__module__.startswith("clinic.records.")
        and mapper.class_.__tablename__ not in _CATALOGUE_TABLES
    ) | {"recall_patient", "recall_contact"}  # a recall's worklist: who was called and what was said


def _filtered_events(form: AuditFilterForm, page_size: int) -> list[AuditEvent]:
    query = sa.select(AuditEvent)
    if form.user.data:
        query = query.where(AuditEvent.user_id == int(form.user.data))
    if form.action.data:
        query = query.where(AuditEvent.action == form.action.data)
    record_type = (form.record_type.data or "").strip().lower().replace(" ", "_")
    record_id = (form.record_id.data or "").strip()
    if record_id and not record_id.isdigit():
        # A patient's record number (as printed on the chart) stands for the patient.
        patient_id = db.session.scalar(sa.select(Patient.id).where(Patient.record_number == record_id.upper()))
        if patient_id is not None:
            record_type, record_id = record_type or "patient", str(patient_id)
    if record_type:
        query = query.where(AuditEvent.record_type == record_type)
    if record_id:
        query = query.where(AuditEvent.record_id == record_id)
    if form.date_from.data:
        query = query.where(AuditEvent.at >= datetime.combine(form.date_from.data, time(), UTC))
    if form.date_to.data:
        end = datetime.combine(form.date_to.data, time(), UTC) + timedelta(days=1)
        query = query.where(AuditEvent.at < end)
    if form.before.data:
        query = query.where(AuditEvent.seq < form.before.data)
    # Keyset pagination on the sequence: every page costs the same, however deep.
    return list(db.session.scalars(query.order_by(AuditEvent.seq.desc()).limit(page_size + 1)))


@bp.get("")
def list_events() -> tuple[str, int]:
    """Filter the trail by user, record, action and date, newest first."""
    form = AuditFilterForm(formdata=request.args or MultiDict())
    users = db.session.scalars(sa.select(User).order_by(User.full_name)).all()
    form.user.choices = [SelectChoice("", "Anyone")] + [
        SelectChoice(str(u.id), f"{u.full_name} ({u.email})") for u in users
    ]
    page_size = current_app.config["AUDIT_PAGE_SIZE"]
    events: list[AuditEvent] = []
    status = 200
    if form.validate():
        events = _filtered_events(form, page_size)
    else:
        status = 400
    next_before = events[page_size - 1].seq if len(events) > page_size else None
    events = events[:page_size]
    hidden_types = clinical_record_types() if current_user.role == Role.ADMIN else frozenset()
    # Names for the ids and labels for the codes in the page's changes: one statement per kind of record.
    labeller = Labeller(clinical=current_user.role != Role.ADMIN).load(
        (e.record_type, e.changes) for e in events if e.record_type not in hidden_types)
    args = {k: v for k, v in request.args.items() if k != "before" and v}
    return render_template(
        "audit/events.html", form=form, events=events, next_before=next_before,
        filter_args=args, action_labels=dict(ACTION_LABELS), verify_form=ActionForm(),
        hidden_types=hidden_types, change_lines=labeller.lines,
    ), status


@bp.post("/verify", endpoint="verify_chain")
def verify_chain_view() -> tuple[str, int]:
    """Recompute the whole chain now and say whether it is intact."""
    if not ActionForm().validate_on_submit():
        return render_template("audit/verify.html", result=None), 400
    result = verify_chain(anchor_file=current_app.config.get("AUDIT_ANCHOR_FILE"))
    record_event("audit_verify", record_type="audit_event",
                 reason="intact" if result.ok else f"broken at row {result.first_bad_seq}")
    return render_template("audit/verify.html", result=result), (200 if result.ok else 409)

