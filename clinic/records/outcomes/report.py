"""The course report: plan against what was done, products and lots, side effects, the measures from
baseline to the last session with their charts, photo pairs, consent and screening, signatures and the
suggested maintenance. Loaded in a fixed number of statements whatever the course's length.

Every figure is built from the current values (an amendment writes the record itself) and leaves out
voided sessions and voided values.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, lazyload

from clinic.core.clock import clinic_day
from clinic.core.findings import Finding
from clinic.extensions import db
from clinic.inventory.models import Lot, Product
from clinic.records.catalogue.models import Area, area_labels
from clinic.records.consent.models import Consent, ConsentTextVersion
from clinic.records.followups.models import SideEffect
from clinic.records.followups.queries import side_effects_of
from clinic.records.outcomes.charts import LineChart, line_chart
from clinic.records.outcomes.models import GAIS, MeasureDefinition, OutcomeMeasure
from clinic.records.patients.models import HistoryVersion, Patient
from clinic.records.photos.models import VIEWS, Photo
from clinic.records.photos.services import Occasion, current_photo_consent, occasion_of
from clinic.records.screening.models import ContraindicationRule, Screening, ScreeningAnswer
from clinic.records.screening.services import screening_validity
from clinic.records.treatments.models import (
    Course,
    CourseArea,
    Preparation,
    PreparationComponent,
    SessionSignature,
    TreatmentSession,
)

# DESIGN.md: maintenance every 2–3 months after a course.
MAINTENANCE_AFTER = (timedelta(days=60), timedelta(days=90))
# A measure whose whole range is this short is a scale (a grade, a 0–10 score): charted over all of it.
SCALE_SPAN = 10
GAIS_LABELS = {grade: label for label, grade in GAIS.values()}


@dataclass
class SessionLine:
    """A session as the report lists it: its local day, the days since the previous one, and whether that
    kept the plan ("kept"), came sooner than the minimum ("early") or later than the maximum ("late")."""

    session: TreatmentSession
    day: date
    days_since_previous: int | None = None
    interval: str = "first"


@dataclass
class ProductUse:
    name: str
    total_ml: Decimal
    lots: list[str]


@dataclass
class MeasureSeries:
    """One measure from baseline to the last reading: the change in its unit and in %, and its chart."""

    definition: MeasureDefinition
    readings: list[OutcomeMeasure]
    chart: LineChart | None = None

    @property
    def baseline(self) -> OutcomeMeasure | None:
        return next((m for m in self.readings if m.timepoint == "baseline"), None)

    @property
    def latest(self) -> OutcomeMeasure | None:
        later = [m for m in self.readings if m.timepoint != "baseline"]
        return later[-1] if later else None

    @property
    def change(self) -> Decimal | None:
        """Latest minus baseline, in the measure's unit (numbers only)."""
        first, last = self.baseline, self.latest
        if first is None or last is None or first.value_number is None or last.value_number is None:
            return None
        return last.value_number - first.value_number

    @property
    def change_percent(self) -> Decimal | None:
        change, first = self.change, self.baseline
        if change is None or first is None or not first.value_number:
            return None
        return (change * 100 / first.value_number).quantize(Decimal("0.1"))

    @property
    def change_text(self) -> str:
        change = self.change
        if change is None:
            return "—"
        places = Decimal(1).scaleb(-self.definition.decimals)
        sign = "+" if change > 0 else ""
        text = f"{sign}{change.quantize(places)} {self.definition.unit}".strip()
        if self.change_percent is not None:
            text += f" ({sign}{self.change_percent} %)"
        return text

    @property
    def verdict(self) -> str:
        change = self.change
        if change is None or change == 0:
            return "no change" if change == 0 else ""
        better = (change > 0) == self.definition.higher_is_better
        return "better" if better else "worse"


@dataclass
class PhotoPair:
    view: str
    first: Photo
    last: Photo
    first_occasion: Occasion
    last_occasion: Occasion


