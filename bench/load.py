"""The mixed-load benchmark and the "nothing lost" check (issue 17, items 2 and 3; not a test).

    python -m bench.populate --patients 100000 --injections 10000000 --database URL
    python -m bench.load [--users 16] [--duration 60] [--workers 2] [--think 0] [--database URL]
                                                                                        (or: make bench-load)

1. Prepares, through the services: bench accounts (half doctors, a quarter nurses, a quarter auditors, one
   per virtual user, production-cost password hashes), a product and a lot, ready courses (history, consent,
   screening, a negative patch test) on populated patients for each doctor's drafts, a few drafts for each
   doctor to sign, and signed sessions whose follow-up calls the nurses make. Search terms, chart ids, lots
   to trace and courses to report on are sampled from the database.
2. Starts gunicorn with exactly the arguments of `make run` (read from the Makefile's run recipe with
   `make -n`, so a change there applies here), on PostgreSQL, its access log to a file.
3. Runs locust headless (bench/locustfile.py), first `/health` alone, then the mix, with the same users for
   the same time, and prints requests/s and p50/p95/p99 per request and per kind, the failures, and the
   ratio of the mix's rate to `/health`'s.
4. Checks that every write the server acknowledged (each recorded by the load tool with the id of its
   redirect or the unique token it carried) is stored exactly once, and verifies the audit chain.

The database grows by each run's writes (a few thousand rows); restore a `pg_dump -Fc` of the populated
database to start again from the same state.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.patient_search import _config
from clinic import create_app
from clinic.extensions import db

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench load passphrase 2026"  # noqa: S105  (synthetic accounts of a benchmark database)
INDICATION = "skin_rejuvenation"
AREAS = ("forehead", "temples", "cheeks", "perioral", "chin", "under_eye", "neck", "decolletage",
         "back_of_hands", "scalp", "abdomen", "flanks")
KINDS = {  # request name prefix -> the kind
    "search patients": "search patients", "open a chart": "open a chart", "draft": "session drafts",
    "follow-ups": "follow-ups and side effects", "side effects": "follow-ups and side effects",
    "trace a lot": "trace a lot", "reports": "reports", "sign:": "sign a session", "sign in": "sign in (once)",
    "/health": "/health",
}
TARGET_P95_MS = 250


def _kind(name: str) -> str:
    return next((kind for prefix, kind in KINDS.items() if name.startswith(prefix)), name)


# --- 1. preparation --------------------------------------------------------------------------------


def _app(database: str):  # noqa: ANN202
    config = _config(database)
    # The server's own settings where they matter: production-cost password hashes, the clinic's zone.
    config.ARGON2_TIME_COST, config.ARGON2_MEMORY_COST, config.ARGON2_PARALLELISM = 3, 65536, 4
    config.CLINIC_TIMEZONE = os.environ.get("CLINIC_TIMEZONE", "Europe/London")
    return create_app(config)


def _accounts(counts: dict[str, int]) -> dict[str, list[Any]]:
    from clinic.auth.models import User
    from clinic.auth.services import create_user

    made: dict[str, list[Any]] = {}
    for role, count in counts.items():
        made[role] = []
        for n in range(count):
            email = f"load17.{role}{n}@example.test"
            user = db.session.scalar(sa.select(User).where(User.email == email))
            made[role].append(user or create_user(email, f"Load {role.title()} {n}", role, PASSWORD))
    db.session.commit()
    return made


def _stock(nurse: Any) -> Any:
    from clinic.inventory import services as inventory
    from clinic.inventory.models import Ingredient, Lot, Product

    lot = db.session.scalar(sa.select(Lot).join(Product).where(Product.name == "Load17 Glow",
                                                               Lot.lot_number == "LOAD17-1"))
    if lot is not None:
        return lot
    vitamin_c = db.session.scalar(sa.select(Ingredient).where(Ingredient.name == "Vitamin C"))
    product = inventory.create_product(inventory.ProductDetails(
        name="Load17 Glow", manufacturer="Bench Labs", kind="vitamin_cocktail", unit="vial", volume_ml=Decimal("5"),
        ingredient_ids=[vitamin_c.id] if vitamin_c else []))
    fridge = inventory.create_location("Load17 fridge", "fridge")
    lot, _ = inventory.receive_lot(inventory.Receipt(
        product=product, lot_number="LOAD17-1", expiry_date=date.today() + timedelta(days=700), quantity=100_000,
        supplier="Bench", received_on=date.today() - timedelta(days=30), location=fridge), nurse)
    db.session.commit()
    return lot


def _ready_courses(count: int, doctor: Any, nurse: Any, product: Any, rng: random.Random) -> list[Any]:
    """Populated adult patients never prepared before, made ready for a session: history, consent,
    screening, a negative patch test, and a skin-rejuvenation course over every area the drafts use."""
    from clinic.records.consent import services as consent_services
    from clinic.records.consent.models import Consent, ConsentForm
    from clinic.records.patients import services as patients
    from clinic.records.patients.models import Patient
    from clinic.records.screening import services as screening
    from clinic.records.treatments import services as treatments

    adult = date.today() - timedelta(days=366 * 20)
    candidates = list(db.session.scalars(
        sa.select(Patient.id).where(Patient.voided_at.is_(None), Patient.date_of_birth < adult,
                                    ~sa.exists().where(Consent.patient_id == Patient.id))
        .order_by(sa.func.random()).limit(count)))
    form = db.session.scalar(sa.select(ConsentForm).where(ConsentForm.indication_code == INDICATION))
    rules = [r for r in screening.applicable_rules(INDICATION, AREAS) if r.trigger != "age_under"]
    courses = []
    for patient_id in candidates:
        patient = db.session.get_one(Patient, patient_id)
        entry = patients.history_input_from(patients.current_history(patient))
        entry.pregnancy, entry.breastfeeding = "no", "no"
        current = patients.current_history(patient)
        patients.record_history(patient, entry, nurse, based_on=current.number if current else 0)
        consent_services.record_consent(patient, form.current_version, patient.full_name, None, nurse)
        screening.record_screening(patient, INDICATION, AREAS,
                                   [screening.AnswerInput(r.id, False, None) for r in rules], nurse)
        test = patients.record_patch_test(patient, nurse, product=product)
        patients.read_patch_test(test, "negative", "", nurse)
        courses.append(treatments.plan_course(patient, treatments.CourseInput(
            INDICATION, AREAS, planned_sessions=50, starts_on=date.today() - timedelta(days=30)), doctor))
        db.session.commit()
    rng.shuffle(courses)
    return courses


def _session_entry(lot_id: int, rows: int, rng: random.Random, note: str) -> Any:
    from clinic.core.models import utcnow
    from clinic.records.treatments import services as treatments

    return treatments.SessionInput(
        performed_at=utcnow().replace(microsecond=0) - timedelta(minutes=30), skin_preparation="chlorhexidine",
        technique="nappage", needle_gauge=32, needle_length_mm=Decimal("4"), notes=note,
        preparations=[treatments.PreparationInput("Load glow", [treatments.ComponentInput(lot_id, Decimal("5"))])],
        injections=[treatments.InjectionInput(area, 0, depth_mm=Decimal("1.5"), volume_ml=Decimal("0.4"), points=20)
                    for area in rng.sample(AREAS, rows)],
        acknowledged=("interval", "first_time_no_patch_test", "hyperpigmentation"))


def prepare(users: int, duration: int, seed: int) -> dict[str, Any]:
    """Everything the virtual staff needs, made through the services; returns the plan for the locustfile."""
    from clinic.inventory.models import Lot
    from clinic.records.followups.models import FollowUpTask
    from clinic.records.patients.models import Patient
    from clinic.records.treatments import services as treatments
    from clinic.records.treatments.models import Course, SessionSignature, TreatmentSession

    rng = random.Random(seed)  # noqa: S311  (which patients and areas, not a secret)
    doctors_n = max(1, users // 2)
    nurses_n = max(1, users // 4)
    auditors_n = max(1, users - doctors_n - nurses_n)
    staff = _accounts({"doctor": doctors_n, "nurse": nurses_n, "auditor": auditors_n})
    lot = _stock(staff["nurse"][0])
    # Enough of each for the run: a draft every ~0.3 s per doctor at most, a call every ~0.5 s per nurse.
    courses_per_doctor = 12
    calls_per_nurse = max(20, duration // 2)
    drafts_per_doctor = 3
    started = time.perf_counter()
    accounts: dict[str, list[dict[str, Any]]] = {"doctor": [], "nurse": [], "auditor": []}
    for doctor in staff["doctor"]:
        courses = _ready_courses(courses_per_doctor, doctor, staff["nurse"][0], lot.product, rng)
        drafts = [treatments.save_session(courses[i], _session_entry(lot.id, 8, rng, "load17 prepared"), doctor).id
                  for i in range(drafts_per_doctor)]
        db.session.commit()
        accounts["doctor"].append({"email": doctor.email, "course_ids": [c.id for c in courses], "draft_ids": drafts})
    # The nurses' calls: sessions signed now, whose follow-ups the signature schedules (each nurse her own).
    signer = staff["doctor"][0]
    for nurse in staff["nurse"]:
        task_ids = []
        for course in _ready_courses(calls_per_nurse, signer, nurse, lot.product, rng):
            session = treatments.save_session(course, _session_entry(lot.id, rng.randint(6, 12), rng,
                                                                     "load17 prepared"), signer)
            treatments.sign_session(session, signer, PASSWORD)
            db.session.commit()
            task_ids += list(db.session.scalars(sa.select(FollowUpTask.id).where(
                FollowUpTask.session_id == session.id, FollowUpTask.status == "due")))
        accounts["nurse"].append({"email": nurse.email, "follow_up_ids": task_ids})
    accounts["auditor"] = [{"email": a.email} for a in staff["auditor"]]
    prepared_in = time.perf_counter() - started

    sample = db.session.execute(sa.select(Patient.id, Patient.first_name, Patient.last_name, Patient.record_number)
                                .where(Patient.voided_at.is_(None)).order_by(sa.func.random()).limit(2000)).all()
    terms = []
    for _, first, last, record in sample[:400]:
        terms += [last, last[:4], f"{first} {last}", record]
    signed = list(db.session.scalars(
        sa.select(SessionSignature.session_id).order_by(sa.func.random()).limit(2000)))
    lots = list(db.session.scalars(sa.select(Lot.lot_number).where(Lot.lot_number.like("BL%"))
                                   .order_by(sa.func.random()).limit(500)))
    busy = sa.select(TreatmentSession.course_id).group_by(TreatmentSession.course_id).having(
        sa.func.count() >= 10).order_by(sa.func.random()).limit(300)
    report_courses = list(db.session.scalars(sa.select(Course.id).where(Course.id.in_(busy))))
    return {"password": PASSWORD, "lot_id": lot.id, "accounts": accounts, "search_terms": terms,
            "patient_ids": [row[0] for row in sample], "signed_session_ids": signed, "lot_numbers": lots,
            "report_course_ids": report_courses, "prepared_in_s": round(prepared_in, 1)}


# --- 2. the server ---------------------------------------------------------------------------------


def gunicorn_command(port: int, workers: int) -> list[str]:
    """`make run`'s gunicorn line, as the Makefile has it today (`make -n` prints the recipe unrun)."""
    make = ["make", "-s", "-n", "-C", str(ROOT), "run", f"PORT={port}", f"WORKERS={workers}"]
    printed = subprocess.run(make, capture_output=True, text=True, check=True).stdout  # noqa: S603, S607
    joined = printed.replace("\\\n", " ")
    line = next(line for line in joined.splitlines() if "/bin/gunicorn" in line)
    return shlex.split(line)


