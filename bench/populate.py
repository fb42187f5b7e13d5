"""A synthetic clinic chain of a given size, for the trace benchmark (not a test).

    python -m bench.populate --patients 100000 --injections 10000000 \\
        --database postgresql+psycopg://postgres@127.0.0.1:5432/clinic_bench

Bulk loads with a fixed seed (COPY on PostgreSQL, Core inserts on SQLite): patients, one course each, sessions of
about four injection rows, one preparation per session (a third of them
cocktails of two lots). Each lot is used over a few weeks; one lot in twenty
is scattered over the whole period. Sessions are signed, by one of eight doctors,
for one of five indications, with the four techniques and a spread of depths.
Side effects follow about 4 % of sessions (grades 1–4 about 75/20/4/1 %, one in
fifty of them serious), on one of the session's areas; one lot in the middle of
the period is a bad batch (about 20 % of its sessions bruise, grade 2). The
reports' daily figures are then rebuilt (`flask reports rebuild`) and timed.
The database is migrated first and must hold no sessions yet.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from bench.patient_search import _config
from bench.patient_search import populate as populate_patients
from clinic import create_app
from clinic.auth.models import User
from clinic.extensions import db
from clinic.inventory.models import Lot, LotReceipt, Product, StorageLocation
from clinic.inventory.services import refresh_on_hand
from clinic.records.followups.models import SideEffect, SideEffectArea
from clinic.records.patients.models import Patient
from clinic.records.treatments.models import (
    Course,
    CourseArea,
    InjectionLog,
    Preparation,
    PreparationComponent,
    SessionSignature,
    TreatmentSession,
)
from clinic.reports.figures import rebuild

BATCH = 20_000
AREAS = ("cheeks", "forehead", "chin", "perioral", "temples", "under_eye", "neck", "decolletage", "scalp")
DAYS = 730
INDICATIONS = ("skin_rejuvenation", "mesolift", "hair_loss", "cellulite", "dark_circles")
TECHNIQUES = ("nappage", "point_by_point", "papule", "injector_gun")
DEPTHS = (Decimal("0.8"), Decimal("1.5"), Decimal("2.5"), Decimal("4.5"))
SIDE_EFFECT_SHARE = 0.04
GRADES = (1,) * 75 + (2,) * 20 + (3,) * 4 + (4,)
KINDS = ("redness", "swelling", "bruising", "tenderness", "itching", "nodule")
BAD_LOT_SHARE = 0.20


def bad_lot_number(lot_ids: list[int]) -> str:
    """The lot number of the deliberately bad batch (for bench.reports, which checks that it is flagged)."""
    return f"BL{len(lot_ids) // 2:07d}"


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


def _catalogue(rng: random.Random, lots_wanted: int, doctor_id: int, days: int = DAYS) -> list[int]:
    location = StorageLocation(name="Bench fridge", kind="fridge")
    db.session.add(location)
    products = []
    # Several lots per product, so that each lot has siblings to be compared with.
    for index in range(min(40, max(2, lots_wanted // 10))):
        product = Product(name=f"Bench product {index:02d}", manufacturer="Bench Labs", kind="other", unit="vial",
                          volume_ml=Decimal("5"), gtin=None, storage_conditions="")
        db.session.add(product)
        products.append(product)
    db.session.flush()
    start = date.today() - timedelta(days=days)
    lot_rows = [{"product_id": products[i % len(products)].id, "lot_number": f"BL{i:07d}",
                 "expiry_date": start + timedelta(days=days + 400), "version": 1} for i in range(lots_wanted)]
    _insert(Lot.__table__, lot_rows)
    lot_ids = list(db.session.scalars(sa.select(Lot.id).where(Lot.lot_number.like("BL%")).order_by(Lot.id)))
    _insert(LotReceipt.__table__, [
        {"lot_id": lot_id, "quantity": 1_000_000, "supplier": "Bench", "received_on": start,
         "storage_location_id": location.id, "received_by_id": doctor_id}
        for lot_id in lot_ids])
    db.session.commit()
    return lot_ids


IN_USE_DAYS = 30
LEFT_ON_THE_SHELF = 20


def restock_as_used(today: date | None = None) -> None:
    """Deliveries as a clinic's would be: each lot received as many vials as its sessions used, plus a few
    left on the shelf for the lots still in use (used in the last month, or not yet used). Used-up lots then
    leave the session form as they would in a clinic; their units on hand are counted again."""
    since = datetime.combine((today or date.today()) - timedelta(days=IN_USE_DAYS), datetime.min.time(), UTC)
    uses = (sa.select(PreparationComponent.units).join(Preparation, Preparation.id == PreparationComponent.preparation_id)
            .join(TreatmentSession, TreatmentSession.id == Preparation.session_id)
            .where(PreparationComponent.lot_id == LotReceipt.lot_id, TreatmentSession.voided_at.is_(None)))
    used = (sa.select(sa.func.coalesce(sa.func.sum(PreparationComponent.units), 0))
            .join(Preparation, Preparation.id == PreparationComponent.preparation_id)
            .join(TreatmentSession, TreatmentSession.id == Preparation.session_id)
            .where(PreparationComponent.lot_id == LotReceipt.lot_id, TreatmentSession.voided_at.is_(None))
            .scalar_subquery())
    in_use = sa.exists(uses.where(TreatmentSession.performed_at >= since))
    started = time.perf_counter()
    with db.engine.begin() as connection:
        connection.execute(sa.update(LotReceipt.__table__).where(LotReceipt.supplier == "Bench").values(
            quantity=used + sa.case((sa.or_(in_use, used == 0), LEFT_ON_THE_SHELF), else_=0)))
        refresh_on_hand(connection, None)
        shelf = connection.scalar(sa.select(sa.func.count()).select_from(Lot).where(Lot.units_on_hand > 0))
    print(f"deliveries set to the units used; {shelf:,} lots left on the shelf ({time.perf_counter() - started:.0f} s)")


def populate(patients: int, injections: int, seed: int = 20261122, days: int = DAYS,
             reports_days: int | None = None) -> None:
    started = time.perf_counter()
    populate_patients(patients, seed)
    doctor_id = db.session.scalar(sa.select(User.id).order_by(User.id).limit(1))
    if db.session.scalar(sa.select(sa.func.count()).select_from(TreatmentSession)):
        print("sessions already exist; nothing added")
        return
    rng = random.Random(seed)
    from clinic.auth.services import create_user

    doctor_ids = [create_user(f"bench.doctor{n}@example.test", f"Bench Doctor {n}", "doctor",
                              "bench doctor passphrase 2026").id for n in range(8)]
    db.session.commit()
    sessions_wanted = max(1, injections // 4)
    lot_ids = _catalogue(rng, max(10, injections // 2_000), doctor_id, days)
    patient_ids = list(db.session.scalars(sa.select(Patient.id).order_by(Patient.id)))
    start = datetime.now(UTC) - timedelta(days=days)
    _insert(Course.__table__, [
        {"patient_id": pid, "indication_code": INDICATIONS[pid % len(INDICATIONS)], "planned_sessions": 50,
         "interval_days": 1, "goals": "", "baseline_notes": "", "status": "active", "created_by_id": doctor_id,
         "starts_on": start.date(), "version": 1} for pid in patient_ids])
    db.session.commit()
    course_of = dict(db.session.execute(sa.select(Course.patient_id, Course.id)).all())
    bad_lot = lot_ids[len(lot_ids) // 2]
    _insert(CourseArea.__table__, [{"course_id": course_id, "area_code": code}
                                   for course_id in course_of.values() for code in ("cheeks", "forehead")])
    db.session.commit()
    # Sessions in time order; lot k is in use around day k * DAYS / lots (a few weeks), some lots scattered.
    session_table, prep_table = TreatmentSession.__table__, Preparation.__table__
    component_table, injection_table = PreparationComponent.__table__, InjectionLog.__table__
    next_session = (db.session.scalar(sa.select(sa.func.max(TreatmentSession.id))) or 0) + 1
    next_prep = (db.session.scalar(sa.select(sa.func.max(Preparation.id))) or 0) + 1
    next_injection = (db.session.scalar(sa.select(sa.func.max(InjectionLog.id))) or 0) + 1
    next_side_effect = (db.session.scalar(sa.select(sa.func.max(SideEffect.id))) or 0) + 1
    signature_table, effect_table, effect_area_table = (SessionSignature.__table__, SideEffect.__table__,
                                                        SideEffectArea.__table__)
    signatures, effects, effect_areas = [], [], []
    made_effects = 0
    numbers: dict[int, int] = {}
    scattered = lot_ids[::20]
    made_injections = 0
    sessions, preps, components, rows = [], [], [], []

    def flush() -> None:
        _insert(session_table, sessions)
        _insert(prep_table, preps)
        _insert(component_table, components)
        _insert(injection_table, rows)
        _insert(signature_table, signatures)
        _insert(effect_table, effects)
        _insert(effect_area_table, effect_areas)
        db.session.commit()
        for batch in (sessions, preps, components, rows, signatures, effects, effect_areas):
            batch.clear()

    for index in range(sessions_wanted):
        position = index / sessions_wanted
        at = start + timedelta(days=position * days, minutes=rng.randint(0, 600))
        patient_id = rng.choice(patient_ids)
        course_id = course_of[patient_id]
        doctor = doctor_ids[patient_id % len(doctor_ids)]
        technique = rng.choice(TECHNIQUES)
        numbers[course_id] = numbers.get(course_id, 0) + 1
        session_id, prep_id = next_session, next_prep
        next_session += 1
        next_prep += 1
        sessions.append({"id": session_id, "course_id": course_id, "number": numbers[course_id], "performed_at": at,
                         "doctor_id": doctor, "skin_preparation": "chlorhexidine", "technique": technique,
                         "needle_gauge": rng.choice((30, 31, 32, 32)), "needle_length_mm": Decimal("4"), "notes": "", "acknowledged_warnings": "",
                         "version": 1, "locked_at": at, "created_at": at})
        signatures.append({"session_id": session_id, "signer_id": doctor, "printed_name": "Bench Doctor",
                           "signed_at": at, "meaning": "performed by", "content_sha256": "0" * 64})
        preps.append({"id": prep_id, "session_id": session_id, "label": "Bench"})
        main_lot = rng.choice(scattered) if rng.random() < 0.05 else lot_ids[min(len(lot_ids) - 1,
                                                                                   int(position * len(lot_ids)))]
        components.append({"preparation_id": prep_id, "lot_id": main_lot, "units": 1, "volume_ml": Decimal("3")})
        if rng.random() < 0.33:
            # The cocktail's second lot is another product's lot on the shelf at the time, as in a clinic.
            second = lot_ids[min(len(lot_ids) - 1, int(position * len(lot_ids)) + rng.randint(1, 20))]
            components.append({"preparation_id": prep_id, "lot_id": second, "units": 1, "volume_ml": Decimal("2")})
        injected = []
        for area in rng.sample(AREAS, rng.randint(3, 5)):
            if made_injections >= injections:
                break
            rows.append({"id": next_injection, "session_id": session_id, "area_code": area,
                         "preparation_id": prep_id, "technique": technique, "depth_mm": rng.choice(DEPTHS),
                         "volume_ml": Decimal("0.8"), "points": 20, "administered": True})
            injected.append(next_injection)
            next_injection += 1
            made_injections += 1
        bad = main_lot == bad_lot and rng.random() < BAD_LOT_SHARE
        if injected and (bad or rng.random() < SIDE_EFFECT_SHARE):
            grade = 2 if bad else rng.choice(GRADES)
            effects.append({"id": next_side_effect, "patient_id": patient_id, "session_id": session_id,
                            "source": "follow_up", "type_code": "bruising" if bad else rng.choice(KINDS),
                            "onset_at": at + timedelta(hours=6), "grade": grade,
                            "serious": grade >= 3 and rng.random() < 0.5, "action": "none", "causality": "possible",
                            "outcome": "resolved", "resolved_on": (at + timedelta(days=3)).date(),
                            "created_at": at + timedelta(days=1), "updated_at": at + timedelta(days=1),
                            "other_text": "", "action_other": "", "note": "", "callback_phone": "", "version": 1})
            effect_areas.append({"side_effect_id": next_side_effect, "injection_id": rng.choice(injected)})
            next_side_effect += 1
            made_effects += 1
        if len(rows) >= BATCH:
            flush()
    flush()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as conn:
            # ids were given: move the sequences past them
            for table in (session_table, prep_table, injection_table, effect_table):
                conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                     f"(SELECT max(id) FROM {table.name}))"))
            conn.commit()
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("VACUUM ANALYZE"))
    restock_as_used()  # after ANALYZE: its per-lot sums need the planner to know the tables
    print(f"{len(patient_ids):,} patients, {sessions_wanted:,} sessions, {made_injections:,} injection rows, "
          f"{made_effects:,} side effects, {len(lot_ids):,} lots in {time.perf_counter() - started:.0f} s; "
          f"the bad lot is {bad_lot_number(lot_ids)}")
    if reports_days == 0:
        print("report figures not rebuilt (--reports-days 0): run `flask --app wsgi reports rebuild` later")
        return
    started = time.perf_counter()
    first = None if reports_days is None else date.today() - timedelta(days=reports_days)
    days = rebuild(first=first)
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as conn:  # the figures came after the VACUUM ANALYZE above: plans need their stats
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                sa.text("VACUUM ANALYZE report_daily, report_monthly"))
    print(f"report figures rebuilt for {days} days in {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--injections", type=int, default=10_000_000)
    parser.add_argument("--database", default="sqlite:////tmp/clinic-bench.sqlite")
    parser.add_argument("--reports-days", type=int, default=None,
                        help="rebuild the reports' figures for the last N days only (0: skip the rebuild, "
                             "which takes tens of minutes at 10 million rows; default: every day)")
    parser.add_argument("--restock-only", action="store_true",
                        help="only set a populated database's deliveries to the units used (a database populated "
                             "before deliveries were)")
    args = parser.parse_args()
    app = create_app(_config(args.database))
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        if args.restock_only:
            restock_as_used()
            return
        populate(args.patients, args.injections, reports_days=args.reports_days)


if __name__ == "__main__":
    main()
