"""Hostile input into every form field and URL parameter of every page, as every role: never a 5xx,
and a refused request writes nothing (issue 12, item 7; SECURITY.md I3, I5).

The forms are found the way a user finds them: each role signs in and walks the app from its home
page, following links (at most a few pages per endpoint), and every ``<form>`` on those pages is kept
with its fields and their values. Every route is also visited with its ids filled in, so a page no
link reaches is still walked. Then hypothesis sends the forms back with one field (or every field) set
to a hostile value: NUL, lone surrogates and other invalid UTF-8, bidirectional overrides and
zero-width characters, numbers far past 2^63, dates in year 1 and 99999, a megabyte-long string.
Each sending runs in a SAVEPOINT that is rolled back after it, so every example starts from the same
demo clinic: an admin deactivating the doctor or a nurse signing herself out changes nothing for
the next one. "Nothing half-written" is read from the audit trail, which records every row change
on its own: a refused request may leave a sign-in or permission row, never a created, changed,
voided or deleted record.

CI runs 500 examples per test on SQLite and PostgreSQL, derandomized so that a failure is the same on
every run; ``FUZZ_EXAMPLES=20000`` runs that many, random each time, to look further.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import MethodNotAllowed, NotFound

from clinic.audit.models import AuditEvent
from clinic.auth.models import User
from clinic.extensions import db
from clinic.tracing.recalls import RecallInput, open_recall
from tests.conftest import PASSWORDS, ROLES, ClinicClient, shared_rows, signed_in_client

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "500"))
PAGES_PER_ENDPOINT = 1
COOKIE = "clinic_session"
# Audit actions that mean a record was written. A refused request may leave others (a refusal, a
# wrong password, a sign-out), never these.
WRITES = frozenset({"create", "update", "delete", "void", "lock"})
# Sending these forms ends the test client's session, which every example needs.
SESSION_ENDERS = frozenset({"auth.logout"})
# Pages for someone signed out: opening them starts a new session.
NOT_WALKED = frozenset({"static", "auth.login", "auth.second_factor", "auth.reset_password"})
# PDFs handed to patients: costly to make and holding no form.
HANDOUTS = (".pdf", "/pdf", "/aftercare", "/letter")

HOSTILE: tuple[bytes, ...] = (
    b"\x00", b"Durand\x00--", b"\xed\xa0\x80", b"\xed\xbf\xbf\xed\xa0\x80", b"\xff\xfe\xfd", b"\xc0\xaf",
    "\u202eevil\u202c".encode(), "Ad\u200bam\u2066".encode(), "\ufeff".encode(), "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 🧪".encode(),
    b"9" * 40, b"-9223372036854775809", b"9223372036854775808", b"2147483648", b"-1", b"0", b"1e308",
    b"NaN", b"-0.0", b"0x7fffffff", b"0001-01-01", b"0001-01-01T00:00", b"99999-12-31", b"9999-12-31T23:59",
    b"2031-02-30", b"1900-01-00", b"2031-06-15T25:61", b"", b" ", b"%00", b"'; DROP TABLE patient; --",
    b"=HYPERLINK(\"http://evil.example\")", b"<script>alert(1)</script>", b"../../etc/passwd",
    b"x" * 1_000_000,
)
hostile_values = st.one_of(
    st.sampled_from(HOSTILE),
    st.binary(max_size=40),
    st.text(max_size=40).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.integers(min_value=-(2**80), max_value=2**80).map(lambda n: str(n).encode()),
    st.datetimes().map(lambda moment: moment.isoformat(timespec="minutes").encode()),
)


# --- finding the forms ---------------------------------------------------------------


@dataclass(frozen=True)
class Form:
    role: str
    page: str
    action: str
    method: str
    fields: tuple[tuple[str, str], ...]  # name, value as the page gave it (repeats for multi-selects)
    endpoint: str

    @property
    def names(self) -> list[str]:
        return sorted({name for name, _ in self.fields if name not in ("csrf_token", "submission")})


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.forms: list[dict[str, object]] = []
        self._form: dict[str, object] | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form":
            self._form = {"action": a.get("action", ""), "method": a.get("method", "get").lower(), "fields": []}
            self.forms.append(self._form)
        elif self._form is None or not a.get("name"):
            return
        elif tag == "input":
            kind = a.get("type", "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in a:
                self._fields().append((a["name"], None))  # known, not sent unless chosen
            elif kind not in ("submit", "button", "image", "file"):
                self._fields().append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select = a["name"]
            self._fields().append((a["name"], None))
        elif tag == "textarea":
            self._textarea = a["name"]
            self._fields().append((a["name"], ""))
        if tag == "option" and self._select and "selected" in a:
            self._fields().append((self._select, a.get("value", "")))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea and self._form is not None:
            fields = self._fields()
            fields[-1] = (self._textarea, (fields[-1][1] or "") + data)

    def _fields(self) -> list[tuple[str, str | None]]:
        assert self._form is not None
        return self._form["fields"]  # type: ignore[return-value]


def _endpoint(app: Flask, url: str, method: str) -> str | None:
    parts = urlsplit(url)
    try:
        endpoint, _ = app.url_map.bind("localhost").match(parts.path, method=method.upper())
    except (NotFound, MethodNotAllowed):
        return None
    return endpoint


def _filled_rules(app: Flask) -> list[str]:
    """Every GET route with its ids filled from rows that exist (the first of each kind)."""
    from tests.test_permissions import _url

    ids = {"patient_id": "patient", "course_id": "course", "session_id": "treatment_session",
           "lot_id": "lot", "product_id": "product", "recall_id": "recall", "screening_id": "screening",
           "consent_id": "consent", "side_effect_id": "side_effect", "task_id": "follow_up_task"}
    tables = set(sa.inspect(db.session.connection()).get_table_names())
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        url = rule.rule
        for name, table in ids.items():
            if f"<int:{name}>" in url and table in tables:
                first = db.session.execute(sa.text(f'SELECT min(id) FROM "{table}"')).scalar()  # noqa: S608
                url = url.replace(f"<int:{name}>", str(first or 1))
        user = db.session.scalar(sa.select(User.id).where(User.role == "nurse"))
        urls.append(_url(url, user or 1))
    return urls


def _walk(app: Flask, role: str, client: ClinicClient, seeds: list[str]) -> tuple[list[str], list[Form]]:
    """The pages ``role`` reaches from its home page, ``seeds`` (always opened) and every filled route,
    and their forms."""
    queue, seen, pages, forms = ["/", *seeds, *_filled_rules(app)], set(), [], {}
    per_endpoint: dict[str, int] = {}
    while queue:
        url = queue.pop(0)
        path = urlsplit(url).path + ("?" + urlsplit(url).query if urlsplit(url).query else "")
        endpoint = _endpoint(app, path, "get")
        if (path in seen or endpoint is None or endpoint in NOT_WALKED or endpoint.startswith("patient_report.")
                or path.endswith(HANDOUTS)):
            continue
        seen.add(path)
        if per_endpoint.get(endpoint, 0) >= PAGES_PER_ENDPOINT and path not in seeds:
            continue
        per_endpoint[endpoint] = per_endpoint.get(endpoint, 0) + 1
        response = client.get(path)
        if response.status_code != 200 or not response.mimetype == "text/html":
            response.close()
            continue
        pages.append(path)
        parsed = _Page()
        parsed.feed(response.get_data(as_text=True))
        queue.extend(urljoin(path, link) for link in parsed.links if not urlsplit(link).netloc)
        for found in parsed.forms:
            action = urljoin(path, str(found["action"]) or path)
            method = str(found["method"])
            target = _endpoint(app, action, method)
            if target is None or target in SESSION_ENDERS:
                continue
            fields = tuple((name, value) for name, value in found["fields"] if value is not None)  # type: ignore[union-attr]
            known = tuple((name, "") for name, value in found["fields"] if value is None  # type: ignore[union-attr]
                          and name not in {n for n, _ in fields})
            form = Form(role, path, action, method, fields + known, target)
            forms.setdefault((role, target, tuple(form.names)), form)
    return pages, list(forms.values())


@dataclass
class Clinic:
    cookies: dict[str, str]
    pages: list[tuple[str, str]]
    forms: list[Form]


def _demo_clinic_walked(app: Flask) -> Clinic:
    from clinic.inventory.demo import seed_demo_stock
    from clinic.records.demo import seed_demo_patients
    from clinic.records.followups.demo import seed_demo_follow_ups
    from clinic.records.treatments.demo import seed_demo_courses
    from tests.conftest import create_staff

    staff = create_staff()
    seed_demo_stock(receiver=staff["nurse"], holder=staff["auditor"])
    seed_demo_patients(doctor=staff["doctor"], nurse=staff["nurse"], count=6)
    seed_demo_courses(doctor=staff["doctor"], nurse=staff["nurse"])
    seed_demo_follow_ups(nurse=staff["nurse"])
    recalled = db.session.execute(sa.text("SELECT min(lot_id) FROM preparation_component")).scalar()
    recall = open_recall(RecallInput(reason="Supplier notice: particles in vials", source="manufacturer",
                                     lot_ids=[recalled]), staff["auditor"])
    db.session.commit()
    seeds = [f"/sessions/{number}" for number in db.session.scalars(sa.text("SELECT id FROM treatment_session"))]
    seeds.append(f"/recalls/{recall.id}")
    cookies, pages, forms = {}, [], []
    for role in ROLES:
        client = signed_in_client(app, staff[role])
        role_pages, role_forms = _walk(app, role, client, seeds)
        pages += [(role, page) for page in role_pages]
        forms += role_forms
        cookie = client.get_cookie(COOKIE)
        assert cookie is not None
        cookies[role] = cookie.value
    db.session.commit()
    return Clinic(cookies, pages, forms)


@pytest.fixture(scope="module")
def clinic(shared_app: Flask) -> Iterator[Clinic]:
    with shared_rows(shared_app, "clinic", lambda: _demo_clinic_walked(shared_app)) as walked:
        yield walked


# --- sending hostile values ----------------------------------------------------------


def _as(app: Flask, clinic: Clinic, role: str) -> ClinicClient:
    """A browser holding ``role``'s session cookie from the walk, and nothing else."""
    app.test_client_class = ClinicClient
    client: ClinicClient = app.test_client()  # type: ignore[assignment]
    client.set_cookie(COOKIE, clinic.cookies[role])
    return client


