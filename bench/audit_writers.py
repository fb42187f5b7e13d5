"""Concurrent audit appends: 8 writers on one chain, entries per second, and the chain checked after (not a test).

    python -m bench.audit_writers                      # PostgreSQL, database clinic_wta_audit (made if missing)
    python -m bench.audit_writers --database postgresql+psycopg://postgres@127.0.0.1:5432/clinic_audit_bench
    python -m bench.audit_writers --database sqlite:////tmp/clinic-audit-bench.sqlite

Migrates a fresh database (its public schema is dropped and made again: give it a database of its own), then
starts ``--writers`` processes (8), each with its own app, connection and anchor file shared with the others,
all released at once. Each writer appends entries through the app's audit service as a request does: a new
app context per entry, ``record_event`` (the chain head's row lock, the row, its HMAC), then its own commit,
which also appends the head to the anchor file. An entry counts as acknowledged once its commit returned.
Afterwards it prints entries/s and verifies the whole trail (``verify_chain``: every HMAC and link, gapless
sequence, against the newest anchor), then checks that each acknowledged entry is stored exactly once and
nothing else was added. Target (issue 17, SECURITY.md T3): the chain intact, at 200 entries/s or more. Exits
non-zero on any failure.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/clinic_wta_audit"
ACTION = "bench_audit_append"
TARGET_PER_SECOND = 200


def _config(database: str, anchor_file: str) -> Any:
    from bench.patient_search import _config as bench_config

    config = bench_config(database)
    config.AUDIT_ANCHOR_FILE = anchor_file
    return config


def _fresh_database(database: str, audit_key: str) -> None:
    """An empty, migrated database: the PostgreSQL one is created if missing, its schema made anew."""
    url = sa.engine.make_url(database)
    if url.get_backend_name() == "sqlite":
        Path(url.database or "").unlink(missing_ok=True)
    else:
        admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            if not connection.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                     {"name": url.database}):
                connection.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
        admin.dispose()
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            connection.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
    environment = {**os.environ, "DATABASE_URL": database, "AUDIT_HMAC_KEY": audit_key,
                   "SECRET_KEY": "bench-secret-key-not-for-production", "CLINIC_ENV": "development"}
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],  # noqa: S603
                   cwd=REPO, env=environment, check=True, capture_output=True)


def _writer(number: int, database: str, anchor_file: str, entries: int, ready: Any, start: Any,
            results: Any) -> None:
    """One writer: its own app and connection; each entry in its own app context and transaction."""
    from flask import g

    from clinic import create_app
    from clinic.audit.services import Actor, record_event
    from clinic.extensions import db

    app = create_app(_config(database, anchor_file))
    actor = Actor(None, f"writer{number}@bench.example", "nurse")
    acknowledged: list[str] = []
    latencies: list[float] = []
    errors: list[str] = []
    with app.app_context():
        db.session.execute(sa.text("SELECT 1"))  # connect before the start, not on the clock
        db.session.rollback()
    ready.put(number)
    start.wait()
    for index in range(entries):
        record_id = f"{number}-{index}"
        began = time.perf_counter()
        try:
            with app.app_context():
                g.request_id = f"bench-{record_id}"
                record_event(ACTION, record_type="bench_writer", record_id=record_id, actor=actor)
                db.session.commit()
        except Exception as error:  # noqa: BLE001 - counted and printed, the run goes on
            errors.append(f"{record_id}: {type(error).__name__}: {error}"[:300])
            continue
        latencies.append(time.perf_counter() - began)
        acknowledged.append(record_id)
    finished = time.perf_counter()  # CLOCK_MONOTONIC: the same clock in every process
    with app.app_context():
        db.engine.dispose()
    results.put((number, acknowledged, latencies, errors, finished))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--entries", type=int, default=500, help="entries per writer (default 500)")
    arguments = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="clinic-audit-writers-"))
    anchor_file = str(workdir / "audit-anchors.log")
    config = _config(arguments.database, anchor_file)
    _fresh_database(arguments.database, config.AUDIT_HMAC_KEY)

    context = multiprocessing.get_context("spawn")  # each writer builds its own app, engine and pool
    ready, start, results = context.Queue(), context.Event(), context.Queue()
    writers = [context.Process(target=_writer, args=(n, arguments.database, anchor_file, arguments.entries,
                                                     ready, start, results)) for n in range(arguments.writers)]
    for process in writers:
        process.start()
    for _ in writers:
        ready.get(timeout=120)  # every writer has built its app and connected: the clock starts together
    began = time.perf_counter()
    start.set()
    finished = [results.get(timeout=600) for _ in writers]
    for process in writers:
        process.join(timeout=30)
    elapsed = max(item[4] for item in finished) - began

    acknowledged = [entry for item in finished for entry in item[1]]
    latencies = sorted(latency for item in finished for latency in item[2])
    errors = [error for item in finished for error in item[3]]
    rate = len(acknowledged) / elapsed

    from clinic import create_app
    from clinic.audit.models import AuditEvent
    from clinic.audit.services import verify_chain
    from clinic.extensions import db

    app = create_app(config)
    failures: list[str] = []
    with app.app_context():
        result = verify_chain(anchor_file=anchor_file)
        stored = db.session.execute(
            sa.select(AuditEvent.record_id, AuditEvent.seq).where(AuditEvent.action == ACTION)
        ).all()
        total = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
        dialect = db.engine.dialect.name
        db.engine.dispose()
    stored_ids = [row.record_id for row in stored]
    if not result.ok:
        failures.append(f"the chain is broken at row {result.first_bad_seq}: {result.problem}")
    if len(stored_ids) != len(set(stored_ids)):
        failures.append(f"{len(stored_ids) - len(set(stored_ids))} entries are stored more than once")
    missing = set(acknowledged) - set(stored_ids)
    if missing:
        failures.append(f"{len(missing)} acknowledged entries are missing, e.g. {sorted(missing)[:3]}")
    if len(stored) != len(acknowledged):
        failures.append(f"{len(stored)} entries stored for {len(acknowledged)} acknowledged")
    if errors:
        failures.append(f"{len(errors)} appends failed, e.g. {errors[:3]}")

    def ms(fraction: float) -> float:
        return 1000 * latencies[min(len(latencies) - 1, int(fraction * len(latencies)))] if latencies else 0.0

    print(f"audit appends on {dialect}: {arguments.writers} writers x {arguments.entries} entries, "
          f"each its own transaction and commit")
    print(f"  acknowledged {len(acknowledged)} in {elapsed:.2f} s: {rate:.0f} entries/s "
          f"(target {TARGET_PER_SECOND}); per append p50 {ms(0.5):.1f} ms, p95 {ms(0.95):.1f} ms, "
          f"p99 {ms(0.99):.1f} ms, mean {1000 * statistics.fmean(latencies) if latencies else 0:.1f} ms")
    print(f"  chain: {'intact' if result.ok else 'BROKEN'}, {result.count} rows verified of {total} stored "
          f"(the migration's own rows included), head {result.head_seq}, anchored at {result.anchored_seq}")
    print(f"  stored {len(stored)} bench entries, {len(set(stored_ids))} distinct; acknowledged {len(acknowledged)};"
          f" failed appends {len(errors)}")
    print(f"  load average {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    if rate < TARGET_PER_SECOND:
        failures.append(f"{rate:.0f} entries/s is below the target of {TARGET_PER_SECOND}")
    for failure in failures:
        print(f"FAIL: {failure}")
    if not failures:
        print("OK")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
