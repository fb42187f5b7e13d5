"""Accounts and sign-in, told as clinic stories (SECURITY.md A1-A4, I4, Z4, Z5).

Everything goes through the real routes with CSRF tokens, as a browser would.
Time-dependent stories freeze the clock with time_machine and sign in inside
the frozen time, so session and throttle timestamps are all on the same clock.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pyotp
import pytest
import sqlalchemy as sa
import time_machine
from argon2 import PasswordHasher
from flask import Flask

from clinic.auth import services
from clinic.auth.models import PasswordReset, RecoveryCode, User
from clinic.auth.permissions import ENROLMENT_ENDPOINTS, PUBLIC, allowed_roles
from clinic.core.errors import ClinicError
from clinic.extensions import db
from config import ROLES, Config, ProductionConfig
from tests.conftest import CSRF_RE, PASSWORDS, ClinicClient, audit_rows

# 09:00:00 UTC: a whole number of 30-second TOTP steps since the epoch.
T0 = datetime(2031, 3, 4, 9, 0, tzinfo=UTC)
NEW_PASSWORD = "lantern orchard pebble migration"
WRONG_PASSWORD = "not the right passphrase at all"

SECRET_RE = re.compile(r'<code id="totp-secret">([A-Z2-7]+)</code>')
RECOVERY_RE = re.compile(r"<li><code>([0-9a-f]{5}-[0-9a-f]{5})</code></li>")
RESET_LINK_RE = re.compile(r'<code class="breakable">([^<]+)</code>')
CSRF_VALUE_RE = re.compile(r'(name="csrf_token"[^>]*value=")[^"]+(")')
NEXT_VALUE_RE = re.compile(r'name="next" type="hidden" value="([^"]*)"')


# --- helpers ------------------------------------------------------------------------


def new_client(app: Flask) -> ClinicClient:
    app.test_client_class = ClinicClient
    return app.test_client()  # type: ignore[return-value]


def text(response) -> str:
    return response.get_data(as_text=True)


def path_of(response) -> str:
    return urlsplit(response.location).path


def csrf_from(page: str) -> str:
    match = CSRF_RE.search(page)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


def signed_in(app: Flask, email: str, password: str) -> ClinicClient:
    client = new_client(app)
    response = client.sign_in(email, password)
    assert response.status_code == 302 and path_of(response) == "/", text(response)
    return client


def reload(user: User) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


def user_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(User))


def enrol_two_step(client: ClinicClient) -> tuple[str, list[str]]:
    """Open the set-up page, type the key into an 'app', confirm with its current code."""
    page = client.get("/account/two-step")
    assert page.status_code == 200
    secret = SECRET_RE.search(text(page)).group(1)
    with client.session_transaction() as session:
        assert session["totp_secret_pending"] == secret
    response = client.post("/account/two-step", data={
        "csrf_token": csrf_from(text(page)), "code": pyotp.TOTP(secret).now(),
    })
    assert response.status_code == 200, text(response)
    codes = RECOVERY_RE.findall(text(response))
    assert len(codes) == services.RECOVERY_CODE_COUNT
    return secret, codes


def password_step(app: Flask, email: str, password: str) -> ClinicClient:
    client = new_client(app)
    response = client.sign_in(email, password)
    assert response.status_code == 302 and path_of(response) == "/login/code"
    return client


def comparable(response, email: str) -> str:
    """The page with the per-session CSRF token and the echoed email masked."""
    page = CSRF_VALUE_RE.sub(r"\1TOKEN\2", text(response))
    return page.replace(f'value="{email}"', 'value="EMAIL"')


SAMPLE_VALUES = {"int": None, "uuid": "00000000-0000-4000-8000-000000000000", "float": "1.0"}


def fill_rule(rule: str, some_id: int) -> str:
    """A URL matching the rule: a real account id for numbers, a dummy for the rest."""
    def sample(match: re.Match[str]) -> str:
        converter = match.group(1) or "default"
        value = SAMPLE_VALUES.get(converter, "x")
        return str(some_id) if value is None else value
    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>", sample, rule)


def attempt(client: ClinicClient, token: str, email: str, password: str):
    return client.post("/login", data={"csrf_token": token, "email": email, "password": password})


# --- A1: one named account per person, never deleted ---------------------------------


def test_alice_cannot_have_two_accounts_differing_only_in_case(app: Flask) -> None:
    alice = services.create_user("Alice@Clinic.example", "Alice Martin", "nurse",
                                 PASSWORDS["nurse"])
    db.session.commit()
    assert alice.email == "alice@clinic.example"
    with pytest.raises(ClinicError, match="already exists"):
        services.create_user("alice@clinic.example", "Alice Again", "doctor", PASSWORDS["doctor"])
    db.session.rollback()
    assert services.find_user_by_email("ALICE@clinic.EXAMPLE").id == alice.id
    assert user_count() == 1


def test_the_admin_form_refuses_a_second_alice_in_other_case(admin_client, staff) -> None:
    admin_client.submit("/admin/users/new", {
        "email": "alice@clinic.example", "full_name": "Alice Martin", "role": "nurse", "password": PASSWORDS["admin"],
    })
    before = user_count()
    response = admin_client.submit("/admin/users/new", {
        "email": "Alice@Clinic.example", "full_name": "Alice Impostor", "role": "admin",
        "password": PASSWORDS["admin"],
    })
    assert response.status_code == 400
    assert 'id="email-error"' in text(response)
    assert "An account with this email already exists." in text(response)
    assert user_count() == before
    alices = sa.select(User.full_name).where(User.email.ilike("alice@%"))
    assert db.session.scalars(alices).all() == ["Alice Martin"]


def test_alice_signs_in_whatever_case_she_types(client, staff) -> None:
    response = client.sign_in("  NURSE@Example.TEST ", PASSWORDS["nurse"])
    assert response.status_code == 302 and path_of(response) == "/"


def test_no_route_deletes_an_account(app: Flask) -> None:
    rules = list(app.url_map.iter_rules())
    assert rules
    assert [r.rule for r in rules if "DELETE" in (r.methods or set())] == []
    assert [r.endpoint for r in rules if "delete" in r.endpoint.lower()] == []
    assert [r.rule for r in rules if "delete" in r.rule.lower()] == []


def test_a_leaver_is_deactivated_and_stays_on_record(app: Flask, admin_client, staff) -> None:
    nurse = staff["nurse"]
    response = admin_client.submit(f"/admin/users/{nurse.id}/deactivate")
    assert response.status_code == 302
    nurse = reload(nurse)
    assert nurse is not None and nurse.deactivated_at is not None
    assert new_client(app).sign_in(nurse.email, PASSWORDS["nurse"]).status_code == 401
    assert "Test Nurse" in text(admin_client.get("/admin/users"))


# --- A2: Argon2id, length and common-password rules, rehash, change needs current ----------


def test_passwords_are_stored_as_argon2id_hashes(staff) -> None:
    for role, user in staff.items():
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORDS[role] not in user.password_hash


def _open_account(admin_client, email: str, name: str, role: str = "nurse") -> str:
    """An admin opens an account; the answer shows the one-time link the person uses."""
    opened = admin_client.submit("/admin/users/new", {"email": email, "full_name": name, "role": role,
                                                         "password": PASSWORDS["admin"]})
    assert opened.status_code == 303, text(opened)  # post/redirect/get: a reload opens nothing twice
    response = admin_client.get(opened.location)
    assert f"Account opened for {name}" in text(response)
    assert not RESET_LINK_RE.search(text(admin_client.get(opened.location)))  # shown once
    link = html.unescape(RESET_LINK_RE.search(text(response)).group(1))
    return urlsplit(link).path


def test_a_new_account_gets_a_one_time_link_and_nobody_knows_its_password(app: Flask, admin_client) -> None:
    path = _open_account(admin_client, "nadia@clinic.example", "Nadia Newcomer")
    person = new_client(app)
    response = person.submit(path, {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert response.status_code == 302
    signed_in(app, "nadia@clinic.example", NEW_PASSWORD)


def test_an_account_without_a_role_chosen_is_refused_and_the_form_kept(admin_client) -> None:
    before = user_count()
    response = admin_client.submit("/admin/users/new", {"email": "x@clinic.example", "full_name": "Xavi X",
                                                       "password": PASSWORDS["admin"]})
    assert response.status_code == 400
    assert "Choose the person&#39;s role." in text(response) or "Choose the person's role." in text(response)
    assert 'value="Xavi X"' in text(response) and user_count() == before


@pytest.mark.parametrize(("password", "message"), [
    ("password1234", "passphrase"),
    ("Xq7#vL2!pw", "at least 12 characters"),  # 10 characters, however random
    ("Summer2024!!!", "passphrase"),  # a season, a year and some "!": guessed in about 10^8.6 tries
])
def test_a_weak_first_password_is_refused_next_to_the_field(app: Flask, admin_client, password, message) -> None:
    path = _open_account(admin_client, "weak@clinic.example", "Wendy Weak")
    person = new_client(app)
    response = person.submit(path, {"new_password": password, "confirm_password": password})
    page = text(response)
    assert response.status_code == 400
    error = re.search(r'<small id="new_password-error"[^>]*>([^<]+)</small>', page)
    assert error and message in error.group(1)
    assert password not in page  # the password itself is not echoed back


def test_a_long_passphrase_without_symbols_or_digits_is_welcome(app: Flask, admin_client) -> None:
    passphrase = "the heron waits by the cold river while the market town sleeps " * 3
    path = _open_account(admin_client, "heron@clinic.example", "Hana Heron")
    response = new_client(app).submit(path, {"new_password": passphrase, "confirm_password": passphrase})
    assert response.status_code == 302
    signed_in(app, "heron@clinic.example", passphrase)


def test_the_service_refuses_common_and_short_passwords(app: Flask) -> None:
    for weak in ("password1234", "qwertyuiop123", "short"):
        with pytest.raises(services.PasswordRejected):
            services.check_new_password(weak)
    services.check_new_password(NEW_PASSWORD)


def test_a_legacy_hash_is_upgraded_after_sign_in(client, staff) -> None:
    nurse = staff["nurse"]
    legacy = PasswordHasher(time_cost=1, memory_cost=512, parallelism=1).hash(PASSWORDS["nurse"])
    nurse.password_hash = legacy
    db.session.commit()

    response = client.sign_in(nurse.email, PASSWORDS["nurse"])

    assert response.status_code == 302
    upgraded = reload(nurse).password_hash
    assert upgraded != legacy
    assert upgraded.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert not services._hasher().check_needs_rehash(upgraded)
    PasswordHasher().verify(upgraded, PASSWORDS["nurse"])


def test_a_legacy_hash_is_left_alone_after_a_wrong_password(client, staff) -> None:
    nurse = staff["nurse"]
    legacy = PasswordHasher(time_cost=1, memory_cost=512, parallelism=1).hash(PASSWORDS["nurse"])
    nurse.password_hash = legacy
    db.session.commit()
    assert client.sign_in(nurse.email, WRONG_PASSWORD).status_code == 401
    assert reload(nurse).password_hash == legacy


def test_changing_a_password_needs_the_current_one(app: Flask, nurse_client, staff) -> None:
    nurse = staff["nurse"]
    before = nurse.password_hash
    response = nurse_client.submit("/account/password", {
        "current_password": WRONG_PASSWORD, "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD,
    })
    assert response.status_code == 400
    assert re.search(r'<small id="current_password-error"[^>]*>'
                     r"Your current password is not correct.", text(response))
    assert reload(nurse).password_hash == before
    [failed] = audit_rows("reauth_failed")
    assert failed.user_id == nurse.id and failed.reason == "password change"
    signed_in(app, nurse.email, PASSWORDS["nurse"])


def test_a_new_password_must_also_pass_the_rules(nurse_client, staff) -> None:
    nurse = staff["nurse"]
    before = nurse.password_hash
    response = nurse_client.submit("/account/password", {
        "current_password": PASSWORDS["nurse"], "new_password": "password1234",
        "confirm_password": "password1234",
    })
    assert response.status_code == 400
    assert 'id="new_password-error"' in text(response)
    assert reload(nurse).password_hash == before


def test_a_nurse_changes_her_password_with_the_current_one(app: Flask, nurse_client, staff) -> None:
    nurse = staff["nurse"]
    response = nurse_client.submit("/account/password", {
        "current_password": PASSWORDS["nurse"], "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD,
    })
    assert response.status_code == 302 and path_of(response) == "/account"
    assert reload(nurse).password_hash.startswith("$argon2id$")
    assert new_client(app).sign_in(nurse.email, PASSWORDS["nurse"]).status_code == 401
    signed_in(app, nurse.email, NEW_PASSWORD)


# --- A3: two-step sign-in ---------------------------------------------------------------


def test_enrolment_shows_the_key_and_the_recovery_codes_once(
    app: Flask, nurse_client, staff
) -> None:
    nurse = staff["nurse"]
    page = nurse_client.get("/account/two-step")
    wrong = nurse_client.post("/account/two-step", data={"csrf_token": csrf_from(text(page)),
                                                          "code": "000000"})
    assert wrong.status_code == 400
    assert not reload(nurse).totp_enabled

    secret, codes = enrol_two_step(nurse_client)

    nurse = reload(nurse)
    assert nurse.totp_enabled and nurse.totp_secret == secret
    with nurse_client.session_transaction() as session:
        assert "totp_secret_pending" not in session
    # Only digests are kept, and the codes never appear again.
    stored = db.session.scalars(
        sa.select(RecoveryCode.code_hash).where(RecoveryCode.user_id == nurse.id)
    )
    assert not set(stored) & set(codes)
    account = text(nurse_client.get("/account"))
    assert not any(code in account for code in codes)
    assert "10</strong> unused recovery codes" in account
    again = nurse_client.get("/account/two-step")
    assert again.status_code == 302 and path_of(again) == "/account"


def test_with_two_step_on_a_password_alone_does_not_sign_in(app: Flask, staff) -> None:
    nurse = staff["nurse"]
    enrol_two_step(signed_in(app, nurse.email, PASSWORDS["nurse"]))
    client = password_step(app, nurse.email, PASSWORDS["nurse"])
    response = client.get("/account")
    assert response.status_code == 302 and path_of(response) == "/login"


def test_the_same_code_works_only_once(app: Flask, staff) -> None:
    nurse = staff["nurse"]
    with time_machine.travel(T0, tick=False) as traveller:
        secret, _ = enrol_two_step(signed_in(app, nurse.email, PASSWORDS["nurse"]))
        totp = pyotp.TOTP(secret)

        # The code just used to enrol cannot sign anyone in.
        replay = password_step(app, nurse.email, PASSWORDS["nurse"])
        assert replay.submit("/login/code", {"code": totp.at(T0)}).status_code == 401

        traveller.shift(timedelta(seconds=30))
        code = totp.at(datetime.now(UTC))
        first = password_step(app, nurse.email, PASSWORDS["nurse"])
        response = first.submit("/login/code", {"code": code})
        assert response.status_code == 302 and path_of(response) == "/"
        assert first.get("/account").status_code == 200

        # Someone who watched the code being typed tries it straight away...
        second = password_step(app, nurse.email, PASSWORDS["nurse"])
        refused = second.submit("/login/code", {"code": code})
        assert refused.status_code == 401
        assert "Codes can be used only once" in text(refused)
        # ...or half a minute later, still inside the drift window.
        traveller.shift(timedelta(seconds=30))
        third = password_step(app, nurse.email, PASSWORDS["nurse"])
        assert third.submit("/login/code", {"code": code}).status_code == 401
        assert third.get("/account").status_code == 302

    reasons = [row.reason for row in audit_rows("login_failed")]
    assert reasons == ["wrong second-factor code"] * 3
    assert len(audit_rows("login")) == 2  # the enrolling sign-in and the first code


def test_a_code_from_ninety_seconds_ago_fails(app: Flask, staff) -> None:
    nurse = staff["nurse"]
    with time_machine.travel(T0, tick=False) as traveller:
        secret, _ = enrol_two_step(signed_in(app, nurse.email, PASSWORDS["nurse"]))
        totp = pyotp.TOTP(secret)
        traveller.shift(timedelta(minutes=5))
        now = datetime.now(UTC)

        stale = password_step(app, nurse.email, PASSWORDS["nurse"])
        old_code = totp.at(now - timedelta(seconds=90))
        assert stale.submit("/login/code", {"code": old_code}).status_code == 401
        assert stale.get("/").status_code == 302

        # A phone clock 30 s behind is still fine.
        slow = password_step(app, nurse.email, PASSWORDS["nurse"])
        response = slow.submit("/login/code", {"code": totp.at(now - timedelta(seconds=30))})
        assert response.status_code == 302 and path_of(response) == "/"


def test_a_recovery_code_works_once(app: Flask, staff) -> None:
    nurse = staff["nurse"]
    _, codes = enrol_two_step(signed_in(app, nurse.email, PASSWORDS["nurse"]))

    phone_lost = password_step(app, nurse.email, PASSWORDS["nurse"])
    response = phone_lost.submit("/login/code", {"code": codes[0]})
    assert response.status_code == 302 and path_of(response) == "/"
    assert "9</strong> unused recovery codes" in text(phone_lost.get("/account"))

    again = password_step(app, nurse.email, PASSWORDS["nurse"])
    assert again.submit("/login/code", {"code": codes[0]}).status_code == 401
    response = again.submit("/login/code", {"code": codes[1]})
    assert response.status_code == 302 and path_of(response) == "/"


def test_production_requires_two_step_sign_in_for_every_role() -> None:
    assert set(ProductionConfig.TOTP_REQUIRED_ROLES) == set(ROLES)


class TestWhenDoctorsMustUseTwoStep:
    """TOTP_REQUIRED_ROLES = ("doctor",): a doctor must enrol before anything else."""

    @pytest.fixture
    def config_overrides(self) -> dict[str, object]:
        return {"TOTP_REQUIRED_ROLES": ("doctor",)}

    def test_a_doctor_without_two_step_is_sent_to_enrol_from_every_page(
        self, app: Flask, doctor_client, staff
    ) -> None:
        checked = 0
        for rule in app.url_map.iter_rules():
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                if (allowed_roles(rule.endpoint, method) is PUBLIC
                        or rule.endpoint in ENROLMENT_ENDPOINTS):
                    continue
                url = fill_rule(rule.rule, staff["nurse"].id)
                if method == "GET":
                    response = doctor_client.get(url)
                else:
                    response = doctor_client.submit(url, {})
                assert response.status_code == 302, (method, url)
                assert path_of(response) == "/account/two-step", (method, url)
                checked += 1
        assert checked >= 15
        assert reload(staff["nurse"]).is_active  # the refused POSTs changed nothing

    def test_other_roles_carry_on_as_usual(self, nurse_client) -> None:
        assert nurse_client.get("/").status_code == 200

    def test_once_enrolled_the_doctor_gets_in(self, doctor_client) -> None:
        enrol_two_step(doctor_client)
        assert doctor_client.get("/").status_code == 200
        assert doctor_client.get("/account").status_code == 200

    def test_a_doctor_cannot_turn_two_step_off(self, app: Flask, staff) -> None:
        with time_machine.travel(T0, tick=False) as traveller:
            doctor = signed_in(app, staff["doctor"].email, PASSWORDS["doctor"])
            secret, _ = enrol_two_step(doctor)
            traveller.shift(timedelta(seconds=30))
            response = doctor.submit("/account/two-step/off", {"password": PASSWORDS["doctor"],
                                                                "code": pyotp.TOTP(secret).now()})
            assert response.status_code == 302
            assert "cannot be turned off" in text(doctor.get("/account"))
        assert reload(staff["doctor"]).totp_enabled


# --- A4: throttling, identical failures, auditing ------------------------------------------


def test_unknown_account_and_wrong_password_get_the_same_answer(client, staff) -> None:
    token = client.csrf_token()
    unknown = attempt(client, token, "nobody@example.test", WRONG_PASSWORD)
    wrong = attempt(client, token, staff["nurse"].email, WRONG_PASSWORD)
    assert unknown.status_code == wrong.status_code == 401
    assert comparable(unknown, "nobody@example.test") == comparable(wrong, staff["nurse"].email)
    assert "The email or password is not correct." in text(wrong)
    assert {k for k, _ in unknown.headers if k != "Content-Length"} == {
        k for k, _ in wrong.headers if k != "Content-Length"
    }
    rows = audit_rows("login_failed")
    assert [(r.user_id, r.reason) for r in rows] == [
        (None, "unknown account"), (staff["nurse"].id, "wrong password"),
    ]


def test_a_deactivated_account_gets_the_same_answer_as_a_wrong_password(
    app: Flask, client, staff
) -> None:
    nurse = staff["nurse"]
    token = client.csrf_token()
    wrong = attempt(client, token, nurse.email, WRONG_PASSWORD)
    services.deactivate_user(nurse, staff["admin"])
    db.session.commit()
    deactivated = attempt(client, token, nurse.email, PASSWORDS["nurse"])
    assert deactivated.status_code == wrong.status_code == 401
    assert comparable(deactivated, nurse.email) == comparable(wrong, nurse.email)
    assert audit_rows("login_failed")[-1].reason == "account deactivated"
    assert client.get("/").status_code == 302


def test_twenty_rapid_failures_are_refused_with_429_and_all_audited(app: Flask, staff) -> None:
    nurse = staff["nurse"]
    with time_machine.travel(T0, tick=False):
        client = new_client(app)
        token = client.csrf_token()
        statuses = [
            attempt(client, token, nurse.email, WRONG_PASSWORD).status_code for _ in range(20)
        ]
        assert statuses == [401] * 5 + [429] * 15

        # Even the right password waits out the pause.
        response = attempt(client, token, nurse.email, PASSWORDS["nurse"])
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) > 0
        assert "Too many failed sign-in attempts" in text(response)
        assert "try again in 1 minute" in text(response)

    failed, throttled = audit_rows("login_failed"), audit_rows("login_throttled")
    assert len(failed) + len(throttled) == 21
    assert len(failed) == 5
    assert audit_rows("login") == []


def test_back_off_doubles_and_lets_her_in_after_waiting(app: Flask, staff) -> None:
    nurse = staff["nurse"]
    with time_machine.travel(T0, tick=False) as traveller:
        client = new_client(app)
        token = client.csrf_token()
        for _ in range(5):
            assert attempt(client, token, nurse.email, WRONG_PASSWORD).status_code == 401
        waits = []
        for _ in range(3):
            paused = attempt(client, token, nurse.email, WRONG_PASSWORD)
            assert paused.status_code == 429
            waits.append(int(paused.headers["Retry-After"]))
            traveller.shift(timedelta(seconds=waits[-1]))
            assert attempt(client, token, nurse.email, WRONG_PASSWORD).status_code == 401
        assert waits == [3, 5, 9]

        paused = attempt(client, token, nurse.email, PASSWORDS["nurse"])
        assert paused.status_code == 429
        traveller.shift(timedelta(seconds=int(paused.headers["Retry-After"]) - 2))
        assert attempt(client, token, nurse.email, PASSWORDS["nurse"]).status_code == 429
        traveller.shift(timedelta(seconds=2))
        response = attempt(client, token, nurse.email, PASSWORDS["nurse"])
        assert response.status_code == 302 and path_of(response) == "/"

    assert len(audit_rows("login_failed")) == 8
    assert len(audit_rows("login_throttled")) == 5
    assert len(audit_rows("login")) == 1


def test_a_successful_sign_in_is_audited(client, staff) -> None:
    client.sign_in(staff["nurse"].email, PASSWORDS["nurse"])
    [login] = audit_rows("login")
    assert login.user_id == staff["nurse"].id and login.client_addr == "127.0.0.1"


class TestTheHardStopPerAccount:
    """With the back-off set aside, the twentieth failure closes the account for the window."""

    @pytest.fixture
    def config_overrides(self) -> dict[str, object]:
        return {"LOGIN_FREE_FAILURES_PER_ACCOUNT": 20}

    def test_twenty_failures_then_429_until_the_window_passes(self, app: Flask, staff) -> None:
        nurse = staff["nurse"]
        assert Config.LOGIN_MAX_FAILURES_PER_ACCOUNT == 20
        with time_machine.travel(T0, tick=False) as traveller:
            client = new_client(app)
            token = client.csrf_token()
            for _ in range(20):
                assert attempt(client, token, nurse.email, WRONG_PASSWORD).status_code == 401
            assert len(audit_rows("login_failed")) == 20

            locked = attempt(client, token, nurse.email, PASSWORDS["nurse"])
            assert locked.status_code == 429
            assert locked.headers["Retry-After"] == str(15 * 60 + 1)
            assert "try again in 16 minutes" in text(locked)

            traveller.shift(timedelta(minutes=15, seconds=1))
            response = attempt(client, token, nurse.email, PASSWORDS["nurse"])
            assert response.status_code == 302
        assert len(audit_rows("login_failed")) == 20
        assert len(audit_rows("login_throttled")) == 1


    def test_a_browser_that_signed_in_before_is_not_locked_out_by_failures_from_elsewhere(
            self, app: Flask, staff) -> None:
        nurse = staff["nurse"]
        with time_machine.travel(T0, tick=False):
            own = new_client(app)
            assert attempt(own, own.csrf_token(), nurse.email, PASSWORDS["nurse"]).status_code == 302
            assert own.get_cookie(services.DEVICE_COOKIE, path="/login") is not None
            own.post("/logout", data={"csrf_token": own.csrf_token()})
            attacker = new_client(app)
            token = attacker.csrf_token()
            for _ in range(20):
                attempt(attacker, token, nurse.email, WRONG_PASSWORD)
            assert attempt(attacker, token, nurse.email, PASSWORDS["nurse"]).status_code == 429
            # A cookie for another account, or a forged one, does not help...
            stranger = new_client(app)
            stranger.set_cookie(services.DEVICE_COOKIE, services.device_cookie_value("doctor@example.test", None),
                                path="/login")
            assert attempt(stranger, stranger.csrf_token(), nurse.email, PASSWORDS["nurse"]).status_code == 429
            forged = new_client(app)
            forged.set_cookie(services.DEVICE_COOKIE, "not-a-signed-cookie", path="/login")
            assert attempt(forged, forged.csrf_token(), nurse.email, PASSWORDS["nurse"]).status_code == 429
            # ...but the nurse's own browser still signs in.
            assert attempt(own, own.csrf_token(), nurse.email, PASSWORDS["nurse"]).status_code == 302


class TestTheLimitPerAddress:
    """One address trying many accounts is stopped too (limit lowered from 50 to 6)."""

    @pytest.fixture
    def config_overrides(self) -> dict[str, object]:
        return {"LOGIN_MAX_FAILURES_PER_ADDRESS": 6}

    def test_one_address_guessing_many_accounts_is_paused(self, app: Flask, staff) -> None:
        assert Config.LOGIN_MAX_FAILURES_PER_ADDRESS == 50
        with time_machine.travel(T0, tick=False) as traveller:
            client = new_client(app)
            token = client.csrf_token()
            for n in range(6):
                guess = attempt(client, token, f"guess{n}@example.test", WRONG_PASSWORD)
                assert guess.status_code == 401
            assert len(audit_rows("login_failed")) == 6

            paused = attempt(client, token, staff["nurse"].email, PASSWORDS["nurse"])
            assert paused.status_code == 429
            assert paused.headers["Retry-After"] == str(15 * 60 + 1)

            # The nurse at her own workstation is not affected.
            elsewhere = new_client(app)
            elsewhere.environ_base["REMOTE_ADDR"] = "10.1.2.3"
            response = elsewhere.sign_in(staff["nurse"].email, PASSWORDS["nurse"])
            assert response.status_code == 302

            traveller.shift(timedelta(minutes=15, seconds=1))
            response = attempt(client, token, staff["doctor"].email, PASSWORDS["doctor"])
            assert response.status_code == 302


# --- I4: where sign-in sends you ---------------------------------------------------------


EVIL_NEXT_LINKS = [
    "//evil.example",
    "/\\evil.example",
    "\\\\\\evil.example",
    "/%09/evil.example",
    "https:evil.example",
    "javascript:alert(1)",
    "https://evil.example/",
    "/%2F/evil.example",
    "%2F%2Fevil.example",
]


@pytest.mark.parametrize("raw", EVIL_NEXT_LINKS)
def test_a_crafted_next_link_lands_on_the_home_page(client, staff, raw: str) -> None:
    # The link as an attacker would write it: ?next=<raw>, decoded by the server.
    page = client.get("/login", query_string=f"next={raw}")
    carried = html.unescape(NEXT_VALUE_RE.search(text(page)).group(1))
    response = client.submit("/login", {"email": staff["nurse"].email,
                                         "password": PASSWORDS["nurse"], "next": carried})
    assert response.status_code == 302
    assert response.location == "/"


@pytest.mark.parametrize("raw", EVIL_NEXT_LINKS)
def test_a_crafted_next_field_lands_on_the_home_page(client, staff, raw: str) -> None:
    # The same strings posted as they are, without any decoding.
    response = client.submit("/login", {"email": staff["nurse"].email,
                                         "password": PASSWORDS["nurse"], "next": raw})
    assert response.status_code == 302
    assert response.location == "/"


@pytest.mark.parametrize("target", ["/account", "/account/password?from=menu", "/admin/users"])
def test_a_page_of_the_clinic_is_kept_as_the_next_page(client, staff, target: str) -> None:
    response = client.submit("/login", {"email": staff["nurse"].email,
                                         "password": PASSWORDS["nurse"], "next": target})
    assert response.status_code == 302 and response.location == target


def test_a_page_of_the_clinic_is_where_sign_in_returns(client, staff) -> None:
    first = client.get("/account")
    assert first.status_code == 302
    login_page = client.get(first.location)
    carried = html.unescape(NEXT_VALUE_RE.search(text(login_page)).group(1))
    assert carried == "/account"
    response = client.submit("/login", {"email": staff["nurse"].email,
                                         "password": PASSWORDS["nurse"], "next": carried})
    assert response.status_code == 302 and response.location == "/account"
    assert client.get("/account").status_code == 200


def test_a_crafted_next_is_ignored_after_the_second_step_too(app: Flask, staff) -> None:
    nurse = staff["nurse"]
    with time_machine.travel(T0, tick=False) as traveller:
        secret, _ = enrol_two_step(signed_in(app, nurse.email, PASSWORDS["nurse"]))
        traveller.shift(timedelta(seconds=30))
        client = new_client(app)
        client.submit("/login", {"email": nurse.email, "password": PASSWORDS["nurse"],
                                 "next": "//evil.example"})
        response = client.submit("/login/code", {"code": pyotp.TOTP(secret).now()})
        assert response.status_code == 302 and response.location == "/"


# --- Z5: resets by link, never by the admin; role changes -----------------------------------


def _issue_link(admin_client, user: User) -> str:
    response = admin_client.submit(f"/admin/users/{user.id}/reset", {"password": PASSWORDS["admin"]})
    assert response.status_code == 200
    assert 'id="reset-link"' in text(response)
    link = html.unescape(RESET_LINK_RE.search(text(response)).group(1))
    assert urlsplit(link).path.startswith("/reset/")
    return urlsplit(link).path


def test_an_admin_issues_a_reset_link_that_is_shown_once_and_works_once(
    app: Flask, admin_client, nurse_client, staff
) -> None:
    nurse = staff["nurse"]
    before = nurse.password_hash
    path = _issue_link(admin_client, nurse)
    token = path.removeprefix("/reset/")

    # Shown once: not on the account page afterwards, and only a digest is stored.
    assert token not in text(admin_client.get(f"/admin/users/{nurse.id}"))
    [stored] = db.session.scalars(sa.select(PasswordReset)).all()
    assert stored.token_hash != token and stored.issued_by_id == staff["admin"].id
    assert not any(token in (row.changes or "") + (row.reason or "") for row in audit_rows())
    assert reload(nurse).password_hash == before  # issuing a link sets nothing

    person = new_client(app)
    assert person.get(path).status_code == 200
    response = person.submit(path, {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert response.status_code == 302 and path_of(response) == "/login"

    signed_in(app, nurse.email, NEW_PASSWORD)
    assert new_client(app).sign_in(nurse.email, PASSWORDS["nurse"]).status_code == 401
    assert nurse_client.get("/").status_code == 302  # her old session ended

    reuse = new_client(app)
    assert reuse.get(path).status_code == 404
    refused = reuse.submit(path, {"new_password": "another fine long passphrase",
                                  "confirm_password": "another fine long passphrase"})
    assert refused.status_code == 404
    signed_in(app, nurse.email, NEW_PASSWORD)


def test_a_reset_link_expires_after_24_hours(app: Flask, staff) -> None:
    nurse = staff["nurse"]
    with time_machine.travel(T0, tick=False) as traveller:
        admin = signed_in(app, staff["admin"].email, PASSWORDS["admin"])
        path = _issue_link(admin, nurse)
        traveller.shift(timedelta(hours=23, minutes=59))
        assert new_client(app).get(path).status_code == 200
        traveller.shift(timedelta(minutes=1))
        person = new_client(app)
        assert person.get(path).status_code == 404
        response = person.submit(path, {"new_password": NEW_PASSWORD,
                                        "confirm_password": NEW_PASSWORD})
        assert response.status_code == 404
    assert new_client(app).sign_in(nurse.email, NEW_PASSWORD).status_code == 401


def test_a_newer_link_replaces_the_older_one(app: Flask, admin_client, staff) -> None:
    old = _issue_link(admin_client, staff["nurse"])
    new = _issue_link(admin_client, staff["nurse"])
    assert new_client(app).get(old).status_code == 404
    assert new_client(app).get(new).status_code == 200


def test_a_reset_link_needs_a_good_password_too(app: Flask, admin_client, staff) -> None:
    path = _issue_link(admin_client, staff["nurse"])
    person = new_client(app)
    response = person.submit(path, {"new_password": "password1234",
                                    "confirm_password": "password1234"})
    assert response.status_code == 400 and 'id="new_password-error"' in text(response)
    assert person.get(path).status_code == 200  # still usable for a good one


def test_no_admin_page_lets_an_admin_set_someone_elses_password(
    app: Flask, admin_client, staff
) -> None:
    nurse = staff["nurse"]
    before = nurse.password_hash
    # The only routes that set a password: one's own change (with the current one)
    # and the one-time link; an admin's only part is issuing the link.
    about_passwords = {
        r.endpoint for r in app.url_map.iter_rules()
        if "password" in r.endpoint.lower() or "password" in r.rule.lower()
    }
    assert about_passwords == {"auth.change_password", "auth.reset_password",
                               "admin.issue_password_reset"}
    # The only password box on a person's page is the admin's own confirmation.
    page = text(admin_client.get(f"/admin/users/{nurse.id}"))
    password_boxes = re.findall(r'<input[^>]*type="password"[^>]*>', page)
    # Every password box is the admin's own, confirming an admin power; none sets the nurse's.
    assert {re.search(r'name="([^"]+)"', box).group(1) for box in password_boxes} == {"password"}
    assert "Your password, to confirm" in page
    assert "new_password" not in page

    chosen = "admin chosen secret phrase here"
    smuggled = {"new_password": chosen, "confirm_password": chosen, "password_hash": chosen}
    admin_client.submit(f"/admin/users/{nurse.id}/role",
                        {**smuggled, "password": chosen, "role": "nurse", "version": nurse.version})
    admin_client.submit(f"/admin/users/{nurse.id}/reset", {**smuggled, "password": chosen})
    admin_client.submit(f"/admin/users/{nurse.id}/deactivate", {**smuggled, "password": chosen})
    # Reactivating takes the admin's own password; what is smuggled beside it is still ignored.
    admin_client.submit(f"/admin/users/{nurse.id}/reactivate", {**smuggled, "password": PASSWORDS["admin"]})
    assert reload(nurse).password_hash == before
    assert new_client(app).sign_in(nurse.email, chosen).status_code == 401
    signed_in(app, nurse.email, PASSWORDS["nurse"])


def test_a_role_change_needs_the_admins_password(
    app: Flask, admin_client, nurse_client, staff
) -> None:
    nurse, admin = staff["nurse"], staff["admin"]
    response = admin_client.submit(f"/admin/users/{nurse.id}/role", {
        "role": "doctor", "password": WRONG_PASSWORD, "version": nurse.version,
    })
    assert response.status_code == 403
    assert 'id="password-error"' in text(response)
    assert reload(nurse).role == "nurse"
    [failed] = audit_rows("reauth_failed")
    assert failed.user_id == admin.id and failed.reason == f"change role of user {nurse.id}"
    assert nurse_client.get("/").status_code == 200

    response = admin_client.submit(f"/admin/users/{nurse.id}/role", {
        "role": "doctor", "password": PASSWORDS["admin"], "version": reload(nurse).version,
    })
    assert response.status_code == 302
    assert reload(nurse).role == "doctor"
    assert nurse_client.get("/").status_code == 302  # her sessions ended with the old role


def test_an_admin_cannot_change_their_own_role(admin_client, staff) -> None:
    admin = staff["admin"]
    response = admin_client.submit(f"/admin/users/{admin.id}/role", {
        "role": "doctor", "password": PASSWORDS["admin"], "version": admin.version,
    })
    assert response.status_code == 400
    assert "You cannot change your own role" in text(response)
    assert reload(admin).role == "admin"


# --- Z4: server-controlled fields are never taken from the request -------------------------------


SMUGGLED = {
    "role": "admin", "version": "99", "id": "999", "email": "boss@clinic.example",
    "session_token": "attacker-chosen", "password_hash": "$argon2id$forged",
    "deactivated_at": "2020-01-01T00:00:00", "totp_enabled_at": "2020-01-01T00:00:00",
    "totp_secret": "JBSWY3DPEHPK3PXP", "created_at": "2000-01-01T00:00:00",
}


def test_a_password_change_cannot_smuggle_in_a_role_or_version(
    app: Flask, nurse_client, staff
) -> None:
    nurse = reload(staff["nurse"])
    before = (nurse.role, nurse.email, nurse.version, nurse.created_at, nurse.totp_secret)
    response = nurse_client.submit("/account/password", {
        **SMUGGLED, "current_password": PASSWORDS["nurse"], "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD,
    })
    assert response.status_code == 302
    nurse = reload(nurse)
    assert (nurse.role, nurse.email, nurse.created_at, nurse.totp_secret) == (
        before[0], before[1], before[3], before[4])
    assert nurse.version == before[2] + 1
    assert nurse.session_token != "attacker-chosen" and nurse.deactivated_at is None
    assert not nurse.totp_enabled
    assert user_count() == 4


def test_the_new_account_form_sets_only_what_it_shows(app: Flask, admin_client, staff) -> None:
    response = admin_client.submit("/admin/users/new", {
        **SMUGGLED, "email": "nadia@clinic.example", "full_name": "Nadia Newcomer", "role": "nurse",
        "new_password": NEW_PASSWORD, "password": PASSWORDS["admin"],  # the admin's own, to confirm
    })
    assert response.status_code == 303
    created = services.find_user_by_email("nadia@clinic.example")
    assert created.role == "nurse" and created.version == 1 and created.id != 999
    assert created.deactivated_at is None
    assert not created.totp_enabled and created.totp_secret is None
    assert created.session_token != "attacker-chosen"
    assert created.password_hash.startswith("$argon2id$v=19$")
    assert created.created_at.year >= 2025
    # A smuggled password is ignored: only the one-time link sets one.
    assert new_client(app).sign_in("nadia@clinic.example", NEW_PASSWORD).status_code == 401


def test_admin_powers_ask_for_the_password_again_and_are_audited_at_high_severity(admin_client, staff) -> None:
    nurse = staff["nurse"]
    wrong = {"password": "not the admin's password"}
    assert admin_client.submit(f"/admin/users/{nurse.id}/reset", wrong).status_code == 403
    assert admin_client.submit(f"/admin/users/{nurse.id}/reset", {}).status_code == 400
    opened = admin_client.submit("/admin/users/new", {"email": "dora@clinic.example", "full_name": "Dora Doctor",
                                                      "role": "doctor", **wrong})
    assert opened.status_code == 403 and services.find_user_by_email("dora@clinic.example") is None
    assert len(audit_rows("reauth_failed")) >= 2
    assert admin_client.submit("/admin/users/new", {"email": "dora@clinic.example", "full_name": "Dora Doctor",
                                                    "role": "doctor", "password": PASSWORDS["admin"]}).status_code == 303
    assert admin_client.submit(f"/admin/users/{nurse.id}/reset", {"password": PASSWORDS["admin"]}).status_code == 200
    powers = [row.reason for row in audit_rows("admin_power")]
    assert powers == ["high severity: open an account for dora@clinic.example (doctor)",
                      f"high severity: issue a password-reset link for user {nurse.id}"]
