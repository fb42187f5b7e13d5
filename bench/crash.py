"""Crash safety: a write loop against gunicorn, killed with SIGKILL mid-loop and restarted (not a test).

    python -m bench.crash                                  # SQLite, a new file under /tmp
    python -m bench.crash --database postgresql+psycopg://postgres@127.0.0.1:5432/clinic_crash

Makes a fresh database (the PostgreSQL one is created if missing and its public schema made anew: give it a
database of its own), migrates it and loads the demo accounts and records (`flask db upgrade`, `flask demo
seed`, as `make run` does), then serves it with `make run`'s gunicorn (gunicorn_config.py, two workers).
``--clients`` threads sign in as the demo nurse or doctor, each with its own cookies, and write over HTTP as a
browser does, with the CSRF token and the one-time submission key taken from each form: nurses register
patients; doctors register patients, save session drafts with 6 to 12 injection rows on the demo courses
and sign every other draft with their password. A write is acknowledged when it is answered with a redirect
to its record (the id is in the Location); a request cut off by a kill is sent again with the same key,
as a browser's retry would be, so the server must answer it with the first result instead of storing twice.

``--kills`` times (5) at a random moment, the gunicorn master and its workers are killed together with
SIGKILL, and gunicorn is started again at once. At the end it checks that every acknowledged write is stored
exactly once (by id, by its submission key and by its unique content: each patient's name, each session's
notes and injection rows), that no session is half-written (a session without injection rows or without a
preparation, a signature on a session that is not locked, a locked session without its signature), that
each acknowledged record has its audit row, `PRAGMA integrity_check` (SQLite) and `flask audit verify`.
Prints the figures and exits non-zero on any failure.
"""

from __future__ import annotations

import argparse
import html
import http.client
import http.cookiejar
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
SECRET_KEY = "crash-bench-secret-key-not-for-production"  # noqa: S105
AUDIT_KEY = "crash-bench-audit-key-not-for-production"
NURSE = ("nurse@demo.clinic", "demo nurse passphrase")
DOCTOR = ("doctor@demo.clinic", "demo doctor passphrase")
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
SUBMISSION = re.compile(r'name="submission"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="submission"')
ACKNOWLEDGE = re.compile(r'name="acknowledged"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="acknowledged"')
START_TIMEOUT = 60.0


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the Location of a create is what is acknowledged: read it, do not follow it


