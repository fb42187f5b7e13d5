"""The daily figures: computed in SQL from the records for one clinic day (and, when one session
changed, only its doctor's and indication's slice of that day), replacing what was there; a session
just signed, or given a new side effect, adds only its own share.

The same statement serves the transactional upkeep (a signal from the records) and ``flask reports
rebuild``, so the rollup and a fresh computation cannot drift apart by construction of two codes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from clinic.core.clock import clinic_day, clinic_zone
from clinic.core.lists import PREPARED
from clinic.extensions import db
from clinic.inventory.models import Lot, LotReceipt
from clinic.records.followups.models import SideEffect, SideEffectArea
from clinic.records.treatments.models import (
    Course,
    InjectionLog,
    PreparationComponent,
    SessionSignature,
    TreatmentSession,
)
from clinic.reports.models import DailyFigure, MonthlyFigure


# The one place the reports read the clinic's clock: the zone the rest of the app shows times in (the
# server's own zone here, as ``|date`` and the aftercare sheet use it).
def clinic_moment(day: date, at: time) -> datetime:
    """A clinic day's wall-clock time, as an aware moment (clinic/core/clock.py gives the zone)."""
    return datetime.combine(day, at, tzinfo=clinic_zone())


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC moments a clinic day starts and ends."""
    return clinic_moment(day, time()), clinic_moment(day + timedelta(days=1), time())


def _text(column: sa.ColumnElement[int]) -> sa.ColumnElement[str]:
    return sa.cast(column, sa.String(40))


def figures_select(day: date, *, doctor_id: int | None = None, indication_code: str | None = None,
                   session_id: int | None = None,
                   without_side_effect: int | None = None) -> sa.Select[tuple[object, ...]]:
    """The rows of ``report_daily`` for one clinic day (or one slice of it), from the raw records.
    ``session_id``: only that session's share of them (each figure counts sessions, so a slice's rows are
    its sessions' shares summed); ``without_side_effect``: as if that side effect were not recorded."""
    start, end = day_bounds(day)
    session = TreatmentSession.__table__
    injection = InjectionLog.__table__
    component = PreparationComponent.__table__
    side_effect = SideEffect.__table__
    area_link = SideEffectArea.__table__

    wanted = [session.c.performed_at >= start, session.c.performed_at < end, session.c.voided_at.is_(None)]
    if doctor_id is not None:
        wanted.append(session.c.doctor_id == doctor_id)
    if indication_code is not None:
        wanted.append(Course.__table__.c.indication_code == indication_code)
    if session_id is not None:
        wanted.append(session.c.id == session_id)
    counted = (sa.select(session.c.id, session.c.doctor_id, session.c.needle_gauge,
                         Course.__table__.c.indication_code)
               .join(Course.__table__, Course.__table__.c.id == session.c.course_id)
               .join(SessionSignature.__table__, SessionSignature.__table__.c.session_id == session.c.id)
               .where(*wanted).cte("counted"))

    # A side effect concerns the areas (injection logs) it names; one that names none (a patient's own
    # report not yet followed up) concerns every area of its session.
    hit = (sa.select(injection.c.id.label("injection_id"), sa.func.max(side_effect.c.grade).label("worst"),
                     sa.func.max(sa.case((side_effect.c.serious, 1), else_=0)).label("serious"))
           .join(counted, counted.c.id == injection.c.session_id)
           .join(side_effect, side_effect.c.session_id == injection.c.session_id)
           .where(side_effect.c.voided_at.is_(None),
                  *([side_effect.c.id != without_side_effect] if without_side_effect is not None else []),
                  sa.or_(sa.exists().where(area_link.c.side_effect_id == side_effect.c.id,
                                           area_link.c.injection_id == injection.c.id),
                         ~sa.exists().where(area_link.c.side_effect_id == side_effect.c.id)))
           .group_by(injection.c.id).subquery("hit"))

    depth = injection.c.depth_mm
    base = (sa.select(
        counted.c.id.label("session_id"), counted.c.indication_code, counted.c.doctor_id,
        Lot.__table__.c.product_id, component.c.lot_id, injection.c.area_code, injection.c.technique,
        sa.func.coalesce(injection.c.needle_gauge, counted.c.needle_gauge).label("gauge"),
        sa.case((depth < 1, "under_1"), (depth <= 2, "1_2"), (depth <= 4, "2_4"), else_="over_4").label("depth"),
        hit.c.worst, hit.c.serious)
        .select_from(counted)
        .join(injection, injection.c.session_id == counted.c.id)
        .join(component, component.c.preparation_id == injection.c.preparation_id)
        .join(Lot.__table__, Lot.__table__.c.id == component.c.lot_id)
        .outerjoin(hit, hit.c.injection_id == injection.c.id)
        .where(injection.c.administered)
        .cte("base"))

    items: dict[str, sa.ColumnElement[str]] = {
        "all": sa.literal_column("''"), "product": _text(base.c.product_id), "lot": _text(base.c.lot_id),
        "indication": base.c.indication_code, "area": base.c.area_code, "technique": base.c.technique,
        "gauge": _text(base.c.gauge), "depth": base.c.depth, "doctor": _text(base.c.doctor_id)}
    fanned = sa.union_all(*[
        sa.select(sa.literal_column(f"'{name}'").label("dimension"), item.label("item"), base.c.session_id,
                  base.c.indication_code, base.c.doctor_id, base.c.product_id, base.c.lot_id, base.c.worst,
                  base.c.serious)
        for name, item in items.items()]).cte("fanned")

    receipt = LotReceipt.__table__
    # Only the receipts of the lots counted: a session's share would otherwise read the whole chain's.
    kept_in = (sa.select(receipt.c.lot_id, receipt.c.storage_location_id.label("location_id"))
               .where(receipt.c.voided_at.is_(None), receipt.c.storage_location_id.is_not(None),
                      receipt.c.lot_id.in_(sa.select(base.c.lot_id)))
               .distinct().subquery("kept_in"))
    cell = (fanned.c.dimension, fanned.c.item, fanned.c.session_id, fanned.c.indication_code, fanned.c.doctor_id)
    worst = sa.func.max(fanned.c.worst).label("worst")
    serious = sa.func.max(fanned.c.serious).label("serious")
    per_session = sa.union_all(
        sa.select(sa.literal_column("'all'").label("scope"), *cell, worst, serious).group_by(*cell),
        sa.select((sa.literal_column("'product:'") + _text(fanned.c.product_id)).label("scope"), *cell, worst,
                  serious).group_by(fanned.c.product_id, *cell),
        sa.select((sa.literal_column("'location:'") + _text(kept_in.c.location_id)).label("scope"), *cell,
                  worst, serious).join(kept_in, kept_in.c.lot_id == fanned.c.lot_id)
        .group_by(kept_in.c.location_id, *cell),
    ).subquery("per_session")

    def sessions_where(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.func.sum(sa.case((condition, 1), else_=0))

    keys = (per_session.c.scope, per_session.c.dimension, per_session.c.item, per_session.c.indication_code,
            per_session.c.doctor_id)
    return (sa.select(
        sa.literal(day, sa.Date).label("day"), *keys, sa.func.count().label("sessions"),
        sessions_where(per_session.c.worst.is_not(None)).label("with_side_effect"),
        *[sessions_where(per_session.c.worst == grade).label(f"grade_{grade}") for grade in (1, 2, 3, 4)],
        sessions_where(per_session.c.serious == 1).label("serious"),
        sessions_where(sa.or_(per_session.c.worst >= 2, per_session.c.serious == 1)).label("signal"))
        .group_by(*keys))


FIGURE_COLUMNS = ("day", "scope", "dimension", "item", "indication_code", "doctor_id", "sessions",
                  "with_side_effect", "grade_1", "grade_2", "grade_3", "grade_4", "serious", "signal")


def month_start(day: date) -> date:
    return day.replace(day=1)


def _month_end(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


# The rows of "any doctor, any indication": each day's and month's slices summed (sessions are disjoint
# across doctors and indications, so the sums are exact). A report without those filters reads these,
# about one row in forty.
ANY_DOCTOR, ANY_INDICATION = 0, ""

SUMMED = ("sessions", "with_side_effect", "grade_1", "grade_2", "grade_3", "grade_4", "serious", "signal")


def refresh_month(day: date, *, doctor_id: int | None = None, indication_code: str | None = None) -> None:
    """Replace the month's sums (or one doctor's and indication's slice of them) from the daily figures."""
    daily, monthly = DailyFigure.__table__, MonthlyFigure.__table__
    first = month_start(day)
    stale: list[sa.ColumnElement[bool]] = [monthly.c.month == first]
    wanted: list[sa.ColumnElement[bool]] = [daily.c.day.between(first, _month_end(day))]
    if doctor_id is not None:
        stale.append(monthly.c.doctor_id == doctor_id)
        wanted.append(daily.c.doctor_id == doctor_id)
    if indication_code is not None:
        stale.append(monthly.c.indication_code == indication_code)
        wanted.append(daily.c.indication_code == indication_code)
    keys = (daily.c.scope, daily.c.dimension, daily.c.item, daily.c.indication_code, daily.c.doctor_id)
    db.session.execute(sa.delete(monthly).where(*stale))
    db.session.execute(sa.insert(monthly).from_select(
        ("month", "scope", "dimension", "item", "indication_code", "doctor_id", *SUMMED),
        sa.select(sa.literal(first, sa.Date), *keys, *[sa.func.sum(daily.c[name]) for name in SUMMED])
        .where(*wanted).group_by(*keys)))


def sum_any_doctor(day: date) -> None:
    """The day's "any doctor, any indication" rows, from its slices."""
    daily = DailyFigure.__table__
    keys = (daily.c.scope, daily.c.dimension, daily.c.item)
    db.session.execute(sa.delete(daily).where(daily.c.day == day, daily.c.doctor_id == ANY_DOCTOR))
    db.session.execute(sa.insert(daily).from_select(
        ("day", "scope", "dimension", "item", "indication_code", "doctor_id", *SUMMED),
        sa.select(sa.literal(day, sa.Date), *keys, sa.literal(ANY_INDICATION, sa.String),
                  sa.literal(ANY_DOCTOR, sa.Integer), *[sa.func.sum(daily.c[name]) for name in SUMMED])
        .where(daily.c.day == day, daily.c.doctor_id != ANY_DOCTOR).group_by(*keys)))


def _lock_day(day: date) -> None:
    """Two changes on the same clinic day would each replace its figures from a view without the other's:
    a transaction-scoped advisory lock serialises them on PostgreSQL (SQLite writes one at a time)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(16, day.toordinal())))


def refresh_day(day: date, *, doctor_id: int | None = None, indication_code: str | None = None,
                with_month: bool = True) -> None:
    """Replace one clinic day's figures (or one doctor's and indication's slice of it) by a fresh
    computation from the records, then the day's sums for any doctor and indication, then the month's
    sums, in the caller's transaction."""
    _lock_day(day)
    table = DailyFigure.__table__
    stale = [table.c.day == day]
    if doctor_id is not None:
        stale.append(table.c.doctor_id == doctor_id)
    if indication_code is not None:
        stale.append(table.c.indication_code == indication_code)
    db.session.execute(sa.delete(table).where(*stale))
    db.session.execute(sa.insert(table).from_select(
        FIGURE_COLUMNS, figures_select(day, doctor_id=doctor_id, indication_code=indication_code)))
    sum_any_doctor(day)
    if with_month:
        refresh_month(day, doctor_id=doctor_id, indication_code=indication_code)
        if doctor_id is not None:
            # From the daily "any" rows (measured faster than summing the month's slices).
            refresh_month(day, doctor_id=ANY_DOCTOR, indication_code=ANY_INDICATION)


Delta = dict[tuple[str, str, str], list[int]]


def _add(table: sa.Table, fixed: dict[str, object], delta: Delta) -> None:
    """Add ``delta`` to the rows of ``table`` under ``fixed`` (their period, doctor and indication):
    an upsert per changed row, then rows left with no session go."""
    if not delta:
        return
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    keys = [column.name for column in table.primary_key.columns]
    upsert = insert.on_conflict_do_update(
        index_elements=keys, set_={name: table.c[name] + insert.excluded[name] for name in SUMMED})
    # An executemany of one compiled statement (psycopg pipelines it): one INSERT with every row in its
    # VALUES was compiled anew each time, which cost more than the rows.
    db.session.execute(upsert, [
        {**fixed, "scope": scope, "dimension": dimension, "item": item, **dict(zip(SUMMED, change, strict=True))}
        for (scope, dimension, item), change in delta.items()])
    db.session.execute(sa.delete(table).where(*[table.c[name] == value for name, value in fixed.items()],
                                              table.c.sessions == 0))


def _difference(new: Sequence[Mapping[Any, Any]], old: Sequence[Mapping[Any, Any]]) -> Delta:
    delta: Delta = {}
    for rows, sign in ((new, 1), (old, -1)):
        for row in rows:
            change = delta.setdefault((row["scope"], row["dimension"], row["item"]), [0] * len(SUMMED))
            for i, name in enumerate(SUMMED):
                change[i] += sign * int(row[name])
    return {key: change for key, change in delta.items() if any(change)}


def _add_around(day: date, doctor_id: int, indication_code: str, delta: Delta) -> None:
    """A slice's change added to the day's "any" rows and to the month's slice and "any" rows."""
    month = month_start(day)
    _add(DailyFigure.__table__, {"day": day, "doctor_id": ANY_DOCTOR, "indication_code": ANY_INDICATION}, delta)
    _add(MonthlyFigure.__table__, {"month": month, "doctor_id": doctor_id, "indication_code": indication_code}, delta)
    _add(MonthlyFigure.__table__, {"month": month, "doctor_id": ANY_DOCTOR, "indication_code": ANY_INDICATION},
         delta)


def refresh_slice(day: date, doctor_id: int, indication_code: str) -> None:
    """Replace one doctor's and indication's slice of a clinic day by a fresh computation from the
    records, and add the difference to the day's "any" rows and to the month's slice and "any" rows
    (a few hundred small rows at most, where summing a whole day or month again cost a chain ~300 ms)."""
    _lock_day(day)
    daily = DailyFigure.__table__
    in_slice = [daily.c.day == day, daily.c.doctor_id == doctor_id, daily.c.indication_code == indication_code]
    old = db.session.execute(sa.select(daily).where(*in_slice)).mappings().all()
    new = [dict(row) for row in db.session.execute(
        figures_select(day, doctor_id=doctor_id, indication_code=indication_code)).mappings()]
    delta = _difference(new, old)
    db.session.execute(sa.delete(daily).where(*in_slice))
    if new:
        db.session.execute(sa.insert(daily), new)
    _add_around(day, doctor_id, indication_code, delta)


def refresh_session(session: TreatmentSession) -> None:
    """The slice a session counts in, after it was amended or voided, or one of its side effects changed
    (a session's day, doctor and indication are never amended, so its slice never moves)."""
    db.session.flush()
    refresh_slice(clinic_day(session.performed_at), session.doctor_id, session.course.indication_code)


def add_session_share(session: TreatmentSession, *, new_side_effect: int | None = None) -> None:
    """What one change adds to its slice, computed from that session alone: a slice's rows are its sessions'
    shares summed, so a session just signed adds its share (it counted for nothing before), and a side
    effect just recorded adds its session's share with it less the share without it. Recomputing the whole
    slice instead cost as much as the doctor's sessions that day (80-130 ms for 300-400 on the benchmark
    database, at each signature and each side effect). Corrections (amendments, voids, a side effect's
    new version) still recompute the slice: they are rarer, and it puts right whatever they touch."""
    db.session.flush()
    day = clinic_day(session.performed_at)
    doctor_id, indication_code = session.doctor_id, session.course.indication_code
    _lock_day(day)
    # Prepared server-side (PostgreSQL): planning the statement's CTEs cost more than running it for one session.
    now = db.session.execute(figures_select(day, session_id=session.id), execution_options=PREPARED).mappings().all()
    before = [] if new_side_effect is None else db.session.execute(
        figures_select(day, session_id=session.id, without_side_effect=new_side_effect),
        execution_options=PREPARED).mappings().all()
    delta = _difference(now, before)
    _add(DailyFigure.__table__, {"day": day, "doctor_id": doctor_id, "indication_code": indication_code}, delta)
    _add_around(day, doctor_id, indication_code, delta)


def rebuild(first: date | None = None, last: date | None = None) -> int:
    """Every day's figures from the records, from ``first`` to ``last`` (default: every day with a
    session). Returns the number of days computed."""
    performed = TreatmentSession.__table__.c.performed_at
    earliest, latest = db.session.execute(sa.select(sa.func.min(performed), sa.func.max(performed))).one()
    if earliest is None:
        db.session.execute(sa.delete(DailyFigure.__table__))
        return 0
    first = first or clinic_day(earliest)
    last = last or clinic_day(latest)
    if first == clinic_day(earliest) and last == clinic_day(latest):
        db.session.execute(sa.delete(DailyFigure.__table__))
        db.session.execute(sa.delete(MonthlyFigure.__table__))
    day, days = first, 0
    while day <= last:
        refresh_day(day, with_month=False)
        if day == last or (day + timedelta(days=1)).day == 1:
            refresh_month(day)
        day += timedelta(days=1)
        days += 1
    if first.day != 1:
        refresh_month(first)  # the days of its month before ``first`` were kept: sum them too
    return days
