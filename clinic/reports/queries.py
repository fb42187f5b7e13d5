"""What the reports page reads: sums over the daily figures, and small counts over courses, follow-ups,
lots and recalls, each one statement whatever the number of rows (aggregated in SQL, never in Python)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app, g
from sqlalchemy.orm import joinedload

from clinic.auth.models import User
from clinic.extensions import db
from clinic.inventory.models import Lot, LotReceipt, Product, StorageLocation
from clinic.inventory.services import stock_query, stock_rows
from clinic.records.catalogue.models import Area, Indication
from clinic.records.followups.models import FollowUpTask
from clinic.records.treatments.models import TECHNIQUES, Course, CourseProduct, TreatmentSession
from clinic.records.treatments.queries import due_by_utc_date, live_session_tally
from clinic.reports.figures import ANY_DOCTOR, ANY_INDICATION, SUMMED, month_start
from clinic.reports.models import DEPTH_BANDS, DailyFigure, MonthlyFigure
from clinic.reports.stats import LotFigures, LotSignal, Rate, lot_signals
from clinic.tracing.models import Recall, RecallContact, RecallPatient
from clinic.tracing.recalls import Progress

RATE_DIMENSIONS = ("product", "lot", "indication", "area", "technique", "gauge", "depth", "doctor")
MONTHLY_DIMENSIONS = ("indication", "product", "doctor")
EXPIRY_WINDOWS = (30, 60, 90)


@dataclass(frozen=True)
class ReportFilter:
    """The clinic days from ``start`` to ``end`` (both included), narrowed to what the user chose."""

    start: date
    end: date
    indication: str | None = None
    product_id: int | None = None
    doctor_id: int | None = None
    location_id: int | None = None

    @property
    def scope(self) -> str:
        """Which rows of the daily figures: every session, or only what came from one product or place."""
        if self.product_id is not None:
            return f"product:{self.product_id}"
        if self.location_id is not None:
            return f"location:{self.location_id}"
        return "all"


def _whole_months(start: date, end: date) -> tuple[date, date] | None:
    """The first days of the first and last calendar months lying wholly inside the range, if any."""
    first = start if start.day == 1 else _after(month_start(start))
    last = month_start(end) if (end + timedelta(days=1)).day == 1 else month_start(month_start(end) - timedelta(days=1))
    return (first, last) if first <= last else None


def figure_rows(report: ReportFilter, *dimensions: str, scope: str | None = None) -> sa.Subquery:
    """The figures of the range, narrowed to the filters: whole months from the monthly sums, the days
    around them from the daily figures. Columns: month ('2026-03'), dimension, item and the counts."""
    parts = []
    whole = _whole_months(report.start, report.end)
    for table, when, inside in (
            (MonthlyFigure.__table__, MonthlyFigure.__table__.c.month,
             (lambda c: c.between(whole[0], whole[1])) if whole else None),
            (DailyFigure.__table__, DailyFigure.__table__.c.day,
             (lambda c: sa.or_(c.between(report.start, whole[0] - timedelta(days=1)),
                               c.between(_after(whole[1]), report.end))) if whole
             else (lambda c: c.between(report.start, report.end)))):
        if inside is None:
            continue
        wanted = [table.c.scope == (scope or report.scope), table.c.dimension.in_(dimensions), inside(when)]
        if report.indication is None and report.doctor_id is None:
            wanted += [table.c.doctor_id == ANY_DOCTOR, table.c.indication_code == ANY_INDICATION]
        if report.indication is not None:
            wanted.append(table.c.indication_code == report.indication)
        if report.doctor_id is not None:
            wanted.append(table.c.doctor_id == report.doctor_id)
        parts.append(sa.select(month_of(when).label("month"), table.c.dimension, table.c.item,
                               *[table.c[name] for name in SUMMED]).where(*wanted))
    return sa.union_all(*parts).subquery("figures") if len(parts) > 1 else parts[0].subquery("figures")


def _after(month: date) -> date:
    """The day after the month that starts on ``month``."""
    return month_start(month + timedelta(days=31))


@dataclass(frozen=True)
class RateRow:
    dimension: str
    item: str
    label: str
    sessions: int
    with_side_effect: int
    grades: tuple[int, int, int, int]
    serious: int

    @property
    def rate(self) -> Rate:
        return Rate(self.with_side_effect, self.sessions)


def _labels(items: dict[str, set[str]]) -> dict[tuple[str, str], str]:
    """The names of the items shown: one statement for the products, lots, doctors, indications and areas
    not named yet in this request (the monthly tables name what the rate tables named already)."""
    known: dict[tuple[str, str], str] = g.setdefault("_report_labels", {})
    missing = {dimension: {i for i in wanted if (dimension, i) not in known} for dimension, wanted in items.items()}

    def ids(dimension: str) -> list[int]:
        return [int(i) for i in missing.get(dimension, ()) if i.isdigit()]

    lookups: list[sa.Select[Any]] = []
    if ids("product"):
        lookups.append(sa.select(sa.literal("product"), sa.cast(Product.id, sa.String), Product.name)
                       .where(Product.id.in_(ids("product"))))
    if ids("doctor"):
        lookups.append(sa.select(sa.literal("doctor"), sa.cast(User.id, sa.String), User.full_name)
                       .where(User.id.in_(ids("doctor"))))
    if ids("lot"):
        lookups.append(sa.select(sa.literal("lot"), sa.cast(Lot.id, sa.String),
                                 Product.name + " — lot " + Lot.lot_number)
                       .join(Product, Product.id == Lot.product_id).where(Lot.id.in_(ids("lot"))))
    for dimension, model in (("indication", Indication), ("area", Area)):
        if missing.get(dimension):
            lookups.append(sa.select(sa.literal(dimension), model.code, model.name)
                           .where(model.code.in_(missing[dimension])))
    if lookups:
        found = sa.union_all(*lookups) if len(lookups) > 1 else lookups[0]
        known.update({(dimension, item): name for dimension, item, name in db.session.execute(found)})
    names = dict(known)
    names.update({("technique", code): label for code, label in TECHNIQUES.items()})
    names.update({("depth", code): label for code, label in DEPTH_BANDS.items()})
    names.update({("gauge", i): f"{i}G" for i in items.get("gauge", ())})
    return names


def side_effect_rates(report: ReportFilter) -> tuple[Rate, dict[str, list[RateRow]]]:
    """Every session of the range (the overall rate), and per product, lot, indication, area, technique,
    needle gauge, depth band and doctor: sessions, those with a side effect (once however many), the
    worst grade's breakdown and the serious ones."""
    source = figure_rows(report, "all", *RATE_DIMENSIONS)
    rows = db.session.execute(
        sa.select(source.c.dimension, source.c.item, *[sa.func.sum(source.c[name]) for name in (
            "sessions", "with_side_effect", "grade_1", "grade_2", "grade_3", "grade_4", "serious")])
        .group_by(source.c.dimension, source.c.item)).all()
    items: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        items[row[0]].add(row[1])
    names = _labels(items)
    overall = Rate(0, 0)
    tables: dict[str, list[RateRow]] = {dimension: [] for dimension in RATE_DIMENSIONS}
    for dimension, item, sessions, affected, g1, g2, g3, g4, serious in rows:
        if dimension == "all":
            overall = Rate(int(affected), int(sessions))
            continue
        tables[dimension].append(RateRow(dimension, item, names.get((dimension, item), item), int(sessions),
                                         int(affected), (int(g1), int(g2), int(g3), int(g4)), int(serious)))
    for table in tables.values():
        table.sort(key=lambda row: (-row.rate.per_100, -row.sessions, row.label))
    return overall, tables