@dataclass
class Ledger:
    """What the server acknowledged, for the checks at the end."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    patients: list[tuple[int, str, str]] = field(default_factory=list)  # id, submission key, last name
    sessions: list[tuple[int, str, str, int]] = field(default_factory=list)  # id, key, notes, injection rows
    signatures: list[int] = field(default_factory=list)  # session ids
    refused: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)  # what a refused form said, beside its fields
    retried: int = 0
    server_errors: Counter[str] = field(default_factory=Counter)  # 5xx answers: D4 allows none


class Server:
    """gunicorn as `make run` starts it, in a process group of its own so that one signal reaches all."""

    def __init__(self, environment: dict[str, str], port: int, log_path: Path) -> None:
        self.environment, self.port, self.log_path = environment, port, log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        """Start and wait until /health answers; the seconds it took."""
        began = time.monotonic()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - fixed command from our own venv
                [str(VENV_BIN / "gunicorn"), "-c", str(REPO / "gunicorn_config.py"), "--bind",
                 f"127.0.0.1:{self.port}", "--workers", "2", "--no-control-socket", "wsgi:app"],
                cwd=REPO, env=self.environment, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        while time.monotonic() - began < START_TIMEOUT:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as answer:  # noqa: S310
                    if answer.status == 200:
                        return time.monotonic() - began
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"gunicorn did not answer /health within {START_TIMEOUT} s; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL to the master and every worker at once: no shutdown, no rollback, no flush."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)


class Browser:
    """One signed-in member of staff: cookies, CSRF token and one-time keys as a browser sends them."""

    def __init__(self, base: str, account: tuple[str, str], stop: threading.Event, ledger: Ledger) -> None:
        self.base, self.account, self.stop, self.ledger = base, account, stop, ledger
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect())

    def _send(self, path: str, data: dict[str, Any] | None) -> tuple[int, str, str]:
        body = None if data is None else urllib.parse.urlencode(data, doseq=True).encode()
        request = urllib.request.Request(self.base + path, data=body)  # noqa: S310 - our own local server
        try:
            with self.opener.open(request, timeout=30) as answer:
                return answer.status, answer.headers.get("Location", ""), answer.read().decode()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.headers.get("Location", ""), error.read().decode(errors="replace")

    def send(self, path: str, data: dict[str, Any] | None = None) -> tuple[int, str, str, int]:
        """Send until the server answers other than 5xx (it may be down, being killed or coming back): the
        status, Location, page, and how many times it was sent again. A 5xx is counted: it fails the run."""
        again = 0
        while True:
            try:
                status, location, page = self._send(path, data)
                if status < 500:
                    return status, location, page, again
                with self.ledger.lock:
                    self.ledger.server_errors[f"{status} {re.sub(r'[0-9]+', 'N', path)}"] += 1
            except (OSError, http.client.HTTPException):
                pass
            if self.stop.is_set() and again > 200:
                raise TimeoutError(f"{path}: no answer")
            again += 1
            time.sleep(0.1)

    def form(self, path: str) -> str:
        status, _, page, _ = self.send(path)
        if status == 302:  # signed out (a new sign-in), then the form again
            self.sign_in()
            status, _, page, _ = self.send(path)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}")
        return page

    def sign_in(self) -> None:
        page = self.form_page("/login")
        email, password = self.account
        status, _, _, _ = self.send("/login", {"csrf_token": _field(CSRF, page), "email": email,
                                               "password": password})
        if status != 302:
            raise RuntimeError(f"{email} could not sign in ({status})")

    def form_page(self, path: str) -> str:
        status, _, page, _ = self.send(path)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}")
        return page


def _field(pattern: re.Pattern[str], page: str) -> str:
    found = pattern.search(page)
    if not found:
        raise RuntimeError(f"no {pattern.pattern[:40]}… in the page")
    return html.unescape(found.group(1) or found.group(2))


def _options(page: str, name: str) -> list[str]:
    """The non-empty option values of the select called ``name``."""
    found = re.search(rf'<select[^>]*name="{re.escape(name)}"[^>]*>(.*?)</select>', page, re.S)
    if not found:
        return []
    return [html.unescape(v) for v in re.findall(r'<option[^>]*value="([^"]*)"', found.group(1)) if v]


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _letters(number: int) -> str:
    """A number as letters (names take no digits): 0 → a, 26 → ba."""
    text = ""
    while True:
        number, digit = divmod(number, 26)
        text = _LETTERS[digit] + text
        if number == 0:
            return text


def _created_id(location: str, kind: str) -> int | None:
    found = re.search(rf"/{kind}/(\d+)(?:$|[/?#])", location)
    return int(found.group(1)) if found else None


def register_patient(browser: Browser, ledger: Ledger, client: int, number: int, rng: random.Random) -> None:
    page = browser.form("/patients/new")
    last_name = f"Crash{_letters(client).capitalize()}{_letters(number)}"
    form = {"csrf_token": _field(CSRF, page), "submission": _field(SUBMISSION, page), "first_name": "Kim",
            "last_name": last_name,
            "date_of_birth": f"19{rng.randint(50, 99)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
            "sex": rng.choice(["female", "male"])}
    status, location, _, again = browser.send("/patients/new", form)
    patient_id = _created_id(location, "patients")
    with ledger.lock:
        ledger.retried += again > 0
        if status == 302 and patient_id is not None:
            ledger.patients.append((patient_id, form["submission"], last_name))
        else:
            ledger.refused[f"patient {status}"] += 1


def _refusals(answer: str) -> list[str]:
    """What a refused session form said: the messages beside its fields and the gate's reasons above it."""
    gate = re.search(r'id="gate-reasons".*?<ul>(.*?)</ul>', answer, re.S)
    found = re.findall(r'class="field-error"[^>]*>(.*?)<', answer) + (re.findall(r"<li>(.*?)</li>", gate.group(1))
                                                                     if gate else [])
    return [html.unescape(reason)[:100] for reason in found[:3]]


