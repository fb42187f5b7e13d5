"""The home page of each role and the health check."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, render_template
from flask_login import current_user

from clinic.auth.models import Role
from clinic.auth.permissions import can
from clinic.auth.services import account_counts, recent_sign_in_activity
from clinic.core.clock import clinic_today
from clinic.extensions import db
from clinic.records.followups.queries import doctor_flags, nurse_worklist, urgent_follow_ups, worklist_counts
from clinic.records.outcomes.queries import courses_missing_end_measures
from clinic.reports.queries import recent_lot_signal
from clinic.reports.services import UNREPORTED_SHOWN, serious_not_reported
from clinic.shell import dashboard
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
    """The signed-in person's start page: their day at a glance (count cards), their work, their sign-ins."""
    today = clinic_today()
    role = current_user.role
    open_recalls = open_recall_summaries() if can(current_user, "tracing.list_recalls") else []
    page: dict[str, Any] = {"worklist": None, "flags": None, "missing_end_measures": None, "follow_ups": None,
                            "urgent_follow_ups": [], "lot_signal": None, "unreported": []}
    if role == Role.DOCTOR:
        page |= {"worklist": doctor_worklist(current_user, today), "flags": doctor_flags(datetime.now(UTC)),
                 "missing_end_measures": courses_missing_end_measures(current_user.id)}
        cards = dashboard.doctor_cards(page["worklist"], page["flags"])
    elif role == Role.NURSE:
        page |= {"follow_ups": nurse_worklist(today), "urgent_follow_ups": urgent_follow_ups(today)}
        cards = dashboard.nurse_cards(worklist_counts(today))
    elif role == Role.AUDITOR:
        page |= {"lot_signal": recent_lot_signal(today), "unreported": serious_not_reported()}
        cards = dashboard.auditor_cards(page["lot_signal"], page["unreported"], UNREPORTED_SHOWN, open_recalls)
    else:
        cards = dashboard.admin_cards(account_counts())
    return render_template(
        "shell/home.html",
        duties=ROLE_DUTIES[role],
        cards=cards,
        open_recalls=open_recalls,
        sign_ins=recent_sign_in_activity(current_user),
        today=today,
        **page,
    )


@bp.get("/health")
def health() -> tuple[dict[str, str], int]:
    """For the load balancer: the app answers and reaches its database."""
    try:
        db.session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        return {"status": "database unavailable"}, 503
    return {"status": "ok"}, 200