def start_server(database: str, port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    from tests.settings import TestConfig

    command = gunicorn_command(port, workers)
    env = {**os.environ, "DATABASE_URL": database,
           # bench.populate wrote its rows' audit entries with the bench settings' keys: the server signs
           # with the same ones, so that the chain verifies end to end.
           "SECRET_KEY": TestConfig.SECRET_KEY, "AUDIT_HMAC_KEY": TestConfig.AUDIT_HMAC_KEY,
           "AUDIT_ANCHOR_FILE": str(log.with_suffix(".anchors"))}
    out = open(log, "wb")  # noqa: SIM115
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out,  # noqa: S603
                              stderr=subprocess.STDOUT, start_new_session=True)
    for _ in range(120):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:  # noqa: S310
                if answer.status == 200:
                    return server
        except OSError:
            time.sleep(0.5)
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited: see {log}")
    raise SystemExit(f"gunicorn did not answer: see {log}")


# --- 3. the run ------------------------------------------------------------------------------------


def run_locust(classes: list[str], users: int, duration: int, port: int, plan: Path, writes: Path,
               timings: Path, no_draft_form: bool = False, think: float = 0) -> list[tuple[Any, ...]]:
    env = {**os.environ, "LOAD17_PLAN": str(plan), "LOAD17_WRITES": str(writes), "LOAD17_TIMINGS": str(timings),
           "LOAD17_NO_DRAFT_FORM": "1" if no_draft_form else "", "LOAD17_THINK": str(think)}
    locust = Path(sys.executable).with_name("locust")
    log = timings.with_suffix(".log")
    with open(log, "w") as out:
        subprocess.run([str(locust), "-f", str(ROOT / "bench" / "locustfile.py"),  # noqa: S603
                        "--headless", "--only-summary",
                        "--host", f"http://127.0.0.1:{port}", "-u", str(users), "-r", str(users),
                        "-t", f"{duration}s", "--stop-timeout", "10", "--loglevel", "WARNING", *classes],
                       cwd=ROOT, env=env, check=False, stdout=out, stderr=subprocess.STDOUT)
    return [tuple(row) for row in json.loads(timings.read_text())]


