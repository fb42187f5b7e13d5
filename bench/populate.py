"""A synthetic clinic chain of a given size, for the trace benchmark (not a test).

    python -m bench.populate --patients 100000 --injections 10000000 \\
        --database postgresql+psycopg://postgres@127.0.0.1:5432/clinic_bench

Bulk loads with a fixed seed (COPY on PostgreSQL, Core inserts on SQLite): patients, one course each, sessions of
about four injection rows, one preparation per session (a third of them
cocktails of two lots). Each lot is used over a few weeks; one lot in twenty
is scattered over the whole period. The database is migrated first and must
hold no sessions yet. Side effects are not generated: the follow-ups issue
has not built them.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import sqlalchemy as sa

from bench.patient_search import _config, populate as populate_patients
from clinic import create_app
from clinic.auth.models import User
from clinic.extensions import db
from clinic.inventory.models import Lot, LotReceipt, Product, StorageLocation
from clinic.records.patients.models import Patient
from clinic.records.treatments.models import (
    Course,
    CourseArea,
    InjectionLog,
    Preparation,
    PreparationComponent,
    TreatmentSession,
)

BATCH = 20_000
AREAS = ("cheeks", "forehead", "chin", "perioral", "temples", "under_eye", "neck", "decolletage", "scalp")
DAYS = 730


def _insert(table: sa.Table, rows: list[dict]) -> None:
    """Core executemany on SQLite; COPY on PostgreSQL, about ten times faster than INSERTs there."""
    if not rows:
        return
    if db.engine.dialect.name != "postgresql":
        db.session.execute(sa.insert(table), rows)
        return
    names = list(rows[0])
    defaults = {}  # what the models fill in Python for the columns a row leaves out
    for column in table.columns:
        if column.name in names or column.server_default is not None or column.default is None:
            continue
        defaults[column.name] = column.default.arg(None) if column.default.is_callable else column.default.arg
    quote = db.engine.dialect.identifier_preparer
    columns = ", ".join(quote.quote(name) for name in [*names, *defaults])
    tail = tuple(defaults.values())
    connection = db.session.connection()
    # The rows are consistent by construction: skip the per-row foreign-key triggers for this transaction.
    connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
    with connection.connection.driver_connection.cursor() as cursor:
        with cursor.copy(f"COPY {quote.format_table(table)} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((*(row[name] for name in names), *tail))


def _catalogue(rng: random.Random, lots_wanted: int, doctor_id: int) -> list[int]:
    location = StorageLocation(name="Bench fridge", kind="fridge")
    db.session.add(location)
    products = []
    for index in range(40):
        product = Product(name=f"Bench product {index:02d}", manufacturer="Bench Labs", kind="other", unit="vial",
                          volume_ml=Decimal("5"), gtin=None, storage_conditions="")
        db.session.add(product)
        products.append(product)
    db.session.flush()
    start = date.today() - timedelta(days=DAYS)
    lot_rows = [{"product_id": products[i % len(products)].id, "lot_number": f"BL{i:07d}",
                 "expiry_date": start + timedelta(days=DAYS + 400), "version": 1} for i in range(lots_wanted)]
    _insert(Lot.__table__, lot_rows)
    lot_ids = list(db.session.scalars(sa.select(Lot.id).where(Lot.lot_number.like("BL%")).order_by(Lot.id)))
    _insert(LotReceipt.__table__, [
        {"lot_id": lot_id, "quantity": 1_000_000, "supplier": "Bench", "received_on": start,
         "storage_location_id": location.id, "received_by_id": doctor_id}
        for lot_id in lot_ids])
    db.session.commit()
    return lot_ids


def populate(patients: int, injections: int, seed: int = 20261122) -> None:
    started = time.perf_counter()
    populate_patients(patients, seed)
    doctor_id = db.session.scalar(sa.select(User.id).order_by(User.id).limit(1))
    if db.session.scalar(sa.select(sa.func.count()).select_from(TreatmentSession)):
        print("sessions already exist; nothing added")
        return
    rng = random.Random(seed)
    sessions_wanted = max(1, injections // 4)
    lot_ids = _catalogue(rng, max(10, injections // 2_000), doctor_id)
    patient_ids = list(db.session.scalars(sa.select(Patient.id).order_by(Patient.id)))
    start = datetime.now(timezone.utc) - timedelta(days=DAYS)
    _insert(Course.__table__, [
        {"patient_id": pid, "indication_code": "skin_rejuvenation", "planned_sessions": 50,
         "interval_days": 1, "goals": "", "baseline_notes": "", "status": "active", "created_by_id": doctor_id,
         "starts_on": start.date(), "version": 1} for pid in patient_ids])
    db.session.commit()
    course_of = dict(db.session.execute(sa.select(Course.patient_id, Course.id)).all())
    _insert(CourseArea.__table__, [{"course_id": course_id, "area_code": code}
                                   for course_id in course_of.values() for code in ("cheeks", "forehead")])
    db.session.commit()
    # Sessions in time order; lot k is in use around day k * DAYS / lots (a few weeks), some lots scattered.
    session_table, prep_table = TreatmentSession.__table__, Preparation.__table__
    component_table, injection_table = PreparationComponent.__table__, InjectionLog.__table__
    next_session = (db.session.scalar(sa.select(sa.func.max(TreatmentSession.id))) or 0) + 1
    next_prep = (db.session.scalar(sa.select(sa.func.max(Preparation.id))) or 0) + 1
    numbers: dict[int, int] = {}
    scattered = lot_ids[::20]
    made_injections = 0
    sessions, preps, components, rows = [], [], [], []

    def flush() -> None:
        _insert(session_table, sessions)
        _insert(prep_table, preps)
        _insert(component_table, components)
        _insert(injection_table, rows)
        db.session.commit()
        sessions.clear(), preps.clear(), components.clear(), rows.clear()

    for index in range(sessions_wanted):
        position = index / sessions_wanted
        at = start + timedelta(days=position * DAYS, minutes=rng.randint(0, 600))
        course_id = course_of[rng.choice(patient_ids)]
        numbers[course_id] = numbers.get(course_id, 0) + 1
        session_id, prep_id = next_session, next_prep
        next_session += 1
        next_prep += 1
        sessions.append({"id": session_id, "course_id": course_id, "number": numbers[course_id], "performed_at": at,
                         "doctor_id": doctor_id, "skin_preparation": "chlorhexidine", "technique": "nappage",
                         "needle_gauge": 32, "needle_length_mm": Decimal("4"), "notes": "", "acknowledged_warnings": "",
                         "version": 1, "locked_at": at, "created_at": at})
        preps.append({"id": prep_id, "session_id": session_id, "label": "Bench"})
        main_lot = rng.choice(scattered) if rng.random() < 0.05 else lot_ids[min(len(lot_ids) - 1,
                                                                                   int(position * len(lot_ids)))]
        components.append({"preparation_id": prep_id, "lot_id": main_lot, "units": 1, "volume_ml": Decimal("3")})
        if rng.random() < 0.33:
            components.append({"preparation_id": prep_id, "lot_id": rng.choice(lot_ids), "units": 1,
                               "volume_ml": Decimal("2")})
        for area in rng.sample(AREAS, rng.randint(3, 5)):
            if made_injections >= injections:
                break
            rows.append({"session_id": session_id, "area_code": area, "preparation_id": prep_id,
                         "technique": "nappage", "depth_mm": Decimal("1.5"), "volume_ml": Decimal("0.8"),
                         "points": 20, "administered": True})
            made_injections += 1
        if len(rows) >= BATCH:
            flush()
    flush()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as conn:
            for table in (session_table, prep_table):  # ids were given: move the sequences past them
                conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                     f"(SELECT max(id) FROM {table.name}))"))
            conn.commit()
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("VACUUM ANALYZE"))
    print(f"{len(patient_ids):,} patients, {sessions_wanted:,} sessions, {made_injections:,} injection rows, "
          f"{len(lot_ids):,} lots in {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--injections", type=int, default=10_000_000)
    parser.add_argument("--database", default="sqlite:////tmp/clinic-bench.sqlite")
    args = parser.parse_args()
    app = create_app(_config(args.database))
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        populate(args.patients, args.injections)


if __name__ == "__main__":
    main()
