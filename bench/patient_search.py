"""Patient search at clinic-chain size: p50/p95 of the search the patients page runs.

    python -m bench.patient_search --patients 100000                       # SQLite file under /tmp
    python -m bench.patient_search --patients 100000 \\
        --database postgresql+psycopg://postgres@127.0.0.1:5432/clinic_bench

The database is migrated and filled the first time (synthetic patients from
Faker with a fixed seed, bulk Core inserts); later runs reuse it. Each query is
run once cold, then ``--repeat`` times warm; figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import date, timedelta
from types import SimpleNamespace

import sqlalchemy as sa
from faker import Faker

from clinic import create_app
from clinic.auth.models import User
from clinic.extensions import db
from clinic.records.patients.models import Patient
from clinic.records.patients.search import search_patients, search_text_for, sort_name_for
from tests.settings import TestConfig

BATCH = 5_000


def _config(database: str) -> TestConfig:
    config = TestConfig()
    config.SQLALCHEMY_DATABASE_URI = database
    return config


def populate(count: int, seed: int = 20261122) -> None:
    """Bring the patient table up to ``count`` rows."""
    have = db.session.scalar(sa.select(sa.func.count()).select_from(Patient))
    if have >= count:
        return
    user_id = db.session.scalar(sa.select(User.id).limit(1))
    if user_id is None:
        from clinic.auth.services import create_user

        user_id = create_user("bench@example.test", "Bench Nurse", "nurse", "bench nurse passphrase 2026").id
        db.session.commit()
    fake = Faker(["en_GB", "fr_FR", "de_DE", "es_ES"])
    Faker.seed(seed + have)
    rng = random.Random(seed + have)
    table = Patient.__table__
    started = time.perf_counter()
    rows = []
    for number in range(have + 1, count + 1):
        first, last = fake.first_name(), fake.last_name()
        phone = f"+44 20 7946 {rng.randint(0, 9999):04d}"  # Ofcom's range for fiction
        record_number = f"B{number:07d}"
        shape = SimpleNamespace(first_name=first, last_name=last, record_number=record_number, phone=phone,
                                email=f"p{number}@example.com")
        rows.append({
            "record_number": record_number, "first_name": first, "last_name": last,
            "date_of_birth": date(1950, 1, 1) + timedelta(days=rng.randint(0, 365 * 55)),
            "sex": rng.choice(["female", "female", "female", "male"]), "phone": phone,
            "email": shape.email, "address": "", "emergency_contact": "", "notes": "",
            "search_text": search_text_for(shape), "sort_name": sort_name_for(shape),
            "registered_by_id": user_id, "version": 1,
        })
        if len(rows) == BATCH:
            db.session.execute(sa.insert(table), rows)
            db.session.commit()
            rows = []
    if rows:
        db.session.execute(sa.insert(table), rows)
        db.session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as conn:
            conn.execute(sa.text("ANALYZE patient"))
            conn.commit()
    print(f"inserted {count - have:,} patients in {time.perf_counter() - started:.1f} s")


def _timed(query: str, cursor: str | None, repeat: int) -> tuple[float, float, float, int]:
    db.session.remove()
    started = time.perf_counter()
    page = search_patients(query, cursor=cursor)
    cold = (time.perf_counter() - started) * 1000
    times = []
    for _ in range(repeat):
        db.session.remove()
        started = time.perf_counter()
        search_patients(query, cursor=cursor)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    return cold, statistics.median(times), p95, len(page.patients)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--database", default="sqlite:////tmp/clinic-bench-patients.sqlite")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    app = create_app(_config(args.database))
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        populate(args.patients)
        total = db.session.scalar(sa.select(sa.func.count()).select_from(Patient))
        sample = db.session.execute(sa.select(Patient).order_by(Patient.id).offset(total // 2).limit(1)).scalar_one()
        second_page = search_patients(sample.last_name[:3]).next_cursor
        queries = [
            ("whole last name", sample.last_name, None),
            ("first 3 letters of a last name", sample.last_name[:3], None),
            ("same, second page (keyset)", sample.last_name[:3], second_page),
            ("first and last name, no accents", f"{sample.first_name} {sample.last_name}".encode("ascii", "ignore")
             .decode(), None),
            ("record number", sample.record_number, None),
            ("date of birth", sample.date_of_birth.strftime("%d/%m/%Y"), None),
            ("phone, national form", "020 7946 " + sample.phone[-4:], None),
            ("no match", "qxzqxz", None),
        ]
        print(f"{db.engine.dialect.name}, {total:,} patients, {args.repeat} warm runs per query (ms)")
        print(f"{'query':<40} {'cold':>8} {'p50':>8} {'p95':>8} {'rows':>6}")
        for label, query, cursor in queries:
            cold, p50, p95, rows = _timed(query, cursor, args.repeat)
            print(f"{label:<40} {cold:8.1f} {p50:8.1f} {p95:8.1f} {rows:6d}")


if __name__ == "__main__":
    main()
