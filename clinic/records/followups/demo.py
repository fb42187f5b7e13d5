"""Demo follow-ups and side effects, so that a nurse and a doctor signing in to the demo have work:
follow-ups due today, a side effect being followed, one a doctor must review, and a
follow-up that never reached the patient."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from clinic.auth.models import User
from clinic.core.clock import clinic_today
from clinic.extensions import db
from clinic.records.followups import services
from clinic.records.followups.models import FollowUpTask
from clinic.records.treatments.models import TreatmentSession


def seed_demo_follow_ups(nurse: User) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    today = clinic_today()
    signed = [s for s in db.session.scalars(sa.select(TreatmentSession).where(
        TreatmentSession.locked_at.is_not(None), TreatmentSession.voided_at.is_(None))
        .order_by(TreatmentSession.performed_at)) if s.injections]
    tasks = [db.session.scalars(sa.select(FollowUpTask).where(FollowUpTask.session_id == s.id)).first()
             for s in signed]
    # The demo's sessions are all today: bring two calls forward so the worklist has today's work.
    for task in tasks[:2]:
        if task is not None:
            task.due_on = today
    if len(signed) >= 1:
        first = signed[0]
        services.record_side_effect(first, nurse, services.SideEffectInput(
            "redness", 2, onset_at=first.performed_at + timedelta(minutes=5),
            injection_ids=[first.injections[0].id], size_cm=Decimal("6"), action="cold_compress",
            causality="probable", note="Warm to the touch, no pain."), source="chart", now=now)
    if len(signed) >= 2:
        second = signed[1]
        services.record_side_effect(second, nurse, services.SideEffectInput(
            "swelling", 3, onset_at=second.performed_at + timedelta(minutes=10),
            injection_ids=[i.id for i in second.injections if i.administered][:2], size_cm=Decimal("11"),
            action="antihistamine", causality="possible", note="Swelling over the treated area; called in worried."),
            source="chart", now=now)
    if len(tasks) >= 4 and tasks[3] is not None:
        session = signed[3]
        for minutes in (3, 2, 1):
            at = max(now - timedelta(minutes=minutes), session.performed_at)
            services.record_attempt(tasks[3], nurse, services.AttemptInput(at, "phone", reached=False,
                                                                           note="No answer, voicemail."), now=now)
    db.session.flush()