def month_of(day: Any) -> sa.ColumnElement[str]:
    """'2026-03' from a date, on either database (the one place the SQL differs by dialect)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.func.to_char(day, "YYYY-MM")
    return sa.func.strftime("%Y-%m", day)


@dataclass
class MonthlyTable:
    dimension: str
    months: list[str]
    rows: list[tuple[str, str, list[int]]]  # item, label, sessions per month

    @property
    def totals(self) -> list[int]:
        return [sum(row[2][i] for row in self.rows) for i in range(len(self.months))]


def sessions_by_month(report: ReportFilter) -> tuple[list[tuple[str, int]], dict[str, MonthlyTable]]:
    """Sessions per month: in all, and per indication, product and doctor."""
    source = figure_rows(report, "all", *MONTHLY_DIMENSIONS)
    rows = db.session.execute(
        sa.select(source.c.dimension, source.c.month, source.c.item, sa.func.sum(source.c.sessions))
        .group_by(source.c.dimension, source.c.month, source.c.item)).all()
    months = sorted({row[1] for row in rows})
    totals = {row[1]: int(row[3]) for row in rows if row[0] == "all"}
    items: dict[str, set[str]] = defaultdict(set)
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for dimension, when, item, sessions in rows:
        if dimension != "all":
            items[dimension].add(item)
            counts[(dimension, item)][when] = int(sessions)
    names = _labels(items)
    tables = {}
    for dimension in MONTHLY_DIMENSIONS:
        table_rows = sorted(((item, names.get((dimension, item), item),
                              [counts[(dimension, item)].get(m, 0) for m in months]) for item in items[dimension]),
                            key=lambda row: (-sum(row[2]), row[1]))
        tables[dimension] = MonthlyTable(dimension, months, table_rows)
    return [(m, totals.get(m, 0)) for m in months], tables


def _date_of(moment: Any) -> sa.ColumnElement[date]:
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.cast(sa.func.timezone("UTC", moment), sa.Date)
    return sa.func.date(moment)


STOP_REASONS_SHOWN = 20


@dataclass
class CourseSummary:
    by_status: dict[str, int]
    overdue: int
    stop_reasons: list[tuple[str, int]] = field(default_factory=list)


def course_summary(report: ReportFilter, today: date) -> CourseSummary:
    """Courses started in the range: completed, active, stopped early (and why), and those whose next
    session is overdue (the same rule as the doctor's home page: the start, then the last session plus
    the interval)."""
    wanted: list[sa.ColumnElement[bool]] = [Course.starts_on.between(report.start, report.end)]
    if report.indication is not None:
        wanted.append(Course.indication_code == report.indication)
    if report.doctor_id is not None:
        wanted.append(Course.created_by_id == report.doctor_id)
    if report.product_id is not None:
        wanted.append(Course.id.in_(sa.select(CourseProduct.course_id).where(
            CourseProduct.product_id == report.product_id)))
    # Only open courses can be overdue: their sessions alone are counted.
    open_courses = sa.select(Course.id).where(*wanted, Course.status.in_(("planned", "active")))
    live = live_session_tally(open_courses)
    due = due_by_utc_date(live)
    overdue = sa.and_(Course.status.in_(("planned", "active")),
                      sa.func.coalesce(live.c.done, 0) < Course.planned_sessions, due < today)
    # One statement: counted per status and, for the stopped ones, per reason.
    reason = sa.case((Course.status == "stopped", Course.stop_reason), else_=sa.null())
    rows = db.session.execute(
        sa.select(Course.status, reason, sa.func.count(), sa.func.sum(sa.case((overdue, 1), else_=0)))
        .outerjoin(live, live.c.course_id == Course.id).where(*wanted).group_by(Course.status, reason)).all()
    by_status: dict[str, int] = defaultdict(int)
    for status, _, n, _ in rows:
        by_status[status] += int(n)
    reasons = sorted(((why, int(n)) for status, why, n, _ in rows if status == "stopped"),
                     key=lambda pair: (-pair[1], pair[0] is not None, pair[0] or ""))[:STOP_REASONS_SHOWN]
    return CourseSummary(dict(by_status), sum(int(o or 0) for _, _, _, o in rows),
                         [(why or "—", n) for why, n in reasons])


@dataclass
class FollowUpSummary:
    on_time: int
    late: int
    not_reached: int
    open_overdue: int


def follow_up_summary(report: ReportFilter, today: date) -> FollowUpSummary:
    """Follow-ups due in the range: done on their day or before, done later, not reached, still open
    past their day."""
    wanted = [FollowUpTask.due_on.between(report.start, report.end)]
    if report.indication is not None or report.doctor_id is not None:
        session_wanted: list[sa.ColumnElement[bool]] = []
        if report.indication is not None:
            session_wanted.append(Course.indication_code == report.indication)
        if report.doctor_id is not None:
            session_wanted.append(TreatmentSession.doctor_id == report.doctor_id)
        wanted.append(FollowUpTask.session_id.in_(sa.select(TreatmentSession.id).join(Course)
                                                  .where(*session_wanted)))
    done = FollowUpTask.status == "done"
    on_time = sa.and_(done, _date_of(FollowUpTask.closed_at) <= FollowUpTask.due_on)
    row = db.session.execute(sa.select(
        sa.func.sum(sa.case((on_time, 1), else_=0)),
        sa.func.sum(sa.case((sa.and_(done, sa.not_(on_time)), 1), else_=0)),
        sa.func.sum(sa.case((FollowUpTask.status == "not_reached", 1), else_=0)),
        sa.func.sum(sa.case((sa.and_(FollowUpTask.status == "due", FollowUpTask.due_on < today), 1), else_=0)),
    ).where(*wanted)).one()
    return FollowUpSummary(*(int(n or 0) for n in row))


def lots_expiring(report: ReportFilter, today: date) -> list[tuple[int, int]]:
    """How many lots with units on hand expire within 30, 60 and 90 days (the product and place chosen)."""
    query = stock_query().where(Lot.expiry_date <= today + timedelta(days=max(EXPIRY_WINDOWS)),
                                Lot.recalled_at.is_(None))
    if report.product_id is not None:
        query = query.where(Lot.product_id == report.product_id)
    if report.location_id is not None:
        query = query.where(Lot.id.in_(sa.select(LotReceipt.lot_id).where(
            LotReceipt.storage_location_id == report.location_id)))
    on_hand = [row.lot.expiry_date for row in stock_rows(query) if row.on_hand > 0]
    return [(days, sum(1 for expiry in on_hand if expiry <= today + timedelta(days=days)))
            for days in EXPIRY_WINDOWS]


def open_recalls() -> list[tuple[Recall, Progress]]:
    """Open recalls with their progress (as ``tracing.recalls.progress`` counts it), counted in SQL: two
    statements however many patients."""
    recalls = db.session.scalars(
        sa.select(Recall).where(Recall.closed_at.is_(None)).order_by(Recall.opened_at)).all()
    if not recalls:
        return []
    contacted = sa.exists().where(RecallContact.row_id == RecallPatient.id)
    released = sa.and_(RecallPatient.status == "no_action_needed", ~contacted)
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for recall_id, status, is_released, n in db.session.execute(
            sa.select(RecallPatient.recall_id, RecallPatient.status, released, sa.func.count())
            .where(RecallPatient.recall_id.in_([r.id for r in recalls]))
            .group_by(RecallPatient.recall_id, RecallPatient.status, released)):
        counts[recall_id]["released" if is_released else status] += int(n)
    return [(recall, _progress(counts[recall.id])) for recall in recalls]


def _progress(by_status: dict[str, int]) -> Progress:
    closed = by_status["follow_up_booked"] + by_status["no_action_needed"]
    return Progress(affected=sum(n for status, n in by_status.items() if status != "released"),
                    to_reach=by_status["to_contact"], reached=closed + by_status["contacted"], closed=closed,
                    unreachable=by_status["unreachable"], released=by_status["released"])


# --- the lot safety signal -----------------------------------------------------------------------


@dataclass(frozen=True)
class FlaggedLot:
    lot: Lot
    signal: LotSignal


def lot_safety_signal(start: date, end: date) -> list[FlaggedLot]:
    """Every lot tested over the clinic days from ``start`` to ``end``, flagged ones first: its sessions
    with a side effect of grade 2 or more (or a serious one) against the other lots of its product."""
    source = figure_rows(ReportFilter(start, end), "lot", scope="all")
    summed = (sa.select(source.c.item, sa.func.sum(source.c.sessions).label("sessions"),
                        sa.func.sum(source.c.signal).label("signal"))
              .group_by(source.c.item).subquery("summed"))
    # One statement: each lot's sums with the lot, its product and its holds (a lot's item is its id).
    rows = [(lot, int(sessions), int(signal)) for lot, sessions, signal in db.session.execute(
        sa.select(Lot, summed.c.sessions, summed.c.signal)
        .join(summed, sa.cast(Lot.id, sa.String) == summed.c.item)
        .options(joinedload(Lot.product), joinedload(Lot.holds)).order_by(summed.c.item)).unique()]
    if not rows:
        return []
    lots = {lot.id: lot for lot, _, _ in rows}
    by_product: dict[int, tuple[int, int]] = defaultdict(lambda: (0, 0))
    for lot, sessions, signal in rows:
        total, flagged = by_product[lot.product_id]
        by_product[lot.product_id] = (total + sessions, flagged + signal)
    figures = []
    for lot, sessions, signal in rows:
        total, flagged = by_product[lot.product_id]
        figures.append(LotFigures(lot.id, lot.product_id, int(sessions), int(signal),
                                  total - int(sessions), flagged - int(signal)))
    config = current_app.config
    tested = lot_signals(figures, min_sessions=config["LOT_SIGNAL_MIN_SESSIONS"], level=config["LOT_SIGNAL_LEVEL"])
    found = [FlaggedLot(lots[s.figures.lot_id], s) for s in tested]
    found.sort(key=lambda f: (not f.signal.flagged, f.signal.q_value))
    return found


def recent_lot_signal(today: date) -> list[FlaggedLot]:
    """The lots flagged over the last ``LOT_SIGNAL_DAYS`` days (the auditor's home page, a lot's page)."""
    days = current_app.config["LOT_SIGNAL_DAYS"]
    return [f for f in lot_safety_signal(today - timedelta(days=days), today) if f.signal.flagged]


def filter_choices() -> dict[str, list[tuple[str, str]]]:
    """What the filters offer: every indication, product, doctor and storage location, in one statement."""
    ordered: list[sa.Select[Any]] = [
        sa.select(sa.literal("indication").label("kind"), Indication.code.label("value"),
                  Indication.name.label("label"), Indication.sort_order.label("rank")),
        sa.select(sa.literal("product"), sa.cast(Product.id, sa.String), Product.name, sa.literal(0)),
        sa.select(sa.literal("doctor"), sa.cast(User.id, sa.String), User.full_name, sa.literal(0))
        .where(User.role == "doctor"),
        sa.select(sa.literal("location"), sa.cast(StorageLocation.id, sa.String), StorageLocation.name,
                  sa.literal(0)),
    ]
    every = sa.union_all(*ordered).subquery("choices")
    choices: dict[str, list[tuple[str, str]]] = {"indication": [], "product": [], "doctor": [], "location": []}
    for kind, value, label in db.session.execute(
            sa.select(every.c.kind, every.c.value, every.c.label)
            .order_by(every.c.kind, every.c.rank, every.c.label)):
        choices[kind].append((value, label))
    return choices
