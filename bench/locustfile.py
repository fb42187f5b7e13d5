"""The virtual staff of `python -m bench.load` (issue 17, item 2): locust users, run headless by bench.load.

Not a test and not run by the suite. bench.load writes the plan (accounts, prepared courses, follow-up calls,
drafts to sign, search terms, lots) to the JSON file named by LOAD17_PLAN and reads back two files:
every acknowledged write (LOAD17_WRITES, one JSON line each) and every request's name, time and failure
(LOAD17_TIMINGS), from which it computes the percentiles.

Each user signs in once with an account of its own, then loops without pause (a closed loop: the server's
capacity), or, with bench.load's --think T, waits a random 0.5–1.5 T seconds after each request, as staff
reading a page do (a clinic's pace: the latency its staff feel at that many people). The weights
below make the issue's mix over the whole run when half the users are doctors, a quarter nurses and a
quarter auditors (bench.load picks those counts):

    kind               overall  doctor  nurse  auditor
    search patients      35 %     35      30      40
    open a chart         20 %     20      10      30
    session drafts       15 %     30       -       -
    follow-ups, s.e.     15 %      -      60       -
    trace a lot           5 %      -       -      20
    reports               5 %      5       -      10
    sign a session        5 %     10       -       -

A POST's redirect is not followed: its time is the write's, up to the answer that acknowledges it.
"""

from __future__ import annotations

import html
import itertools
import json
import os
import random
import re
import secrets
import time
import uuid
from collections import deque
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from locust import FastHttpUser, between, constant, events, task

PLAN: dict[str, Any] = json.load(open(os.environ["LOAD17_PLAN"]))  # noqa: SIM115
_writes = open(os.environ["LOAD17_WRITES"], "a", buffering=1)  # noqa: SIM115
_timings: list[tuple[str, float, int, float]] = []  # name, ms, failed, when it ended (epoch s)
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')
INPUT_RE = re.compile(r"<input\b[^>]*>", re.S)
AREAS = ("forehead", "temples", "cheeks", "perioral", "chin", "under_eye", "neck", "decolletage",
         "back_of_hands", "scalp", "abdomen", "flanks")
WARNINGS = ("interval", "first_time_no_patch_test", "hyperpigmentation")
# bench.load --no-draft-form: drafts are saved without GETting the form first (its CSRF token from the last
# page, a one-time key of the form's shape made here), to see the rest of the mix without that page.
NO_DRAFT_FORM = os.environ.get("LOAD17_NO_DRAFT_FORM") == "1"
THINK_S = float(os.environ.get("LOAD17_THINK") or 0)
CLINIC_ZONE = ZoneInfo(os.environ.get("CLINIC_TIMEZONE", "Europe/London"))


@events.request.add_listener
def _timed(request_type: str, name: str, response_time: float, response_length: int, exception: Any = None,
           **kwargs: Any) -> None:
    _timings.append((name, response_time, 1 if exception else 0, time.time()))


@events.quitting.add_listener
def _dump(environment: Any, **kwargs: Any) -> None:
    with open(os.environ["LOAD17_TIMINGS"], "w") as out:
        json.dump(_timings, out)


def record(kind: str, **fields: Any) -> None:
    """An acknowledged write: the answer said it was stored."""
    _writes.write(json.dumps({"kind": kind, "at": datetime.now().isoformat(), **fields}) + "\n")


def _attr(tag: str, name: str) -> str | None:
    found = re.search(rf'\b{name}="([^"]*)"', tag)
    return html.unescape(found.group(1)) if found else None


def inputs(page: str, name: str) -> list[str]:
    """The value of every <input name=...> on the page."""
    return [_attr(tag, "value") or "" for tag in INPUT_RE.findall(page) if _attr(tag, "name") == name]


def csrf(page: str) -> str:
    found = CSRF_RE.search(page)
    return (found.group(1) or found.group(2)) if found else ""