def process_cpu(server_group: int) -> dict[str, float]:
    """CPU seconds used so far by the server (gunicorn's process group), PostgreSQL's processes and this
    run's finished children (locust), read from /proc (Linux): where a phase's two cores went."""
    used = {"gunicorn": 0.0, "postgres": 0.0}
    tick = os.sysconf("SC_CLK_TCK")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue  # gone meanwhile
        kind = ("gunicorn" if int(stat[2]) == server_group
                else "postgres" if command.startswith((b"postgres", b"/usr/lib/postgresql")) else None)
        if kind:
            used[kind] += (int(stat[11]) + int(stat[12])) / tick
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    used["locust"] = children.ru_utime + children.ru_stime
    return used


def steady(timings: list[tuple[Any, ...]], duration: float) -> tuple[list[tuple[Any, ...]], float, float]:
    """The mix once every user has signed in, its length in seconds, and when that was (s into the phase).

    The sign-ins (an Argon2id check each, all users at once) jam the first seconds; their own row shows
    them, and the pages are timed from the moment the last of them answered. Timings without the end time
    (runs before it was recorded) are kept whole."""
    if not timings or len(timings[0]) < 4:
        return timings, duration, 0.0
    began = min(ended - ms / 1000 for _, ms, _, ended in timings)
    signed_in = max((ended for name, _, _, ended in timings if name.startswith("sign in")), default=began)
    kept = [t for t in timings if t[0].startswith("sign in") or t[3] - t[1] / 1000 >= signed_in]
    return kept, duration - (signed_in - began), signed_in - began


