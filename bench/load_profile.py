"""Where the time of bench.load's pages goes, one request at a time in one process (not a test).

    python -m bench.load_profile --plan /tmp/clinic-load-XXXX/plan.json [--database URL] [--repeat 5]

Signs in as the load run's accounts (the plan bench.load wrote) with Flask's test client, GETs one page of
each kind ``--repeat`` times, and prints per page the median whole time, the CPU it cost this process (the
app's Python, the driver included) and PostgreSQL's processes (mean), the statements sent, the time they
took in the database driver, and the slowest statement (its first words and median ms).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import time
from collections import defaultdict
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa

from bench.load import PASSWORD, _app, process_cpu
from clinic.extensions import db

CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def _client(app: Any, email: str) -> Any:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    found = CSRF_RE.search(page)
    token = (found.group(1) or found.group(2)) if found else ""
    answer = client.post("/login", data={"csrf_token": token, "email": email, "password": PASSWORD, "next": ""})
    assert answer.status_code == 302, answer.status_code
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="postgresql+psycopg://postgres@127.0.0.1:5432/clinic_bench")
    parser.add_argument("--plan", required=True)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    plan = json.load(open(args.plan))
    rng = random.Random(17)  # noqa: S311
    app = _app(args.database)
    doctor = plan["accounts"]["doctor"][0]
    with app.app_context():
        from clinic.records.followups.models import FollowUpTask

        task_id = db.session.scalar(sa.select(FollowUpTask.id).where(FollowUpTask.status == "due")
                                    .order_by(FollowUpTask.id.desc()).limit(1))
        draft_id = doctor["draft_ids"][-1]
    pages = [
        ("doctor", "search patients", lambda: f"/patients?{urlencode({'q': rng.choice(plan['search_terms'])})}"),
        ("doctor", "open a chart", lambda: f"/patients/{rng.choice(plan['patient_ids'])}"),
        ("doctor", "draft: open the form", lambda: f"/courses/{rng.choice(doctor['course_ids'])}/sessions/new"),
        ("doctor", "session page (a draft)", lambda: f"/sessions/{draft_id}"),
        ("nurse", "follow-ups: worklist", lambda: "/follow-ups"),
        ("nurse", "follow-ups: open a call", lambda: f"/follow-ups/{task_id}"),
        ("nurse", "side effects: open the form",
         lambda: f"/sessions/{rng.choice(plan['signed_session_ids'])}/side-effects/new?source=chart"),
        ("auditor", "trace a lot", lambda: f"/trace?{urlencode({'lot': rng.choice(plan['lot_numbers'])})}"),
        ("auditor", "reports: course report", lambda: f"/courses/{rng.choice(plan['report_course_ids'])}/report"),
        ("auditor", "reports: clinic reports (30 days)", lambda: "/reports"),
    ]
    clients = {role: _client(app, plan["accounts"][role][0]["email"]) for role in ("doctor", "nurse", "auditor")}
    statements: list[tuple[str, float]] = []
    started: dict[int, float] = {}
    with app.app_context():
        engine = db.engine

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        started[id(cursor)] = time.perf_counter()

    @sa.event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append((" ".join(statement.split())[:140], (time.perf_counter() - started.pop(id(cursor))) * 1000))

    print("| page | whole ms (median) | Python CPU ms | PostgreSQL CPU ms | statements | in the driver ms "
          "| slowest statement (median ms) | most repeated statement (times per request) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for role, name, url in pages:
        wholes, counts, sql = [], [], []
        slowest: dict[str, list[float]] = defaultdict(list)
        clients[role].get(url())  # once before: its statements prepared, its templates compiled
        python_cpu, postgres_cpu = time.process_time(), process_cpu(-1)["postgres"]
        for _ in range(args.repeat):
            statements.clear()
            t0 = time.perf_counter()
            answer = clients[role].get(url())
            wholes.append((time.perf_counter() - t0) * 1000)
            assert answer.status_code == 200, (name, answer.status_code)
            counts.append(len(statements))
            sql.append(sum(ms for _, ms in statements))
            for text, ms in statements:
                slowest[text].append(ms)
        python_cpu = (time.process_time() - python_cpu) / args.repeat * 1000
        postgres_cpu = (process_cpu(-1)["postgres"] - postgres_cpu) / args.repeat * 1000
        top = max(slowest.items(), key=lambda kv: sum(kv[1]))
        often = max(slowest.items(), key=lambda kv: len(kv[1]))
        print(f"| {name} | {statistics.median(wholes):.0f} | {python_cpu:.0f} | {postgres_cpu:.0f} "
              f"| {statistics.median(counts):.0f} | "
              f"{statistics.median(sql):.0f} | `{top[0]}` ({statistics.median(top[1]):.0f}) "
              f"| `{often[0]}` ({len(often[1]) / args.repeat:.0f}) |")


if __name__ == "__main__":
    main()
