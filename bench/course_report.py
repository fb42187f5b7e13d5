"""Course report timings on a populated database: the page against the same data fetched raw (not a test).

    python -m bench.populate --patients 100000 --injections 10000000 \\
        --database postgresql+psycopg://postgres@127.0.0.1:5432/clinic_bench
    python -m bench.course_report --database postgresql+psycopg://postgres@127.0.0.1:5432/clinic_bench

Picks the courses with about ``--sessions`` live sessions (12 by default), gives each a baseline and a
per-session measure the first time (through the services, so the report has charts to draw), then:

* raw: every SELECT the report page sends, captured once and replayed through the DB-API cursor with its
  own parameters (the same data, without the ORM, the charts or the template);
* page: GET the report as a signed-in doctor in the same process (its audit row included).

Prints p50/p95 of each, the ratio of the p95s, and the first ("cold") run. Target: page ≤ 2.5× raw and a
p95 ≤ 60 ms for a 12-session course on PostgreSQL with 10M injection rows.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from datetime import date
from typing import Any

import sqlalchemy as sa

from bench.patient_search import _config
from clinic import create_app
from clinic.auth.models import User
from clinic.auth.services import create_user
from clinic.extensions import db
from clinic.records.outcomes import services as outcomes
from clinic.records.outcomes.models import OutcomeMeasure
from clinic.records.treatments.models import Course, TreatmentSession

PASSWORD = "bench doctor passphrase 2026"
EMAIL = "bench.doctor@example.test"


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _courses(sessions: int, count: int) -> list[tuple[int, int]]:
    live = (sa.select(TreatmentSession.course_id, sa.func.count().label("n"))
            .where(TreatmentSession.voided_at.is_(None)).group_by(TreatmentSession.course_id).subquery())
    return [tuple(row) for row in db.session.execute(
        sa.select(live.c.course_id, live.c.n).order_by(sa.func.abs(live.c.n - sessions), live.c.course_id)
        .limit(count)).all()]


def _give_measures(course: Course, doctor: User) -> None:
    """A baseline satisfaction and one per session, once: the report then charts a measure across the course."""
    if db.session.scalar(sa.select(sa.func.count()).where(OutcomeMeasure.course_id == course.id)):
        return
    today = date.today()
    sessions = [s for s in course.sessions if not s.is_voided]
    first_day = min([course.starts_on, *[s.performed_at.date() for s in sessions]])
    course.starts_on = first_day
    outcomes.record_measures(course, doctor, outcomes.MeasuresInput(
        "baseline", first_day, values=[outcomes.MeasureValueInput("satisfaction", "4")]), today=today)
    for i, session in enumerate(sessions):
        outcomes.record_measures(course, doctor, outcomes.MeasuresInput(
            "session", session.performed_at.date(), session_id=session.id,
            values=[outcomes.MeasureValueInput("satisfaction", str(min(10, 4 + i // 2)))]), today=today)


def _captured_selects(app: Any, client: Any, url: str) -> list[tuple[str, Any]]:
    """The SELECTs one GET of the page sends, with their parameters, in the driver's own form."""
    captured: list[tuple[str, Any]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            captured.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get(url).status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return captured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="sqlite:////tmp/clinic-bench.sqlite")
    parser.add_argument("--sessions", type=int, default=12, help="pick courses with about this many sessions")
    parser.add_argument("--courses", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    config = _config(args.database)
    config.WTF_CSRF_ENABLED = False
    app = create_app(config)
    with app.app_context():
        doctor = db.session.scalar(sa.select(User).where(User.email == EMAIL))
        if doctor is None:
            doctor = create_user(EMAIL, "Bench Doctor", "doctor", PASSWORD)
        picked = _courses(args.sessions, args.courses)
        for course_id, _ in picked:
            _give_measures(db.session.get(Course, course_id), doctor)
        db.session.commit()
        total = db.session.scalar(sa.text("SELECT count(*) FROM injection_log"))
        db.engine.dispose()
    gc.freeze()  # as wsgi.py does for every worker
    client = app.test_client()
    client.post("/login", data={"email": EMAIL, "password": PASSWORD})
    print(f"{args.database.split(':')[0]}, {total:,} injection rows; {args.repeat} warm runs per course (ms)")
    print(f"{'course':>8} {'sessions':>8} {'queries':>8} {'raw cold':>9} {'raw p50':>8} {'raw p95':>8} "
          f"{'page cold':>10} {'page p50':>9} {'page p95':>9} {'ratio':>6}")
    for course_id, sessions in picked:
        url = f"/courses/{course_id}/report"
        selects = _captured_selects(app, client, url)
        with app.app_context():
            db.engine.dispose()
            raw = []
            for _ in range(args.repeat + 1):
                connection = db.engine.raw_connection()
                try:
                    cursor = connection.cursor()
                    started = time.perf_counter()
                    for statement, parameters in selects:
                        cursor.execute(statement, parameters)
                        cursor.fetchall()
                    raw.append((time.perf_counter() - started) * 1000)
                    cursor.close()
                    connection.rollback()
                finally:
                    connection.close()
            db.engine.dispose()
        page = []
        for _ in range(args.repeat + 1):
            started = time.perf_counter()
            response = client.get(url)
            response.get_data()
            page.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
        raw_warm, page_warm = raw[1:], page[1:]
        print(f"{course_id:>8} {sessions:>8} {len(selects):>8} {raw[0]:9.1f} {statistics.median(raw_warm):8.1f} "
              f"{_p95(raw_warm):8.1f} {page[0]:10.1f} {statistics.median(page_warm):9.1f} {_p95(page_warm):9.1f} "
              f"{_p95(page_warm) / _p95(raw_warm):6.1f}")


if __name__ == "__main__":
    main()
