"""Report timings on a populated database (`python -m bench.populate` first), not a test.

    python -m bench.reports --database postgresql+psycopg://postgres@127.0.0.1:5432/clinic_bench

For the last 30 days, the last quarter, the last year and every record: p50/p95 of each report's
queries (side-effect rates, sessions by month, courses, follow-ups, the lot safety signal) and of the
whole reports page as a signed-in auditor; then the same rates per product computed from the raw tables
(sessions, injection rows, lots and side effects) for the same range, timed, and checked equal to the
rollup's. Last, whether the populated bad lot is flagged.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from datetime import date, timedelta

import sqlalchemy as sa

from bench.patient_search import _config
from clinic import create_app
from clinic.auth.models import User
from clinic.auth.services import create_user
from clinic.extensions import db
from clinic.inventory.models import Lot
from clinic.records.followups.models import SideEffect, SideEffectArea
from clinic.records.treatments.models import InjectionLog, PreparationComponent, SessionSignature, TreatmentSession
from clinic.reports import queries
from clinic.reports.figures import day_bounds
from clinic.reports.models import DailyFigure
from clinic.reports.queries import ReportFilter

PASSWORD = "bench auditor passphrase 2026"
RANGES = {"30 days": ("30", 30), "quarter": ("quarter", 91), "year": ("year", 365), "all": ("all", None)}


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _timed(run: Callable[[], object], repeat: int) -> tuple[list[float], object]:
    timings, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        timings.append((time.perf_counter() - started) * 1000)
    return timings, result


def raw_rates_by_product(start: date, end: date) -> dict[str, tuple[int, int]]:
    """Sessions and sessions with a side effect per product, straight from the raw tables (the same rules as
    the rollup: signed, not voided; side effects not voided, on the areas they name, else every area)."""
    first, _ = day_bounds(start)
    _, last = day_bounds(end)
    session, injection, component = TreatmentSession.__table__, InjectionLog.__table__, PreparationComponent.__table__
    effect, link = SideEffect.__table__, SideEffectArea.__table__
    concerned = sa.exists().where(
        effect.c.session_id == session.c.id, effect.c.voided_at.is_(None),
        sa.or_(sa.exists().where(link.c.side_effect_id == effect.c.id, link.c.injection_id == injection.c.id),
               ~sa.exists().where(link.c.side_effect_id == effect.c.id)))
    rows = db.session.execute(
        sa.select(Lot.product_id, sa.func.count(sa.distinct(session.c.id)),
                  sa.func.count(sa.distinct(sa.case((concerned, session.c.id)))))
        .select_from(session)
        .join(SessionSignature.__table__, SessionSignature.__table__.c.session_id == session.c.id)
        .join(injection, injection.c.session_id == session.c.id)
        .join(component, component.c.preparation_id == injection.c.preparation_id)
        .join(Lot, Lot.id == component.c.lot_id)
        .where(session.c.voided_at.is_(None), injection.c.administered, session.c.performed_at >= first,
               session.c.performed_at < last)
        .group_by(Lot.product_id)).all()
    return {str(product): (int(sessions), int(affected)) for product, sessions, affected in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="sqlite:////tmp/clinic-bench.sqlite")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--raw-repeat", type=int, default=3)
    args = parser.parse_args()
    config = _config(args.database)
    config.WTF_CSRF_ENABLED = False
    app = create_app(config)
    today = date.today()
    with app.app_context():
        if db.session.scalar(sa.select(User).where(User.email == "bench.auditor@example.test")) is None:
            create_user("bench.auditor@example.test", "Bench Auditor", "auditor", PASSWORD)
            db.session.commit()
        figures = db.session.scalar(sa.select(sa.func.count()).select_from(DailyFigure))
        injections = db.session.scalar(sa.select(sa.func.count()).select_from(InjectionLog))
        first_day = db.session.scalar(sa.select(sa.func.min(DailyFigure.day))) or today
        lots = db.session.scalar(sa.select(sa.func.count()).select_from(Lot).where(Lot.lot_number.like("BL%")))
        db.engine.dispose()
    gc.freeze()  # as wsgi.py does for every worker
    client = app.test_client()
    client.post("/login", data={"email": "bench.auditor@example.test", "password": PASSWORD})
    print(f"{args.database.split(':')[0]}, {injections:,} injection rows, {figures:,} daily figure rows; "
          f"{args.repeat} warm runs (ms)")
    print(f"{'range':<8} {'report':<16} {'p50':>8} {'p95':>8}")
    for name, (preset, days) in RANGES.items():
        report = ReportFilter(today - timedelta(days=days - 1) if days else first_day, today)
        with app.app_context():
            for label, run in (
                    ("rates", lambda r=report: queries.side_effect_rates(r)),
                    ("by month", lambda r=report: queries.sessions_by_month(r)),
                    ("courses", lambda r=report: queries.course_summary(r, today)),
                    ("follow-ups", lambda r=report: queries.follow_up_summary(r, today)),
                    ("lot signal", lambda r=report: queries.lot_safety_signal(r.start, r.end))):
                run()  # cold
                timings, _ = _timed(run, args.repeat)
                print(f"{name:<8} {label:<16} {statistics.median(timings):8.1f} {_p95(timings):8.1f}")
            db.engine.dispose()

        def page(p: str = preset) -> object:
            response = client.get(f"/reports?period={p}")
            response.get_data()
            assert response.status_code == 200, response.status_code
            return response

        page()
        timings, _ = _timed(page, args.repeat)
        print(f"{name:<8} {'whole page':<16} {statistics.median(timings):8.1f} {_p95(timings):8.1f}")
    print(f"\nthe same rates per product from the raw tables ({args.raw_repeat} runs, ms), checked against the rollup")
    for name, (_, days) in RANGES.items():
        report = ReportFilter(today - timedelta(days=days - 1) if days else first_day, today)
        with app.app_context():
            timings, raw = _timed(lambda r=report: raw_rates_by_product(r.start, r.end), args.raw_repeat)
            rolled = {row.item: (row.sessions, row.with_side_effect)
                      for row in queries.side_effect_rates(report)[1]["product"]}
            same = "equal" if raw == rolled else f"DIFFERENT ({len(raw)} vs {len(rolled)} products)"
            print(f"{name:<8} raw p50 {statistics.median(timings):9.1f}  max {max(timings):9.1f}  {same}")
            db.engine.dispose()
    with app.app_context():
        found = queries.lot_safety_signal(first_day, today)
        flagged = [f"{f.lot.lot_number} ({f.signal.rate.per_100:.1f} vs {f.signal.sibling_rate.per_100:.1f} per 100, "
                   f"q={f.signal.q_value:.2g})" for f in found if f.signal.flagged]
        print(f"\n{len(found)} of {lots} lots tested over every record; flagged: {', '.join(flagged) or 'none'}")


if __name__ == "__main__":
    main()