@dataclass
class CourseReport:
    course: Course
    areas: str  # the course's area names
    sessions: list[SessionLine]  # live sessions, in order
    voided_sessions: list[TreatmentSession]
    products: list[ProductUse]
    side_effects: list[SideEffect]
    series: list[MeasureSeries]
    notes: list[OutcomeMeasure]  # free-text measures
    photo_pairs: list[PhotoPair]
    photo_count: int
    photo_consent: Consent | None
    photo_consent_withdrawn: Consent | None
    treatment_consent: Consent | None
    screening: Screening | None
    # Why the screening no longer holds today (expired, or the medical history changed since), as the
    # treatment gate says it; empty while it holds.
    screening_out_of_date: list[Finding] = field(default_factory=list)
    signatures: list[SessionSignature] = field(default_factory=list)

    @property
    def patient(self) -> Patient:
        return self.course.patient

    @property
    def done(self) -> int:
        return len(self.sessions)

    @property
    def late(self) -> int:
        return sum(1 for line in self.sessions if line.interval == "late")

    @property
    def early(self) -> int:
        return sum(1 for line in self.sessions if line.interval == "early")

    @property
    def last_day(self) -> date | None:
        return self.sessions[-1].day if self.sessions else None

    @property
    def maintenance(self) -> tuple[date, date] | None:
        last = self.last_day
        if last is None:
            return None
        return last + MAINTENANCE_AFTER[0], last + MAINTENANCE_AFTER[1]

    @property
    def end_measures_missing(self) -> bool:
        return self.course.status == "completed" and not any(
            m.timepoint == "end" for s in self.series for m in s.readings) and not any(
            n.timepoint == "end" for n in self.notes)


def _session_lines(course: Course, live: list[TreatmentSession]) -> list[SessionLine]:
    longest = max(course.indication.interval_max_days, course.interval_days)
    lines: list[SessionLine] = []
    for session in live:
        line = SessionLine(session, clinic_day(session.performed_at))
        if lines:
            days = (line.day - lines[-1].day).days
            line.days_since_previous = days
            line.interval = "early" if days < course.interval_days else "late" if days > longest else "kept"
        lines.append(line)
    return lines


def _products(live_ids: list[int]) -> list[ProductUse]:
    rows = db.session.execute(
        sa.select(Product.name, Lot.lot_number, Lot.expiry_date, PreparationComponent.volume_ml)
        .join(Preparation, PreparationComponent.preparation_id == Preparation.id)
        .join(Lot, PreparationComponent.lot_id == Lot.id).join(Product, Lot.product_id == Product.id)
        .where(Preparation.session_id.in_(live_ids))
        .order_by(Product.name, Lot.lot_number)).all()
    totals: dict[str, Decimal] = defaultdict(Decimal)
    lots: dict[str, list[str]] = defaultdict(list)
    for name, lot_number, expiry, volume in rows:
        totals[name] += volume
        label = f"{lot_number} (exp. {expiry:%m/%Y})"
        if label not in lots[name]:
            lots[name].append(label)
    return [ProductUse(name, totals[name], lots[name]) for name in totals]


def _series(measures: list[OutcomeMeasure]) -> tuple[list[MeasureSeries], list[OutcomeMeasure]]:
    by_code: dict[str, list[OutcomeMeasure]] = defaultdict(list)
    notes = []
    for measure in measures:
        if measure.definition.kind == "text":
            notes.append(measure)
        else:
            by_code[measure.definition_code].append(measure)
    series = []
    for readings in by_code.values():
        definition = readings[0].definition
        one = MeasureSeries(definition, readings)
        gais = definition.kind == "gais"
        baseline = one.baseline
        low, high = definition.min_value, definition.max_value
        if gais:
            low, high = Decimal(1), Decimal(5)
        elif low is None or high is None or high - low > SCALE_SPAN:
            low = high = None  # a measurement (cm, kg, hairs/cm²): charted over its readings' own span
        one.chart = line_chart(
            f"{definition.name}{' (' + definition.unit + ')' if definition.unit else ''}",
            [(m.measured_on, m.chart_value, m.display) for m in readings if m.chart_value is not None],
            low=low, high=high,
            decimals=definition.decimals, labels=GAIS_LABELS if gais else None,
            baseline=baseline.value_number if baseline is not None else None)
        series.append(one)
    series.sort(key=lambda s: (s.definition.sort_order, s.definition.name))
    return series, notes


def _photo_pairs(photos: list[Photo], sessions: dict[int, TreatmentSession]) -> list[PhotoPair]:
    """For each view: the photo of the first and of the last occasion it was taken at."""
    by_view: dict[str, list[Photo]] = defaultdict(list)
    for photo in photos:
        by_view[photo.view].append(photo)
    pairs = []
    for view in VIEWS:
        taken = by_view.get(view, [])
        if not taken:
            continue
        ordered = sorted(taken, key=lambda p: occasion_of(p, sessions).sort_key + (p.id,))
        first, last = ordered[0], ordered[-1]
        first_at, last_at = occasion_of(first, sessions), occasion_of(last, sessions)
        if first_at.key != last_at.key:
            pairs.append(PhotoPair(VIEWS[view], first, last, first_at, last_at))
    return pairs


def course_for_report(course_id: int) -> tuple[Course, str] | None:
    """The course with its patient and indication, and the names of its areas in the catalogue's order
    (as ``area_labels`` writes them), in one statement."""
    rows = db.session.execute(
        sa.select(Course, Area.name)
        .outerjoin(CourseArea, CourseArea.course_id == Course.id).outerjoin(Area, Area.code == CourseArea.area_code)
        .where(Course.id == course_id).order_by(Area.sort_order, CourseArea.area_code)
        .options(joinedload(Course.patient), joinedload(Course.indication), lazyload(Course.area_links))).all()
    if not rows:
        return None
    return rows[0][0], ", ".join(name for _, name in rows if name is not None) or "—"


