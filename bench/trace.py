"""Trace timings on a populated database: the raw SQL and the whole page, side by side (not a test).

    python -m bench.trace --database postgresql+psycopg://postgres@127.0.0.1:5432/clinic_bench

Picks the lots with the most injection rows (or, with --rows N, the lots
nearest N rows), runs the page's statement (rows and totals) raw through the DB-API cursor, then GETs the trace page as a
signed-in auditor in the same process, and prints p50/p95 of each, the ratio,
and the first ("cold": new connection, plan not cached) run of each.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time

import sqlalchemy as sa

from bench.patient_search import _config
from clinic import create_app
from clinic.auth.models import User
from clinic.auth.services import create_user
from clinic.extensions import db
from clinic.inventory.models import Lot
from clinic.records.treatments.models import InjectionLog, PreparationComponent
from clinic.tracing.services import ORDERS, page_statement

PASSWORD = "bench auditor passphrase 2026"


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _raw_sql(lot_id: int) -> str:
    statement = page_statement([lot_id], ORDERS["date"])
    return str(statement.compile(db.engine, compile_kwargs={"literal_binds": True}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="sqlite:////tmp/clinic-bench.sqlite")
    parser.add_argument("--lots", type=int, default=5, help="how many lots to trace")
    parser.add_argument("--rows", type=int, default=None,
                        help="trace the lots with about this many rows (default: the busiest lots)")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    config = _config(args.database)
    config.WTF_CSRF_ENABLED = False
    app = create_app(config)
    with app.app_context():
        per_lot = (
            sa.select(PreparationComponent.lot_id, sa.func.count(InjectionLog.id).label("rows"))
            .join(InjectionLog, InjectionLog.preparation_id == PreparationComponent.preparation_id)
            .group_by(PreparationComponent.lot_id)
        )
        rows = sa.func.count(InjectionLog.id)
        order = rows.desc() if args.rows is None else sa.func.abs(rows - args.rows)
        busiest = db.session.execute(per_lot.order_by(order).limit(args.lots)).all()
        if db.session.scalar(sa.select(User).where(User.email == "bench.auditor@example.test")) is None:
            create_user("bench.auditor@example.test", "Bench Auditor", "auditor", PASSWORD)
            db.session.commit()
        lots = {lot.id: lot.lot_number for lot in db.session.scalars(sa.select(Lot).where(
            Lot.id.in_([lot_id for lot_id, _ in busiest])))}
        total = db.session.scalar(sa.select(sa.func.count()).select_from(InjectionLog))
        db.engine.dispose()
    gc.freeze()  # as wsgi.py does for every worker
    client = app.test_client()
    client.post("/login", data={"email": "bench.auditor@example.test", "password": PASSWORD})
    print(f"{args.database.split(':')[0]}, {total:,} injection rows; {args.repeat} warm runs per lot (ms)")
    print(f"{'lot':<12} {'rows':>6} {'sql cold':>9} {'sql p50':>8} {'sql p95':>8} "
          f"{'page cold':>10} {'page p50':>9} {'page p95':>9} {'ratio':>6}")
    for lot_id, rows in busiest:
        with app.app_context():
            sql = _raw_sql(lot_id)
            db.engine.dispose()
            timings = []
            for attempt in range(args.repeat + 1):
                connection = db.engine.raw_connection()
                try:
                    cursor = connection.cursor()
                    started = time.perf_counter()
                    cursor.execute(sql)
                    cursor.fetchall()
                    timings.append((time.perf_counter() - started) * 1000)
                    cursor.close()
                finally:
                    connection.close()
            sql_cold, sql_warm = timings[0], timings[1:]
        page_times = []
        for _ in range(args.repeat + 1):
            started = time.perf_counter()
            response = client.get(f"/trace?lot={lots[lot_id]}")
            response.get_data()
            page_times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
        page_cold, page_warm = page_times[0], page_times[1:]
        ratio = _p95(page_warm) / _p95(sql_warm)
        print(f"{lots[lot_id]:<12} {rows:>6} {sql_cold:9.1f} {statistics.median(sql_warm):8.1f} {_p95(sql_warm):8.1f} "
              f"{page_cold:10.1f} {statistics.median(page_warm):9.1f} {_p95(page_warm):9.1f} {ratio:6.1f}")


if __name__ == "__main__":
    main()