def save_session(browser: Browser, ledger: Ledger, course_id: int, planned: list[str], client: int, number: int,
                 rng: random.Random, sign: bool) -> bool:
    """Save a draft (and sign it); False when the course's patient is not ready to be signed for."""
    path = f"/courses/{course_id}/sessions/new"
    page = browser.form(path)
    lots = _options(page, "preparations-0-components-0-lot_id")
    if not lots:
        with ledger.lock:
            ledger.refused["session form without lots"] += 1
        return False
    rows = rng.randint(6, 12)
    notes = f"crash bench {client}-{number}"
    performed = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    form: dict[str, Any] = {
        "csrf_token": _field(CSRF, page), "submission": _field(SUBMISSION, page), "performed_at": performed,
        "skin_preparation": _options(page, "skin_preparation")[0], "technique": "nappage", "needle_gauge": "32",
        "needle_length_mm": "4", "notes": notes, "preparations-0-label": "Crash cocktail",
        "preparations-0-components-0-lot_id": rng.choice(lots), "preparations-0-components-0-volume_ml": "2",
    }
    # 6 to 12 rows over the course's planned areas (several passes over one area are rows of their own).
    for row in range(rows):
        form |= {f"injections-{row}-area_code": planned[row % len(planned)], f"injections-{row}-preparation": "0",
                 f"injections-{row}-depth_mm": "1.5", f"injections-{row}-volume_ml": "0.15",
                 f"injections-{row}-points": "10", f"injections-{row}-administered": "y"}
    status, location, answer, again = browser.send(path, form)
    if status == 400 and ACKNOWLEDGE.search(answer):
        # The warnings to acknowledge (an interval kept short, a first treatment without a patch test…):
        # the doctor ticks them and sends the same form, same key, again.
        form["acknowledged"] = sorted({html.unescape(a or b) for a, b in ACKNOWLEDGE.findall(answer)})
        status, location, answer, more = browser.send(path, form)
        again += more
    session_id = _created_id(location, "sessions")
    with ledger.lock:
        ledger.retried += again > 0
        if status == 302 and session_id is not None:
            ledger.sessions.append((session_id, form["submission"], notes, rows))
        else:
            ledger.refused[f"session {status}"] += 1
            for reason in _refusals(answer):
                ledger.reasons[reason] += 1
            return True
    return sign_session(browser, ledger, session_id) if sign else True


def sign_session(browser: Browser, ledger: Ledger, session_id: int) -> bool:
    """False when the patient is not ready (no consent, no valid screening…): that course is left alone."""
    page = browser.form(f"/sessions/{session_id}")
    if f'action="/sessions/{session_id}/sign"' not in page:
        with ledger.lock:
            ledger.refused["not ready to sign"] += 1
        return False
    status, location, _, again = browser.send(
        f"/sessions/{session_id}/sign", {"csrf_token": _field(CSRF, page), "password": DOCTOR[1]})
    # Signing answers with the session page either way; the page after it says whether it was signed.
    shown = browser.form(f"/sessions/{session_id}") if status == 302 else ""
    with ledger.lock:
        ledger.retried += again > 0
        if status == 302 and "signed and locked" in shown:
            ledger.signatures.append(session_id)
        elif status == 302 and again and "Signed by" in shown:
            ledger.signatures.append(session_id)  # signed by the try that the kill cut off
        else:
            ledger.refused[f"signature {status}"] += 1
    return True


def client_loop(number: int, base: str, course_areas: dict[int, list[str]], ledger: Ledger, stop: threading.Event,
                errors: list[str]) -> None:
    rng = random.Random(number)  # noqa: S311 - a reproducible workload, not a secret
    courses = sorted(course_areas)
    doctor = number % 2 == 0
    browser = Browser(base, DOCTOR if doctor else NURSE, stop, ledger)
    count = 0
    try:
        browser.sign_in()
        while not stop.is_set():
            if doctor and courses and count % 3 != 2:
                course = rng.choice(courses)
                if not save_session(browser, ledger, course, course_areas[course], number, count, rng,
                                    sign=count % 2 == 0) \
                        and len(courses) > 1:
                    courses = [c for c in courses if c != course]  # its patient is not ready: sign elsewhere
            else:
                register_patient(browser, ledger, number, count, rng)
            count += 1
    except Exception as error:  # noqa: BLE001 - a client that dies is a failure the report names
        errors.append(f"client {number}: {type(error).__name__}: {error}")


def _fresh_database(database: str) -> None:
    url = sa.engine.make_url(database)
    if url.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{url.database}{suffix}").unlink(missing_ok=True)
        return
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if not connection.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}):
            connection.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def _flask(environment: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", *arguments],  # noqa: S603
                          cwd=REPO, env=environment, capture_output=True, text=True, check=False)