class Staff(FastHttpUser):
    abstract = True
    wait_time = between(THINK_S / 2, THINK_S * 3 / 2) if THINK_S else constant(0)
    role = ""
    _taken: itertools.count[int]

    def on_start(self) -> None:
        index = next(type(self)._taken)
        accounts = PLAN["accounts"][self.role]
        self.account = accounts[index % len(accounts)]
        self.rng = random.Random(f"{self.role}{index}")  # noqa: S311
        page = self.get("/login", "sign in: form")
        with self.client.post("/login", name="sign in: send", data=urlencode({
                "csrf_token": csrf(page), "email": self.account["email"], "password": PLAN["password"],
                "next": "/patients"}), headers=FORM, allow_redirects=False, catch_response=True) as answer:
            location = answer.headers.get("Location") or ""
            if answer.status_code != 302 or "/login" in location:
                answer.failure(f"sign-in answered {answer.status_code}")
                return
        # A browser follows it; the session's CSRF token is on the page. Sent to the patient search (the
        # sign-in form's `next`), not the home page: the doctor's home loads every open course with its
        # sessions (2.5 million on the populated database) and outlives gunicorn's 30 s worker timeout.
        self.get(location, "sign in: first page")

    # --- requests ----------------------------------------------------------------------------------

    def get(self, url: str, name: str) -> str:
        with self.client.get(url, name=name, allow_redirects=False, catch_response=True) as answer:
            if answer.status_code != 200:
                answer.failure(f"{answer.status_code} {answer.headers.get('Location', '')}")
                return ""
            page = answer.text or ""
            self.token = csrf(page) or getattr(self, "token", "")
            return page

    def post(self, url: str, name: str, fields: list[tuple[str, str]], expect: str) -> str | None:
        """POST the form; the Location of its 302 when it answers one that starts with ``expect``."""
        with self.client.post(url, name=name, data=urlencode(fields), headers=FORM, allow_redirects=False,
                              catch_response=True) as answer:
            location = answer.headers.get("Location") or ""
            if answer.status_code != 302 or expect not in location:
                text = re.sub(r"<[^>]+>", " ", answer.text or "")
                problems = [" ".join(p.split())[:160] for p in re.findall(
                    r"(?:error|refused|cannot|must|invalid|expired|missing)[^\n]{0,160}", text, re.I)]
                answer.failure(f"{answer.status_code} {location} {problems[:2]}")
                Path(os.environ["LOAD17_WRITES"]).with_name(f"refused-{uuid.uuid4().hex[:8]}.html").write_text(
                    answer.text or "")
                return None
            return location

    # --- the kinds every role has ------------------------------------------------------------------

    def search(self) -> None:
        self.get(f"/patients?{urlencode({'q': self.rng.choice(PLAN['search_terms'])})}", "search patients")

    def chart(self) -> None:
        self.get(f"/patients/{self.rng.choice(PLAN['patient_ids'])}", "open a chart")

    def reports(self) -> None:
        if self.rng.random() < 0.5:
            self.get(f"/courses/{self.rng.choice(PLAN['report_course_ids'])}/report", "reports: course report")
        else:
            self.get("/reports", "reports: clinic reports (30 days)")


