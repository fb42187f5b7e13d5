"""The home page of each role and the health check."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Blueprint, render_template
from flask_login import current_user

from clinic.auth.models import Role
from clinic.auth.permissions import can
from clinic.auth.services import recent_sign_in_activity
from clinic.core.clock import clinic_today
from clinic.extensions import db
from clinic.records.followups.queries import doctor_flags, nurse_worklist, urgent_follow_ups
from clinic.records.outcomes.queries import courses_missing_end_measures
from clinic.reports.queries import recent_lot_signal
from clinic.reports.services import serious_not_reported
from clinic.shell.worklist import doctor_worklist
from clinic.tracing.recalls import open_recall_summaries

bp = Blueprint("shell", __name__)


# What each role is in the clinic for (DESIGN.md "Who may do what").
ROLE_DUTIES = {
    "doctor": "You screen patients, plan courses, log every session's injections and sign them.",
    "nurse": "You register patients, receive stock, phone patients after a session and record "
             "side effects and how they resolve.",
    "auditor": "You trace product lots to the patients who received them, follow recalls, watch the lot "
               "safety signal, send vigilance reports and check the audit trail.",
    "admin": "You keep the staff accounts and the catalogues. Clinical records are not open to "
             "your role.",
}


@bp.get("/")
def home() -> str:
    """The signed-in person's start page: their role, their sign-in history, their work."""
    today = clinic_today()
    is_doctor = current_user.role == Role.DOCTOR
    is_auditor = current_user.role == Role.AUDITOR
    return render_template(
        "shell/home.html",
        duties=ROLE_DUTIES[current_user.role],
        open_recalls=open_recall_summaries() if can(current_user, "tracing.list_recalls") else [],
        sign_ins=recent_sign_in_activity(current_user),
        worklist=doctor_worklist(current_user, today) if is_doctor else None,
        flags=doctor_flags(datetime.now(UTC)) if is_doctor else None,
        missing_end_measures=courses_missing_end_measures(current_user.id) if is_doctor else None,
        follow_ups=nurse_worklist(today) if current_user.role == Role.NURSE else None,
        urgent_follow_ups=urgent_follow_ups(today) if current_user.role == Role.NURSE else [],
        lot_signal=recent_lot_signal(today) if is_auditor else None,
        unreported=serious_not_reported() if is_auditor else [],
        today=today,
    )


@bp.get("/health")
def health() -> tuple[dict[str, str], int]:
    """For the load balancer: the app answers and reaches its database."""
    try:
        db.session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        return {"status": "database unavailable"}, 503
    return {"status": "ok"}, 200