def _pct(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else float("nan")


def table(timings: list[tuple[Any, ...]], duration: float, by_kind: bool) -> tuple[list[list[str]], float]:
    groups: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for name, ms, failed, *_ in timings:
        groups[_kind(name) if by_kind else name].append((ms, failed))
    rows = []
    for name, items in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        times = [ms for ms, _ in items]
        over = (by_kind and name not in ("reports", "/health", "sign in (once)")
                and _pct(times, 0.95) > TARGET_P95_MS)
        rows.append([name, f"{len(items) / duration:.1f}", f"{len(items)}", f"{_pct(times, 0.5):.0f}",
                     f"{_pct(times, 0.95):.0f}" + (" !" if over else ""), f"{_pct(times, 0.99):.0f}",
                     f"{sum(f for _, f in items)}"])
    return rows, len(timings) / duration


def show(title: str, rows: list[list[str]]) -> None:
    head = ["kind" if "kind" in title else "request", "req/s", "count", "p50 ms", "p95 ms", "p99 ms", "errors"]
    print(f"\n{title}\n| " + " | ".join(head) + " |\n|" + " --- |" * len(head))
    for row in rows:
        print("| " + " | ".join(row) + " |")


# --- 4. nothing lost -------------------------------------------------------------------------------


def check_writes(writes: Path) -> tuple[Counter[str], list[str]]:
    """Every acknowledged write is in the database exactly once; returns counts and problems."""
    from clinic.audit.services import verify_chain  # noqa: F401  (imported for its side: models loaded)
    from clinic.records.followups.models import FollowUpAttempt, SideEffect
    from clinic.records.treatments.models import InjectionLog, SessionSignature, TreatmentSession

    acknowledged = [json.loads(line) for line in writes.read_text().splitlines() if line.strip()]
    counts: Counter[str] = Counter(w["kind"] for w in acknowledged)
    problems = []
    count = sa.func.count()
    for w in acknowledged:
        if w["kind"] == "draft":
            ids = list(db.session.scalars(sa.select(TreatmentSession.id).where(TreatmentSession.notes == w["token"])))
            rows = db.session.scalar(sa.select(count).where(InjectionLog.session_id == w["session_id"]))
            if ids != [w["session_id"]] or rows != w["rows"]:
                problems.append(f"draft {w['token']}: sessions {ids}, {rows} rows (answered {w['session_id']}, "
                                f"{w['rows']} rows)")
        elif w["kind"] == "sign":
            n = db.session.scalar(sa.select(count).where(SessionSignature.session_id == w["session_id"]))
            if n != 1:
                problems.append(f"signature of session {w['session_id']}: {n} stored")
        elif w["kind"] == "attempt":
            found = list(db.session.scalars(
                sa.select(FollowUpAttempt.task_id).where(FollowUpAttempt.note == w["token"])))
            if found != [w["task_id"]]:
                problems.append(f"follow-up call {w['token']} on task {w['task_id']}: stored on {found}")
        elif w["kind"] == "side_effect":
            found = list(db.session.scalars(sa.select(SideEffect.id).where(SideEffect.note == w["token"])))
            if len(found) != 1 or (w["side_effect_id"] and found != [w["side_effect_id"]]):
                problems.append(f"side effect {w['token']}: stored as {found} (answered {w['side_effect_id']})")
    # Drafts saved twice (a double submission that was not caught) would show as two rows with one token.
    return counts, problems


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL if the workers are still busy after 60 s (a long request holds a sync worker)."""
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)


def report(app: Any, out: Path) -> bool:
    """Print the figures of the run in ``out`` and check its writes; True when nothing was lost."""
    meta = json.loads((out / "meta.json").read_text())
    plan = json.loads((out / "plan.json").read_text())
    health = [tuple(row) for row in json.loads((out / "timings-health.json").read_text())]
    duration = meta["duration"]
    mix, mix_duration, settled = steady([tuple(row) for row in json.loads((out / "timings-mix.json").read_text())],
                                        duration)
    think = meta.get("think", 0)
    pace = (f", each waiting 0.5–1.5 × {think:g} s after a request (the mix at a clinic's pace, not the server's "
            "capacity)" if think else ", each in a closed loop (the server's capacity)")
    print(f"\n## bench.load: {meta['users']} users ({len(plan['accounts']['doctor'])} doctors, "
          f"{len(plan['accounts']['nurse'])} nurses, {len(plan['accounts']['auditor'])} auditors){pace}, "
          f"{duration} s per phase{', drafts saved without opening the form' if meta['no_draft_form'] else ''}, "
          f"{os.cpu_count()} CPUs, load average {meta['load_before']:.2f} before, {meta['load_after']:.2f} after "
          "(1 min)")
    print("database: " + ", ".join(f"{k} {v:,}" for k, v in meta["sizes"].items())
          + f"; prepared in {plan['prepared_in_s']} s")
    print("server: " + " ".join(shlex.quote(part) for part in meta["command"]))
    health_rows, health_rate = table(health, duration, by_kind=True)
    kind_rows, _ = table(mix, mix_duration, by_kind=True)
    name_rows, _ = table(mix, mix_duration, by_kind=False)
    mix_rate = len([t for t in mix if not t[0].startswith("sign in")]) / mix_duration
    if settled:
        print(f"the mix is timed from the moment the last user had signed in, {settled:.1f} s into its phase "
              f"({mix_duration:.1f} s of it)")
    show("by kind (the issue's target: p95 ≤ 250 ms except reports; ! marks a miss)", kind_rows)
    show("by request", name_rows)
    show("baseline", health_rows)
    errors = sum(t[2] for t in mix)
    ratio = (f"ratio {mix_rate / health_rate:.3f} (target ≥ 0.25)" if not think
             else "no ratio: paced users measure latency, not capacity (run without --think for it)")
    print(f"\noverall {mix_rate:.1f} req/s (sign-ins left out), /health {health_rate:.1f} req/s, {ratio}; "
          f"errors {errors} (target 0)")
    if meta.get("cpu_seconds"):
        # The mix's phase lasts the duration plus locust's start and stop: near enough for a share.
        cores = {kind: used / duration for kind, used in meta["cpu_seconds"].items()}
        requests = len(mix)
        print(f"CPU during the mix ({os.cpu_count()} cores): "
              + ", ".join(f"{kind} {share:.2f} cores ({meta['cpu_seconds'][kind] / requests * 1000:.1f} ms a request)"
                          for kind, share in cores.items())
              + f"; {sum(cores.values()):.2f} in all")
    tasks = Counter(_kind(t[0]) for t in mix if not t[0].startswith(("sign in", "follow-ups: worklist")))
    print("requests per kind, share: "
          + ", ".join(f"{k} {v / sum(tasks.values()):.0%}" for k, v in tasks.most_common()))
    with app.app_context():
        from clinic.audit.services import verify_chain

        counts, problems = check_writes(out / "writes.jsonl")
        print(f"\nacknowledged writes: {dict(counts)}; stored exactly once: "
              f"{'all' if not problems else f'NO, {len(problems)} problems'}")
        for problem in problems[:20]:
            print("  " + problem)
        started = time.perf_counter()
        result = verify_chain(anchor_file=str(out / "gunicorn.anchors"))
        print(f"audit verify: {'intact' if result.ok else 'BROKEN'}, {result.count:,} rows"
              + ("" if result.ok else f", first bad row {result.first_bad_seq}: {result.problem}")
              + f" ({time.perf_counter() - started:.0f} s)")
    print(f"files: {out}")
    return not problems and result.ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default=os.environ.get(
        "BENCH_DATABASE", "postgresql+psycopg://postgres@127.0.0.1:5432/clinic_bench"))
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--duration", type=int, default=60, help="seconds per phase (/health, then the mix)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (make run's WORKERS)")
    parser.add_argument("--port", type=int, default=5077)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--no-draft-form", action="store_true",
                        help="save drafts without opening the session form first (it lists every lot in stock; "
                             "saving builds the same list, so this spares only the GET)")
    parser.add_argument("--think", type=float, default=0, metavar="SECONDS",
                        help="each user waits a random 0.5-1.5 x SECONDS after each request of the mix (staff "
                             "reading the page); 0, the default, is a closed loop that measures capacity")
    parser.add_argument("--out", default=None, help="directory for the plan, writes, timings and server log")
    parser.add_argument("--report", metavar="DIR", help="only print the figures and check the writes of an "
                                                        "earlier run (its --out directory)")
    args = parser.parse_args()
    app = _app(args.database)
    if args.report:
        sys.exit(0 if report(app, Path(args.report)) else 1)
    out = Path(args.out or tempfile.mkdtemp(prefix="clinic-load-"))
    out.mkdir(parents=True, exist_ok=True)
    with app.app_context():
        print(f"preparing accounts, courses, drafts and follow-up calls on {app.config['SQLALCHEMY_DATABASE_URI']}…",
              flush=True)
        plan = prepare(args.users, args.duration, args.seed)
        sizes = {name: db.session.scalar(sa.text(f"SELECT count(*) FROM {name}"))  # noqa: S608
                 for name in ("patient", "treatment_session", "injection_log", "audit_event")}
        db.session.commit()
    plan_file = out / "plan.json"
    plan_file.write_text(json.dumps(plan))
    writes = out / "writes.jsonl"
    writes.write_text("")
    command = gunicorn_command(args.port, args.workers)
    server = start_server(args.database, args.port, args.workers, out / "gunicorn.log")
    load_before = os.getloadavg()
    try:
        run_locust(["Health"], args.users, args.duration, args.port, plan_file, writes, out / "timings-health.json")
        before = process_cpu(server.pid)
        run_locust(["Doctor", "Nurse", "Auditor"], args.users, args.duration, args.port, plan_file, writes,
                   out / "timings-mix.json", no_draft_form=args.no_draft_form, think=args.think)
        after = process_cpu(server.pid)
        cpu = {kind: after[kind] - before[kind] for kind in after}
    finally:
        stop_server(server)
    (out / "meta.json").write_text(json.dumps({
        "users": args.users, "duration": args.duration, "no_draft_form": args.no_draft_form, "think": args.think,
        "sizes": sizes,
        "load_before": load_before[0], "load_after": os.getloadavg()[0], "cpu_seconds": cpu,
        "command": command[next(i for i, part in enumerate(command) if part.endswith("gunicorn")):]}))
    sys.exit(0 if report(app, out) else 1)


if __name__ == "__main__":
    main()