def check(database: str, environment: dict[str, str], ledger: Ledger) -> tuple[list[str], dict[str, str]]:
    """Every acknowledged write stored once, nothing half-written, the database and the trail sound."""
    failures: list[str] = []
    figures: dict[str, str] = {}
    engine = sa.create_engine(database)
    with engine.connect() as db:
        def rows(sql: str, **params: Any) -> list[Any]:
            return list(db.execute(sa.text(sql), params))

        stored_patients = {r.id: r.last_name for r in rows("SELECT id, last_name FROM patient")}
        names = Counter(stored_patients.values())
        keys = {r.key: r.result_url for r in rows("SELECT key, result_url FROM form_submission")}
        audited = {(r.record_type, r.record_id) for r in rows(
            "SELECT record_type, record_id FROM audit_event WHERE action = 'create' "
            "AND record_type IN ('patient', 'treatment_session', 'session_signature')")}
        lost: list[str] = []
        for patient_id, key, last_name in ledger.patients:
            if stored_patients.get(patient_id) != last_name:
                lost.append(f"patient {patient_id} ({last_name})")
            if names[last_name] != 1:
                failures.append(f"patient {last_name} is stored {names[last_name]} times")
            if not (keys.get(key) or "").endswith(f"/patients/{patient_id}"):
                failures.append(f"patient {patient_id}: its submission key {key} does not lead to it")
            if ("patient", str(patient_id)) not in audited:
                failures.append(f"patient {patient_id} has no audit row")
        stored_sessions = {r.id: r for r in rows(
            "SELECT s.id, s.notes, s.locked_at, (SELECT count(*) FROM injection_log i WHERE i.session_id = s.id) "
            "AS injections FROM treatment_session s")}
        notes = Counter(r.notes for r in stored_sessions.values())
        for session_id, key, note, injections in ledger.sessions:
            stored = stored_sessions.get(session_id)
            if stored is None or stored.notes != note:
                lost.append(f"session {session_id} ({note})")
                continue
            if stored.injections != injections:
                failures.append(f"session {session_id} has {stored.injections} injection rows, {injections} sent")
            if notes[note] != 1:
                failures.append(f"session '{note}' is stored {notes[note]} times")
            if not (keys.get(key) or "").endswith(f"/sessions/{session_id}"):
                failures.append(f"session {session_id}: its submission key does not lead to it")
            if ("treatment_session", str(session_id)) not in audited:
                failures.append(f"session {session_id} has no audit row")
        signed = {r.session_id for r in rows("SELECT session_id FROM session_signature")}
        for session_id in ledger.signatures:
            if session_id not in signed or stored_sessions[session_id].locked_at is None:
                lost.append(f"signature of session {session_id}")
        if lost:
            failures.append(f"{len(lost)} acknowledged writes are missing: {', '.join(lost[:5])}")
        half = [
            ("sessions without injection rows", "SELECT id FROM treatment_session s WHERE NOT EXISTS "
             "(SELECT 1 FROM injection_log i WHERE i.session_id = s.id)"),
            ("sessions without a preparation", "SELECT id FROM treatment_session s WHERE NOT EXISTS "
             "(SELECT 1 FROM preparation p WHERE p.session_id = s.id)"),
            ("signatures on a session that is not locked", "SELECT g.session_id FROM session_signature g "
             "JOIN treatment_session s ON s.id = g.session_id WHERE s.locked_at IS NULL"),
            ("locked sessions without a signature", "SELECT id FROM treatment_session s WHERE locked_at IS NOT NULL "
             "AND NOT EXISTS (SELECT 1 FROM session_signature g WHERE g.session_id = s.id)"),
            ("signed sessions without follow-up calls", "SELECT g.session_id FROM session_signature g "
             "WHERE NOT EXISTS (SELECT 1 FROM follow_up_task f WHERE f.session_id = g.session_id)"),
            ("injection rows without a preparation", "SELECT i.id FROM injection_log i WHERE i.preparation_id "
             "IS NOT NULL AND NOT EXISTS (SELECT 1 FROM preparation p WHERE p.id = i.preparation_id)"),
        ]
        for what, sql in half:
            found = rows(sql)
            if found:
                failures.append(f"{len(found)} {what}: {[r[0] for r in found[:5]]}")
        figures["half-written"] = "none" if not any("sessions" in f or "signatures" in f for f in failures) else "FOUND"
        figures["stored"] = (f"{len(stored_patients)} patients, {len(stored_sessions)} sessions, "
                             f"{len(signed)} signatures (demo data included)")
        figures["lost"] = str(len(lost))
        if engine.dialect.name == "sqlite":
            integrity = db.execute(sa.text("PRAGMA integrity_check")).scalar()
            figures["integrity_check"] = str(integrity)
            if integrity != "ok":
                failures.append(f"PRAGMA integrity_check: {integrity}")
    engine.dispose()
    verify = _flask(environment, "audit", "verify")
    figures["audit verify"] = (verify.stdout + verify.stderr).strip().splitlines()[-1:][0] if (
        verify.stdout + verify.stderr).strip() else f"exit {verify.returncode}"
    if verify.returncode != 0:
        failures.append(f"flask audit verify failed: {verify.stdout} {verify.stderr}")
    return failures, figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", help="default: a new SQLite file under /tmp")
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--between", type=float, nargs=2, default=(3.0, 8.0), metavar=("MIN", "MAX"),
                        help="seconds of writing before each kill, drawn at random (default 3 8)")
    parser.add_argument("--seed", type=int, default=17)
    arguments = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="clinic-crash-"))
    database = arguments.database or f"sqlite:///{workdir / 'clinic.sqlite'}"
    environment = {**os.environ, "CLINIC_ENV": "development", "CLINIC_INSTANCE_DIR": str(workdir),
                   "DATABASE_URL": database, "SECRET_KEY": SECRET_KEY, "AUDIT_HMAC_KEY": AUDIT_KEY,
                   "AUDIT_ANCHOR_FILE": str(workdir / "audit-anchors.log"), "PYTHONUNBUFFERED": "1"}
    print(f"crash bench: {sa.engine.make_url(database).get_backend_name()}, work files in {workdir}")
    _fresh_database(database)
    for step in (("db", "upgrade"), ("demo", "seed")):
        done = _flask(environment, *step)
        if done.returncode != 0:
            print(f"flask {' '.join(step)} failed:\n{done.stdout}\n{done.stderr}")
            return 1
    engine = sa.create_engine(database)
    with engine.connect() as db:
        # Each course's planned areas: what its patient's screening covers, so a draft on them can be signed.
        courses: dict[int, list[str]] = {}
        for course_id, area in db.execute(sa.text(
                "SELECT c.id, a.area_code FROM course c JOIN course_area a ON a.course_id = c.id "
                "WHERE c.status IN ('planned', 'active') ORDER BY c.id, a.area_code")):
            courses.setdefault(course_id, []).append(area)
    engine.dispose()

    port = _free_port()
    server = Server(environment, port, workdir / "gunicorn.log")
    ledger, stop, errors = Ledger(), threading.Event(), list[str]()
    rng = random.Random(arguments.seed)  # noqa: S311 - when to kill, not a secret
    comebacks: list[float] = []
    try:
        first_start = server.start()
        began = time.monotonic()
        clients = [threading.Thread(target=client_loop, args=(n, f"http://127.0.0.1:{port}", courses, ledger,
                                                              stop, errors), daemon=True)
                   for n in range(arguments.clients)]
        for thread in clients:
            thread.start()
        for _ in range(arguments.kills):
            time.sleep(rng.uniform(*arguments.between))
            server.kill()
            comebacks.append(server.start())
        time.sleep(rng.uniform(*arguments.between))  # writes after the last restart too
        stop.set()
        for thread in clients:
            thread.join(timeout=120)
        elapsed = time.monotonic() - began
    finally:
        stop.set()
        server.stop()

    failures, figures = check(database, environment, ledger)
    failures[:0] = errors
    if ledger.server_errors:
        failures.append(f"the server answered with errors: {dict(ledger.server_errors)}")
    writes = len(ledger.patients) + len(ledger.sessions) + len(ledger.signatures)
    print(f"  {arguments.clients} clients for {elapsed:.0f} s; first start {first_start:.1f} s")
    print(f"  acknowledged writes: {writes} ({len(ledger.patients)} patients registered, {len(ledger.sessions)} "
          f"session drafts with {sum(s[3] for s in ledger.sessions)} injection rows, "
          f"{len(ledger.signatures)} sessions signed); {writes / elapsed:.1f} writes/s")
    print(f"  kills (SIGKILL to master and workers): {len(comebacks)}, restarts: {len(comebacks)}; back up "
          f"(until /health answers) in {statistics.median(comebacks) if comebacks else 0:.1f} s median, "
          f"{max(comebacks, default=0):.1f} s at most")
    print(f"  writes sent again after a kill cut them off: {ledger.retried}; not acknowledged (refused): "
          f"{dict(ledger.refused) or 'none'}")
    if ledger.reasons:
        print(f"  why forms were refused: {dict(ledger.reasons.most_common(5))}")
    for name, value in figures.items():
        print(f"  {name}: {value}")
    print(f"  load average {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    for failure in failures:
        print(f"FAIL: {failure}")
    if not failures:
        print("OK: every acknowledged write stored once, nothing half-written, the trail verifies")
    return 1 if failures else 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    sys.exit(main())
