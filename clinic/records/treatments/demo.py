"""Demo courses and sessions for the synthetic patients: signed sessions, a draft, an overdue course."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from clinic.auth.models import User
from clinic.core.clock import clinic_day, clinic_today
from clinic.extensions import db
from clinic.inventory.models import Lot
from clinic.inventory.services import check_lot_usable
from clinic.records.chart import load_chart
from clinic.records.patients.models import Patient
from clinic.records.treatments import services
from clinic.records.treatments.models import Course


def _usable_lots(today: date) -> list[Lot]:
    lots = db.session.scalars(sa.select(Lot).order_by(Lot.expiry_date.desc())).all()
    return [lot for lot in lots if lot.product.kind != "anaesthetic_cream" and check_lot_usable(lot, today).usable]


def seed_demo_courses(doctor: User, nurse: User, *, limit: int = 6) -> list[Course]:
    """A course for each patient the gate allows; the first few with a signed session today and a draft."""
    today = clinic_today()
    lots = _usable_lots(today)
    if not lots:
        return []
    made = []
    for patient in db.session.scalars(sa.select(Patient).where(Patient.not_voided()).order_by(Patient.id)):
        chart = load_chart(patient, today)
        ready = next((p for p in chart.planned if p.gate.allowed), None)
        if ready is None or ready.gate.screening is None:
            continue
        areas = sorted(ready.gate.screening.area_codes)
        course = services.plan_course(patient, services.CourseInput(
            ready.indication.code, areas, starts_on=today - timedelta(days=1),
            goals="Brighter, more hydrated skin" if ready.indication.code == "skin_rejuvenation" else "",
        ), doctor)
        made.append(course)
        if len(made) > limit:
            continue  # planned only: shows as due
        lot = lots[len(made) % len(lots)]
        drawn = min(lot.product.volume_ml, Decimal("2"))
        per_area = (drawn / len(areas)).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
        when = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=30 * len(made))
        if clinic_day(when) != today:
            when = datetime.now(UTC).replace(second=0, microsecond=0)
        entry = services.SessionInput(
            performed_at=when, skin_preparation="chlorhexidine", technique="nappage", needle_gauge=32,
            needle_length_mm=Decimal("4"), nurse_id=nurse.id,
            preparations=[services.PreparationInput(lot.product.name, [services.ComponentInput(lot.id, drawn)])],
            injections=[services.InjectionInput(code, 0, depth_mm=Decimal("1.5"), volume_ml=per_area, points=20)
                        for code in areas],
            acknowledged=[],
        )
        check = services.check_session(course, entry, today=today)
        if check.reasons:
            continue
        entry.acknowledged = [w.code for w in check.warnings]
        session = services.save_session(course, entry, doctor, today=today)
        if len(made) % 3 != 0:
            services.apply_signature(session, doctor)
    db.session.flush()
    return made
