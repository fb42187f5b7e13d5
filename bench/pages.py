"""The pages people open all day, on the demo database, in one process: queries and milliseconds (not a test).

    python -m bench.pages                       # a fresh demo database under /tmp (SQLite)
    python -m bench.pages --database postgresql+psycopg://postgres@127.0.0.1:5432/clinic_pages

Loads the demo data (`flask demo seed`, through the app's own services) into a new database, signs in as each
demo account in the same process as the app (no network, no gunicorn) and GETs each page ``--repeat`` times.
Prints per page the statements it sends and the median and p95 in milliseconds, beside ``/health``. Target
(issue 17): at most 12 statements per page, and a median of 15 ms or less for the chart, the session page
and the home pages.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.patient_search import _config
from clinic import create_app
from clinic.extensions import db
from clinic.inventory.models import Lot
from clinic.records.followups.models import FollowUpTask
from clinic.records.treatments.models import Course, SessionSignature, TreatmentSession
from clinic.shell.cli import DEMO_ACCOUNTS
from clinic.tracing.models import Recall

REPO = Path(__file__).resolve().parent.parent
TIMED = ("home", "chart", "session page")  # the pages issue 17 holds to 15 ms


def _fresh_demo_database(database: str) -> None:
    """Migrate and seed through the CLI, as `make run` does."""
    if database.startswith("sqlite:///"):
        Path(database.removeprefix("sqlite:///")).unlink(missing_ok=True)
    else:
        engine = sa.create_engine(database)
        with engine.begin() as connection:
            connection.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    environment = {**os.environ, "DATABASE_URL": database}
    # A fresh clone has no demo secrets yet: written once under instance/, as `make run` does.
    subprocess.run([sys.executable, "-m", "config", "demo-secrets"], cwd=REPO, check=True, capture_output=True)
    for command in (["db", "upgrade"], ["demo", "seed"]):
        subprocess.run([*flask, *command], cwd=REPO, env=environment, check=True, capture_output=True)


def _pages(role: str) -> list[tuple[str, str]]:
    """(name, url) of the pages a role opens all day, with ids picked from the demo data."""
    session = db.session.scalar(sa.select(TreatmentSession).join(SessionSignature)
                                .order_by(TreatmentSession.id.desc()).limit(1))
    course = session.course if session is not None else db.session.scalar(sa.select(Course).limit(1))
    lot = db.session.scalar(sa.select(Lot).order_by(Lot.id).limit(1))
    task = db.session.scalar(sa.select(FollowUpTask).order_by(FollowUpTask.id).limit(1))
    recall = db.session.scalar(sa.select(Recall).order_by(Recall.id).limit(1))
    pages = [("home", "/"), ("health", "/health")]
    if role in ("doctor", "nurse"):
        pages += [("patient list", "/patients"), ("patient search", "/patients?q=ma"),
                  ("chart", f"/patients/{course.patient_id}"), ("course", f"/courses/{course.id}")]
    if role == "doctor":
        pages += [("session page", f"/sessions/{session.id}"), ("session form", f"/courses/{course.id}/sessions/new"),
                  ("course report", f"/courses/{course.id}/report"), ("flags", "/flags")]
    if role == "nurse":
        pages += [("session page", f"/sessions/{session.id}"), ("follow-ups", "/follow-ups"),
                  ("stock", "/inventory/stock")]
        if task is not None:
            pages.append(("follow-up", f"/follow-ups/{task.id}"))
    if role == "auditor":
        pages += [("trace", f"/trace?lot={lot.lot_number}"), ("recalls", "/recalls"), ("reports", "/reports"),
                  ("stock", "/inventory/stock"), ("expiring", "/inventory/expiring")]
        if recall is not None:
            pages.append(("recall", f"/recalls/{recall.id}"))
    return pages


def _timed(client: Any, url: str, repeat: int) -> list[float]:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        response.get_data()
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="sqlite:////tmp/clinic-pages.sqlite")
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--keep", action="store_true", help="use the database as it is (already seeded)")
    args = parser.parse_args()
    if not args.keep:
        _fresh_demo_database(args.database)
    config = _config(args.database)
    config.WTF_CSRF_ENABLED = False
    app = create_app(config)
    statements: list[str] = []
    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    print(f"{args.database.split(':')[0]} demo database; {args.repeat} warm runs per page (ms)")
    print(f"{'role':<8} {'page':<16} {'queries':>7} {'p50':>7} {'p95':>7}")
    misses = []
    for email, _name, role, password in DEMO_ACCOUNTS:
        if role == "admin":
            continue
        with app.app_context():
            pages = _pages(role)
        client = app.test_client()
        assert client.post("/login", data={"email": email, "password": password}).status_code == 302
        for name, url in pages:
            client.get(url)  # warm: templates compiled, caches filled
            statements.clear()
            client.get(url)
            queries = len(statements)
            timings = sorted(_timed(client, url, args.repeat))
            median, p95 = statistics.median(timings), timings[round(0.95 * (len(timings) - 1))]
            print(f"{role:<8} {name:<16} {queries:>7} {median:7.1f} {p95:7.1f}")
            if queries > 12 or (name in TIMED and median > 15):
                misses.append(f"{role} {name}")
    print("over budget: " + (", ".join(misses) if misses else "none"))


if __name__ == "__main__":
    main()