class Doctor(Staff):
    role = "doctor"
    weight = 2
    _taken = itertools.count()

    def on_start(self) -> None:
        super().on_start()
        self.courses = self.account["course_ids"]
        self.to_sign: deque[int] = deque(self.account["draft_ids"])
        self.made: deque[int] = deque()

    @task(35)
    def t_search(self) -> None:
        self.search()

    @task(20)
    def t_chart(self) -> None:
        self.chart()

    @task(5)
    def t_reports(self) -> None:
        self.reports()

    @task(30)
    def draft(self) -> None:
        """Open a new session's form on a ready course and save a draft of 6–12 injection rows."""
        course_id = self.rng.choice(self.courses)
        url = f"/courses/{course_id}/sessions/new"
        if NO_DRAFT_FORM:
            when = (datetime.now(CLINIC_ZONE) - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M")
            form = [("csrf_token", self.token), ("submission", secrets.token_urlsafe(24)), ("performed_at", when)]
        else:
            page = self.get(url, "draft: open the form")
            if not page:
                return
            form = [("csrf_token", csrf(page)), ("submission", (inputs(page, "submission") or [""])[0]),
                    ("performed_at", (inputs(page, "performed_at") or [""])[0])]
        token = f"load17-{uuid.uuid4().hex}"
        rows = self.rng.randint(6, 12)
        fields = [*form, ("skin_preparation", "chlorhexidine"),
                  ("technique", "nappage"), ("needle_gauge", "32"), ("needle_length_mm", "4"), ("notes", token),
                  ("version", ""), ("preparations-0-label", "Load glow"),
                  ("preparations-0-components-0-lot_id", str(PLAN["lot_id"])),
                  ("preparations-0-components-0-units", "1"), ("preparations-0-components-0-volume_ml", "5")]
        for i, area in enumerate(self.rng.sample(AREAS, rows)):
            fields += [(f"injections-{i}-area_code", area), (f"injections-{i}-preparation", "0"),
                       (f"injections-{i}-depth_mm", "1.5"), (f"injections-{i}-volume_ml", "0.4"),
                       (f"injections-{i}-points", "20")]
        fields += [("acknowledged", code) for code in WARNINGS]
        location = self.post(url, "draft: save", fields, "/sessions/")
        if location:
            session_id = int(location.rstrip("/").rsplit("/", 1)[1])
            record("draft", session_id=session_id, course_id=course_id, token=token, rows=rows,
                   doctor=self.account["email"])
            self.made.append(session_id)

    @task(10)
    def sign(self) -> None:
        """Open one of one's drafts and sign it with the password."""
        queue = self.made if self.made else self.to_sign
        if not queue:
            return self.draft()
        session_id = queue.popleft()
        page = self.get(f"/sessions/{session_id}", "sign: open the session")
        if not page:
            return None
        location = self.post(f"/sessions/{session_id}/sign", "sign: sign",
                             [("csrf_token", csrf(page)), ("password", PLAN["password"])], f"/sessions/{session_id}")
        if location:
            record("sign", session_id=session_id)
        return None


class Nurse(Staff):
    role = "nurse"
    weight = 1
    _taken = itertools.count()

    def on_start(self) -> None:
        super().on_start()
        self.calls: deque[int] = deque(self.account["follow_up_ids"])

    @task(30)
    def t_search(self) -> None:
        self.search()

    @task(10)
    def t_chart(self) -> None:
        self.chart()

    @task(60)
    def follow_up(self) -> None:
        """The worklist, one call (reached; a third of them with a side effect to record), or, once the
        prepared calls are used up, a side effect recorded from a signed session (a call-in)."""
        self.get("/follow-ups", "follow-ups: worklist")
        if not self.calls:
            return self.side_effect(f"/sessions/{self.rng.choice(PLAN['signed_session_ids'])}/side-effects/new"
                                    "?source=chart", None)
        task_id = self.calls.popleft()
        page = self.get(f"/follow-ups/{task_id}", "follow-ups: open a call")
        if not page:
            return None
        token = f"load17-{uuid.uuid4().hex}"
        some = self.rng.random() < 1 / 3
        location = self.post(f"/follow-ups/{task_id}", "follow-ups: record the call", [
            ("csrf_token", csrf(page)), ("attempted_at", (inputs(page, "attempted_at") or [""])[0]),
            ("channel", "phone"), ("reached", "yes"), ("patient_report", "Load test call"),
            ("side_effects", "some" if some else "none"), ("reschedule_to", ""), ("note", token),
            ("version", (inputs(page, "version") or [""])[0])], "/")
        if location is None:
            return None
        record("attempt", task_id=task_id, token=token)
        if some:
            self.side_effect(location, task_id)
        return None

    def side_effect(self, url: str, task_id: int | None) -> None:
        page = self.get(url, "side effects: open the form")
        injection_ids = inputs(page, "injection_ids")
        if not page or not injection_ids:
            return
        token = f"load17-{uuid.uuid4().hex}"
        # Onset at the session's time: the prepared sessions may be only hours old, and an onset hours
        # after them could lie in the future, which the form rightly refuses.
        location = self.post(url, "side effects: save", [
            ("csrf_token", csrf(page)), ("submission", (inputs(page, "submission") or [""])[0]),
            ("type_code", self.rng.choice(("redness", "swelling", "bruising", "tenderness"))),
            ("injection_ids", self.rng.choice(injection_ids)), ("onset_hours", "0"), ("grade", "1"),
            ("action", "none"), ("causality", "possible"), ("outcome", "ongoing"), ("note", token)],
            "/follow-ups/" if task_id else "/side-effects/")
        if location:
            side_effect_id = None if task_id else int(location.rstrip("/").rsplit("/", 1)[1])
            record("side_effect", token=token, task_id=task_id, side_effect_id=side_effect_id)


class Auditor(Staff):
    role = "auditor"
    weight = 1
    _taken = itertools.count()

    @task(40)
    def t_search(self) -> None:
        self.search()

    @task(30)
    def t_chart(self) -> None:
        self.chart()

    @task(20)
    def trace(self) -> None:
        self.get(f"/trace?{urlencode({'lot': self.rng.choice(PLAN['lot_numbers'])})}", "trace a lot")

    @task(10)
    def t_reports(self) -> None:
        self.reports()


class Health(FastHttpUser):
    """The baseline: `/health` alone, as fast as it answers."""

    wait_time = constant(0)

    @task
    def health(self) -> None:
        with self.client.get("/health", name="/health", catch_response=True) as answer:
            if answer.status_code != 200:
                answer.failure(str(answer.status_code))
