"""What the chart page shows at a glance: one status per planned treatment, and the to-dos."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from clinic.core.lists import Listing, ListsQuery
from clinic.extensions import db
from clinic.records.catalogue.models import Indication
from clinic.records.consent.models import Consent, ConsentForm, ConsentTextVersion
from clinic.records.followups.models import SideEffect
from clinic.records.followups.queries import side_effects_of
from clinic.records.gate import (
    GateResult,
    PatientFacts,
    check_treatment_allowed,
    history_from,
    history_listings,
    screening_answers,
    screening_lists,
)
from clinic.records.patients.models import HistoryVersion, PatchTest, Patient
from clinic.records.screening.models import Screening
from clinic.records.signals import patient_alerts
from clinic.records.treatments.models import Course, SessionSignature, TreatmentSession
from clinic.records.treatments.services import due_after

# Gate codes that mean the screening must be done again rather than the patient is blocked.
SCREENING_OUT_OF_DATE = frozenset({"screening_expired", "screening_voided", "history_changed"})


@dataclass
class Badge:
    label: str
    tone: str  # ok, warn, bad, muted
    endpoint: str | None = None  # where the badge leads, if anywhere
    params: dict[str, int] = field(default_factory=dict)


@dataclass
class PlannedTreatment:
    indication: Indication
    gate: GateResult


@dataclass
class CourseSummary:
    course: Course
    done: int
    drafts: int
    next_due: date | None


@dataclass(frozen=True)
class RecentSession:
    """A live session as the chart links to it (a call-in's side effect is recorded after one)."""

    id: int
    number: int
    performed_at: datetime
    course: Course


@dataclass
class Chart:
    patient: Patient
    history: HistoryVersion | None
    screenings: list[Screening]
    consents: list[Consent]
    patch_tests: list[PatchTest]
    planned: list[PlannedTreatment]
    courses: list[CourseSummary] = field(default_factory=list)
    alerts: list[Badge] = field(default_factory=list)  # what other packages flag (an open recall)
    badges: list[Badge] = field(default_factory=list)
    side_effects: list[SideEffect] = field(default_factory=list)  # newest onset first, voided ones marked
    recent_sessions: list[RecentSession] = field(default_factory=list)  # the live ones, newest first


def alerts_for(patient_ids: list[int]) -> dict[int, list[Badge]]:
    """What the packages that listen have to flag about these patients, by patient."""
    alerts: dict[int, list[Badge]] = {}
    for _, answer in patient_alerts.send(patient_ids):
        for patient_id, badges in answer.items():
            alerts.setdefault(patient_id, []).extend(badges)
    return alerts


def _chart_listings() -> list[Listing]:
    patient_id: sa.BindParameter[int] = sa.bindparam("patient_id")
    return [
        *history_listings(),
        Listing(Screening, [Screening.patient_id == patient_id],
                order_by=lambda alias: [alias.screened_on.desc(), alias.id.desc()],
                options=lambda alias: [screening_answers(alias), *screening_lists(alias),
                                       joinedload(alias.indication), joinedload(alias.screened_by)]),
        Listing(Consent, [Consent.patient_id == patient_id], order_by=lambda alias: [alias.signed_at.desc()],
                options=lambda alias: [joinedload(alias.text_version).joinedload(ConsentTextVersion.form)
                                       .joinedload(ConsentForm.indication), joinedload(alias.witness)]),
        Listing(PatchTest, [PatchTest.patient_id == patient_id], order_by=lambda alias: [alias.applied_at.desc()],
                options=lambda alias: [joinedload(alias.product), joinedload(alias.ingredient)]),
        Listing(Course, [Course.patient_id == patient_id],
                order_by=lambda alias: [alias.starts_on.desc(), alias.id.desc()],
                options=lambda alias: [joinedload(alias.indication), joinedload(alias.area_links)]),
    ]


# The history, screenings, consents, patch tests and courses in one statement.
_CHART_LISTS = ListsQuery(_chart_listings)


def load_chart(patient: Patient, today: date) -> Chart:
    """Everything the chart shows, loaded with a fixed number of queries per planned treatment."""
    *history_lists, screenings, consents, patch_tests, courses = _CHART_LISTS.load(patient_id=patient.id)
    history = history_from(history_lists)
    # The treatments planned: those with a live screening or consent (their indications came with them).
    planned_indications = {s.indication for s in screenings if not s.is_voided}
    planned_indications |= {c.text_version.form.indication for c in consents
                            if c.text_version.form.indication is not None and not c.is_voided}
    indications = sorted(planned_indications, key=lambda i: (i.sort_order, i.code))
    # The courses' sessions as columns (a patient's years of sessions, never loaded as records here).
    live = db.session.execute(
        sa.select(TreatmentSession.id, TreatmentSession.course_id, TreatmentSession.number,
                  TreatmentSession.performed_at, SessionSignature.session_id.is_not(None).label("signed"))
        .join(Course, Course.id == TreatmentSession.course_id)
        .outerjoin(SessionSignature, SessionSignature.session_id == TreatmentSession.id)
        .where(Course.patient_id == patient.id, TreatmentSession.voided_at.is_(None))
        .order_by(TreatmentSession.performed_at.desc(), TreatmentSession.id.desc())).all()
    by_id = {course.id: course for course in courses}
    summaries = []
    for course in courses:
        mine = [row for row in live if row.course_id == course.id]
        summaries.append(CourseSummary(course, len(mine), sum(1 for row in mine if not row.signed),
                                       due_after(course, len(mine), mine[0].performed_at if mine else None)))
    treated_before = any(summary.done for summary in summaries)
    facts = PatientFacts.from_records(history, consents, screenings, patch_tests)  # one load for every badge
    planned = []
    for indication in indications:
        areas: set[str] = next((s.area_codes for s in screenings
                      if s.indication_code == indication.code and not s.is_voided), set())
        planned.append(PlannedTreatment(indication, check_treatment_allowed(
            patient, indication.code, sorted(areas), [], today, first_treatment=not treated_before, facts=facts)))
    chart = Chart(patient, history, screenings, consents, patch_tests, planned, summaries,
                  alerts_for([patient.id]).get(patient.id, []), side_effects=side_effects_of(patient_id=patient.id),
                  recent_sessions=[RecentSession(row.id, row.number, row.performed_at, by_id[row.course_id])
                                   for row in live[:3]])
    chart.badges = _badges(chart)
    return chart


def _badges(chart: Chart) -> list[Badge]:
    badges = []
    if chart.patient.is_voided:
        return [Badge("voided: registered in error", "bad")]
    badges.extend(chart.alerts)
    if chart.history is None:
        badges.append(Badge("history not recorded", "warn"))
    for item in chart.planned:
        name = item.indication.name
        if item.gate.allowed:
            badges.append(Badge(f"eligible: {name}", "ok"))
            continue
        if item.gate.consent is None:
            badges.append(Badge(f"consent missing: {name}", "warn"))
        screening = item.gate.screening
        if screening is None:
            badges.append(Badge(f"screening missing: {name}", "warn"))
        elif screening.result == "needs_review":
            badges.append(Badge(f"needs doctor review: {name}", "warn"))
        elif screening.result == "not_eligible":
            badges.append(Badge(f"not eligible: {name}", "bad"))
        elif any(r.code in SCREENING_OUT_OF_DATE for r in item.gate.reasons):
            badges.append(Badge(f"screening out of date: {name}", "warn"))
        elif item.gate.consent is not None and screening is not None:
            badges.append(Badge(f"blocked: {name}", "bad"))
    live_tests = [t for t in chart.patch_tests if not t.is_voided]
    if any(t.result == "pending" for t in live_tests):
        badges.append(Badge("patch test to read", "warn"))
    elif not any(t.result in ("negative", "positive") for t in live_tests):
        badges.append(Badge("patch test due", "warn"))
    if any(t.result == "positive" for t in live_tests):
        badges.append(Badge("positive patch test", "bad"))
    return badges