def _send(client: ClinicClient, method: str, url: str, fields: list[tuple[str, bytes]]):
    body = urlencode(fields).encode()
    if method == "get":
        sep = "&" if "?" in url else "?"
        return client.get(url + (sep + body.decode() if body else ""))
    return client.post(url, data=body, content_type="application/x-www-form-urlencoded")


def _sent_in_a_savepoint(app: Flask, send) -> None:  # type: ignore[no-untyped-def]
    """Send, check the answer, and roll everything it wrote back."""
    from tests.conftest import _end_the_test_sessions_transaction

    _end_the_test_sessions_transaction()
    connection = db.engine
    assert isinstance(connection, sa.Connection)
    savepoint = connection.begin_nested()
    try:
        before = connection.execute(sa.select(sa.func.max(AuditEvent.seq))).scalar() or 0
        response = send()
        status = response.status_code
        response.close()
        assert status < 500, f"{status} for {send.__doc__}"
        if status >= 400:
            written = connection.execute(
                sa.select(AuditEvent.action, AuditEvent.record_type)
                .where(AuditEvent.seq > before, AuditEvent.action.in_(WRITES))
                .where(AuditEvent.record_type.not_in(("login_failure", "form_submission")))
            ).all()
            assert written == [], f"{status} for {send.__doc__} but it wrote {written}"
    finally:
        db.session.remove()
        if savepoint.is_active:
            savepoint.rollback()