def load_course_report(course: Course, today: date, areas: str | None = None) -> CourseReport:
    """Everything the report shows, in a fixed number of statements; ``areas``: the course's area names
    when ``course_for_report`` gave them."""
    sessions = list(db.session.scalars(
        sa.select(TreatmentSession).where(TreatmentSession.course_id == course.id)
        .order_by(TreatmentSession.number)
        .options(joinedload(TreatmentSession.doctor),
                 joinedload(TreatmentSession.signature).joinedload(SessionSignature.signer))))
    live = [s for s in sessions if not s.is_voided]
    live_ids = [s.id for s in live]
    voided_ids = {s.id for s in sessions if s.is_voided}
    measures = [m for m in db.session.scalars(
        sa.select(OutcomeMeasure).where(OutcomeMeasure.course_id == course.id, OutcomeMeasure.not_voided())
        .order_by(OutcomeMeasure.measured_on, OutcomeMeasure.id)
        # The report never reads which indications a measure is for: not loaded.
        .options(joinedload(OutcomeMeasure.definition).lazyload(MeasureDefinition.indication_links)))
        if m.session_id not in voided_ids]
    series, notes = _series(measures)
    consents = list(db.session.scalars(
        sa.select(Consent).where(Consent.patient_id == course.patient_id, Consent.not_voided())
        .order_by(Consent.signed_at)
        .options(joinedload(Consent.text_version).joinedload(ConsentTextVersion.form),
                 joinedload(Consent.witness))))
    photo_consent = current_photo_consent(consents, today)
    photo_consents = [c for c in consents if c.text_version.form.kind == "photo"]
    photos = list(db.session.scalars(
        sa.select(Photo).where(Photo.course_id == course.id, Photo.not_voided()).order_by(Photo.taken_on, Photo.id)))
    photos = [p for p in photos if p.session_id not in voided_ids]
    treatment = [c for c in consents if c.text_version.form.indication_code == course.indication_code
                 and c.in_force_on(today)]
    # The newest live screening for the indication, with whether a doctor overrode it and its answers
    # (their rules) joined, and the id of the newest history version in the same statement: the history
    # itself is read only when it changed since the screening (one statement, its lists joined).
    latest_history_id = (sa.select(HistoryVersion.id).where(HistoryVersion.patient_id == course.patient_id)
                         .order_by(HistoryVersion.number.desc()).limit(1).scalar_subquery())
    found = db.session.execute(
        sa.select(Screening, latest_history_id).where(
            Screening.patient_id == course.patient_id, Screening.indication_code == course.indication_code,
            Screening.not_voided())
        .order_by(Screening.screened_on.desc(), Screening.id.desc()).limit(1)
        .options(joinedload(Screening.overrides), lazyload(Screening.area_links),
                 joinedload(Screening.answers).joinedload(ScreeningAnswer.rule).options(
                     lazyload(ContraindicationRule.indication_links), lazyload(ContraindicationRule.area_links)))
    ).unique().first()
    screening, history_id = found if found is not None else (None, None)
    out_of_date: list[Finding] = []
    if screening is not None:
        history = None
        if history_id is not None and history_id != screening.history_version_id:
            history = db.session.scalars(
                sa.select(HistoryVersion).where(HistoryVersion.id == history_id)
                .options(joinedload(HistoryVersion.conditions), joinedload(HistoryVersion.medications),
                         joinedload(HistoryVersion.treatments), lazyload(HistoryVersion.allergies))).unique().one()
        # As the treatment gate judges it: too old, voided, or the history now raises a new concern.
        out_of_date = screening_validity(screening, course.patient, history, today).reasons
    return CourseReport(
        course=course, areas=area_labels(course.area_codes) if areas is None else areas,
        sessions=_session_lines(course, live), voided_sessions=[s for s in sessions if s.is_voided],
        products=_products(live_ids),
        side_effects=[e for e in side_effects_of(session_ids=live_ids) if not e.is_voided],
        series=series, notes=notes,
        photo_pairs=_photo_pairs(photos, {s.id: s for s in sessions}) if photo_consent else [],
        photo_count=len(photos), photo_consent=photo_consent,
        photo_consent_withdrawn=None if photo_consent or not photo_consents else photo_consents[-1],
        treatment_consent=treatment[-1] if treatment else None, screening=screening,
        screening_out_of_date=out_of_date,
        signatures=[s.signature for s in live if s.signature is not None])
