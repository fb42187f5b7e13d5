"""Vigilance reports: what the record prefills for a serious (or grade 3+) side effect, what the auditor
completes, and the record that it was sent. The report names no patient: age band and sex only.

Services flush and audit (the audit listener writes a row per change), never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from clinic.auth.models import Role, User
from clinic.core.clock import clinic_day
from clinic.core.errors import ClinicError, FieldError
from clinic.core.services import check_version, required_text, stored
from clinic.extensions import db
from clinic.inventory.models import Lot
from clinic.records.followups.models import SideEffect
from clinic.records.treatments.models import InjectionLog, TreatmentSession
from clinic.reports.figures import clinic_moment
from clinic.reports.models import RECIPIENTS, VigilanceReport

SERIOUS_GRADE = 3


def is_reportable(side_effect: SideEffect) -> bool:
    """A serious side effect, or one of grade 3 or more, not voided."""
    return not side_effect.is_voided and (side_effect.serious or side_effect.grade >= SERIOUS_GRADE)


def reportable_where() -> sa.ColumnElement[bool]:
    return sa.and_(SideEffect.voided_at.is_(None),
                   sa.or_(SideEffect.serious.is_(True), SideEffect.grade >= SERIOUS_GRADE))


def age_band(born: date, on: date) -> str:
    """The patient's age as a ten-year band ("30–39"): enough for a vigilance form, not enough to find them."""
    age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    low = age - age % 10
    return f"{low}–{low + 9}"


@dataclass(frozen=True)
class ProductUsed:
    product: str
    manufacturer: str
    gtin: str
    lot_number: str
    expiry: date


@dataclass(frozen=True)
class AreaUsed:
    area: str
    depth_mm: object
    volume_ml: object
    technique: str


@dataclass(frozen=True)
class VigilanceContent:
    """What the record says, prefilled: the products and lots, how they were used, the event, and the
    patient as an age band and a sex."""

    session_date: datetime
    indication: str
    products: list[ProductUsed]
    areas: list[AreaUsed]
    needle_gauge: int
    age_band: str
    sex: str


def vigilance_content(side_effect: SideEffect) -> VigilanceContent:
    """From the side effect's areas (every area of its session when it names none) to their lots."""
    session: TreatmentSession = side_effect.session
    named = {link.injection_id for link in side_effect.areas}
    injections: list[InjectionLog] = [i for i in session.injections if i.administered
                                      and (not named or i.id in named)]
    lots: dict[int, Lot] = {}
    for injection in injections:
        if injection.preparation is not None:
            for component in injection.preparation.components:
                lots.setdefault(component.lot_id, component.lot)
    patient = side_effect.patient
    return VigilanceContent(
        session_date=session.performed_at, indication=session.course.indication.name,
        products=[ProductUsed(lot.product.name, lot.product.manufacturer, lot.product.gtin or "", lot.lot_number,
                              lot.expiry_date) for lot in sorted(lots.values(), key=lambda lot: lot.id)],
        areas=[AreaUsed(i.area.name, i.depth_mm, i.volume_ml, i.technique_label) for i in injections],
        needle_gauge=session.needle_gauge,
        age_band=age_band(patient.date_of_birth, clinic_day(session.performed_at)),
        sex=patient.sex_label)


@dataclass
class VigilanceInput:
    recipient: str
    recipient_name: str = ""
    reporter_contact: str = ""
    narrative: str = ""
    further_information: str = ""


def _check_auditor(by: User) -> None:
    if by.role != Role.AUDITOR:
        raise ClinicError("Only an auditor completes and sends a vigilance report.")


def save_vigilance_report(side_effect: SideEffect, by: User, entry: VigilanceInput, *,
                          expected_version: int | str | None = None) -> VigilanceReport:
    """The auditor's part of the report: to whom, who answers questions, what happened in their words."""
    _check_auditor(by)
    if not is_reportable(side_effect):
        raise ClinicError("Only a serious side effect, or one of grade 3 or more, gets a vigilance report.")
    if entry.recipient not in RECIPIENTS:
        raise FieldError("recipient", "Choose the manufacturer or the competent authority.")
    report = db.session.scalar(sa.select(VigilanceReport).where(VigilanceReport.side_effect_id == side_effect.id))
    if report is not None:
        if report.is_sent:
            raise ClinicError("This report was sent: it stays as it was sent.")
        if expected_version is not None:
            check_version(report, expected_version)
    else:
        report = VigilanceReport(side_effect_id=side_effect.id)
        db.session.add(report)
    report.recipient = entry.recipient
    report.recipient_name = entry.recipient_name.strip()
    report.reporter_contact = entry.reporter_contact.strip()
    report.narrative = entry.narrative.strip()
    report.further_information = entry.further_information.strip()
    report.updated_by_id = by.id
    return stored(report)


def record_sent(side_effect: SideEffect, by: User, *, sent_on: date, sent_to: str, reference: str,
                today: date) -> VigilanceReport:
    """When the report was sent, to whom, and the reference the recipient gave."""
    _check_auditor(by)
    report = db.session.scalar(sa.select(VigilanceReport).where(VigilanceReport.side_effect_id == side_effect.id))
    if report is None:
        raise ClinicError("Complete the report before recording that it was sent.")
    if report.is_sent:
        raise ClinicError("This report is already recorded as sent.")
    if sent_on > today:
        raise FieldError("sent_on", "The day it was sent cannot be in the future.")
    if sent_on < clinic_day(side_effect.created_at):
        raise FieldError("sent_on", "The day it was sent is before the side effect was recorded.")
    report.sent_at = clinic_moment(sent_on, time(12))
    report.sent_to = required_text(sent_to, "sent_to", "Say to whom it was sent.")[:200]
    report.sent_reference = reference.strip()[:120]
    report.sent_by_id = by.id
    db.session.flush()
    return report


UNREPORTED_SHOWN = 100  # the auditor's home lists this many at most, oldest first


def serious_not_reported() -> list[SideEffect]:
    """Serious (or grade 3+) side effects with no vigilance report sent yet, oldest first (auditor's home)."""
    sent = sa.select(VigilanceReport.side_effect_id).where(VigilanceReport.sent_at.is_not(None))
    return list(db.session.scalars(
        sa.select(SideEffect).where(reportable_where(), SideEffect.id.not_in(sent))
        .options(selectinload(SideEffect.type)).order_by(SideEffect.onset_at).limit(UNREPORTED_SHOWN)))