def _field_values(form: Form, target: str | None, value: bytes) -> list[tuple[str, bytes]]:
    """The form as the page gave it, ``target`` (or every field when None) set to ``value``, a fresh
    one-time key and the role's own password where one is asked."""
    sent: list[tuple[str, bytes]] = []
    for name, default in form.fields:
        if name == "submission":
            sent.append((name, secrets.token_urlsafe(24).encode()))
        elif name == "csrf_token":
            sent.append((name, default.encode()))
        elif target == name or (target is None and name != "password"):
            sent.append((name, value))
        elif name == "password":
            sent.append((name, PASSWORDS[form.role].encode()))
        else:
            sent.append((name, default.encode()))
    return sent


FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, derandomize="FUZZ_EXAMPLES" not in os.environ, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


def test_the_walk_reaches_the_forms_of_every_role(clinic: Clinic) -> None:
    reached = {(form.role, form.endpoint) for form in clinic.forms}
    for must in [("doctor", "treatments.new_session"), ("nurse", "patients.register"),
                 ("nurse", "inventory.receive"), ("auditor", "tracing.new_recall"), ("admin", "admin.new_user"),
                 ("doctor", "patients.search"), ("nurse", "followups.show_follow_up"), ("doctor", "treatments.sign"),
                 ("doctor", "treatments.amend"), ("nurse", "tracing.contact"), ("doctor", "followups.new_side_effect")]:
        assert must in reached, f"the walk did not find {must}"
    assert len(clinic.forms) >= 60


@FUZZ_SETTINGS
@given(data=st.data())
def test_a_hostile_value_in_any_form_field_is_never_a_500_nor_half_written(
    app: Flask, clinic: Clinic, data: st.DataObject
) -> None:
    form = data.draw(st.sampled_from(clinic.forms), label="form")
    target = data.draw(st.sampled_from([None, *[n for n in form.names if n != "password"]]), label="field")
    value = data.draw(hostile_values, label="value")
    client = _as(app, clinic, form.role)

    def send():  # type: ignore[no-untyped-def]
        return _send(client, form.method, form.action, _field_values(form, target, value))

    send.__doc__ = f"{form.role} {form.method.upper()} {form.action} {target}={value[:60]!r}"
    _sent_in_a_savepoint(app, send)


@FUZZ_SETTINGS
@given(data=st.data())
def test_a_hostile_value_in_any_url_parameter_or_id_is_never_a_500(
    app: Flask, clinic: Clinic, data: st.DataObject
) -> None:
    role, page = data.draw(st.sampled_from(clinic.pages), label="page")
    value = data.draw(hostile_values, label="value")
    path, _, query = page.partition("?")
    segments = path.split("/")
    numeric = [i for i, part in enumerate(segments) if part.isdigit()]
    if numeric and data.draw(st.booleans(), label="in the path"):
        index = data.draw(st.sampled_from(numeric))
        segments[index] = value.decode("latin-1").replace("/", "").replace("?", "").replace("#", "") or "0"
        url, fields = "/".join(segments), []
    else:
        names = sorted({name for name, _ in (pair.partition("=")[::2] for pair in query.split("&")) if name}
                       | {"q", "page", "before", "after", "lot", "format", "status", "date_from", "date_to", "next"})
        url, fields = path, [(data.draw(st.sampled_from(names), label="parameter"), value)]
    client = _as(app, clinic, role)

    def send():  # type: ignore[no-untyped-def]
        from urllib.parse import quote
        return client.get(quote(url, safe="/%") + ("?" + urlencode(fields) if fields else ""))

    send.__doc__ = f"{role} GET {url} {fields[:1]!r}"[:300]
    _sent_in_a_savepoint(app, send)


@pytest.mark.parametrize("value", [b"\x00", b"\xed\xa0\x80", "\u202e\u200b".encode(), b"9" * 40,
                                   b"0001-01-01T00:00", b"x" * 100_000])
def test_every_form_with_every_field_hostile_at_once(app: Flask, clinic: Clinic, value: bytes) -> None:
    for form in clinic.forms:
        client = _as(app, clinic, form.role)

        def send(form: Form = form, client: ClinicClient = client):  # type: ignore[no-untyped-def]
            return _send(client, form.method, form.action, _field_values(form, None, value))

        send.__doc__ = f"{form.role} {form.method.upper()} {form.action} every field={value[:20]!r}"
        _sent_in_a_savepoint(app, send)
