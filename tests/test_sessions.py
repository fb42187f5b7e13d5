"""Browser sessions, told as clinic stories (SECURITY.md S1-S4).

Time-dependent stories freeze the clock with time_machine and sign in inside
the frozen time; each request then moves only when the test moves the clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from flask import Flask

from clinic.auth.models import User
from config import Config, DevelopmentConfig, ProductionConfig
from tests.conftest import CSRF_RE, PASSWORDS, ClinicClient, audit_rows
from tests.settings import TestConfig

T0 = datetime(2031, 3, 4, 9, 0, tzinfo=UTC)
COOKIE = "clinic_session"
NEW_PASSWORD = "lantern orchard pebble migration"


# --- helpers ------------------------------------------------------------------------


def new_client(app: Flask) -> ClinicClient:
    app.test_client_class = ClinicClient
    return app.test_client()  # type: ignore[return-value]


def path_of(response) -> str:
    return urlsplit(response.location).path


def signed_in(app: Flask, user: User) -> ClinicClient:
    client = new_client(app)
    response = client.sign_in(user.email, PASSWORDS[user.role])
    assert response.status_code == 302 and path_of(response) == "/"
    return client


def cookie_value(client: ClinicClient) -> str:
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    return cookie.value


def replaying(app: Flask, value: str) -> ClinicClient:
    """Another browser (or an attacker) presenting a copied session cookie."""
    client = new_client(app)
    client.set_cookie(COOKIE, value)
    return client


def sent_to_login(response) -> bool:
    return response.status_code == 302 and path_of(response) == "/login"


def set_cookie_attributes(header: str) -> tuple[str, dict[str, str]]:
    """'name=value; HttpOnly; SameSite=Lax' -> ('name', {'httponly': '', 'samesite': 'Lax'})."""
    first, *attributes = [part.strip() for part in header.split(";")]
    name = first.split("=", 1)[0]
    parsed = {}
    for attribute in attributes:
        key, _, value = attribute.partition("=")
        parsed[key.lower()] = value
    return name, parsed


# --- S1: the cookie itself -----------------------------------------------------------------


def test_the_session_cookie_is_http_only_and_same_site_lax(client, staff) -> None:
    response = client.sign_in(staff["nurse"].email, PASSWORDS["nurse"])
    assert response.status_code == 302
    cookies = dict(set_cookie_attributes(h) for h in response.headers.getlist("Set-Cookie"))
    # One session cookie, and the device cookie that only spares this browser a lock-out caused elsewhere:
    # it is sent to the sign-in pages alone and signs nobody in (no remember-me).
    assert set(cookies) == {COOKIE, "clinic_device"}
    device = cookies["clinic_device"]
    assert "httponly" in device and device["samesite"] == "Lax" and device["path"] == "/login"
    attributes = cookies[COOKIE]
    assert "httponly" in attributes
    assert attributes["samesite"] == "Lax"
    assert "secure" not in attributes  # TestConfig: plain http on localhost


def test_there_is_no_remember_me(app: Flask, client, staff) -> None:
    page = client.get("/login").get_data(as_text=True)
    assert 'name="remember' not in page
    response = client.submit("/login", {"email": staff["nurse"].email,
                                         "password": PASSWORDS["nurse"],
                                         "remember": "y", "remember_me": "y"})
    assert response.status_code == 302
    assert [h for h in response.headers.getlist("Set-Cookie") if "remember" in h.lower()] == []
    assert client.get_cookie(app.config.get("REMEMBER_COOKIE_NAME", "remember_token")) is None


def test_outside_local_development_the_cookie_is_secure() -> None:
    assert Config.SESSION_COOKIE_SECURE is True
    assert ProductionConfig.SESSION_COOKIE_SECURE is True
    # Only plain-http settings switch it off.
    assert TestConfig.SESSION_COOKIE_SECURE is False
    assert DevelopmentConfig.SESSION_COOKIE_SECURE is False
    for config in (Config, ProductionConfig):
        assert config.SESSION_COOKIE_HTTPONLY is True
        assert config.SESSION_COOKIE_SAMESITE == "Lax"


class TestWithTheProductionCookieSetting:
    @pytest.fixture
    def config_overrides(self) -> dict[str, object]:
        return {"SESSION_COOKIE_SECURE": ProductionConfig.SESSION_COOKIE_SECURE}

    def test_the_cookie_is_marked_secure(self, client, staff) -> None:
        https = {"base_url": "https://localhost", "headers": {"Referer": "https://localhost/login"}}
        page = client.get("/login", **https).get_data(as_text=True)
        token = CSRF_RE.search(page).group(1)
        response = client.post("/login", data={"csrf_token": token, "email": staff["nurse"].email,
                                                "password": PASSWORDS["nurse"]}, **https)
        assert response.status_code == 302
        cookies = dict(set_cookie_attributes(h) for h in response.headers.getlist("Set-Cookie"))
        assert {"secure", "httponly"} <= set(cookies[COOKIE])
        assert cookies[COOKIE]["samesite"] == "Lax"


# --- S2: a fresh session at sign-in ----------------------------------------------------------


def test_a_key_planted_before_sign_in_is_gone_after(client, staff) -> None:
    with client.session_transaction() as session:
        session["planted"] = "by someone at the kiosk"
    client.get("/login")
    with client.session_transaction() as session:
        assert session["planted"] == "by someone at the kiosk"
        token_before = session.get("csrf_token")

    response = client.sign_in(staff["nurse"].email, PASSWORDS["nurse"])

    assert response.status_code == 302
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session.get("csrf_token") != token_before
        assert session["_user_id"].startswith(f"{staff['nurse'].id}:")


def test_the_cookie_from_before_sign_in_is_not_signed_in(app: Flask, client, staff) -> None:
    client.get("/login")
    anonymous = cookie_value(client)
    client.sign_in(staff["nurse"].email, PASSWORDS["nurse"])
    assert cookie_value(client) != anonymous
    assert sent_to_login(replaying(app, anonymous).get("/account"))


# --- S3: idle and absolute limits --------------------------------------------------------------


def test_a_request_after_sixteen_idle_minutes_goes_to_sign_in(app: Flask, staff) -> None:
    nurse = staff["nurse"]
    with time_machine.travel(T0, tick=False) as traveller:
        client = signed_in(app, nurse)
        assert client.get("/account").status_code == 200
        traveller.shift(timedelta(minutes=16))

        response = client.get("/account")

        assert sent_to_login(response)
        assert parse_qs(urlsplit(response.location).query)["next"][0].startswith("/account")
        page = client.get(response.location).get_data(as_text=True)
        assert "signed out after 15 minutes without activity" in page
        assert sent_to_login(client.get("/"))

    [timeout] = audit_rows("timeout")
    assert timeout.user_id == nurse.id and timeout.reason == "idle timeout"
    assert timeout.at == T0 + timedelta(minutes=16)


def test_activity_within_fifteen_minutes_keeps_the_session(app: Flask, staff) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        client = signed_in(app, staff["nurse"])
        for _ in range(8):
            traveller.shift(timedelta(minutes=14, seconds=59))
            assert client.get("/").status_code == 200
        traveller.shift(timedelta(minutes=15))
        assert client.get("/account").status_code == 200
        traveller.shift(timedelta(minutes=15, seconds=1))
        assert sent_to_login(client.get("/account"))
    assert len(audit_rows("timeout")) == 1


def test_the_idle_limit_is_enforced_on_the_server(app: Flask, staff) -> None:
    """The browser still holds the cookie (it lives 12 h): the server refuses it."""
    with time_machine.travel(T0, tick=False) as traveller:
        client = signed_in(app, staff["nurse"])
        copied = cookie_value(client)
        traveller.shift(timedelta(minutes=16))
        assert sent_to_login(replaying(app, copied).get("/account"))
    assert [row.reason for row in audit_rows("timeout")] == ["idle timeout"]


def test_twelve_hours_is_the_limit_even_for_a_busy_nurse(app: Flask, staff) -> None:
    nurse = staff["nurse"]
    with time_machine.travel(T0, tick=False) as traveller:
        client = signed_in(app, nurse)
        for _ in range(51):  # a page every 14 minutes, up to 11 h 54 min
            traveller.shift(timedelta(minutes=14))
            assert client.get("/").status_code == 200
        traveller.shift(timedelta(minutes=6))  # exactly 12 h: still fine
        assert client.get("/").status_code == 200
        traveller.shift(timedelta(minutes=1))
        response = client.get("/")
        assert sent_to_login(response)
        page = client.get(response.location).get_data(as_text=True)
        assert "Your session has ended. Please sign in again." in page
    [timeout] = audit_rows("timeout")
    assert timeout.user_id == nurse.id
    assert timeout.reason == "absolute session lifetime reached"


class TestAShorterIdleLimit:
    @pytest.fixture
    def config_overrides(self) -> dict[str, object]:
        return {"IDLE_TIMEOUT": timedelta(minutes=5)}

    def test_the_idle_limit_follows_the_setting(self, app: Flask, staff) -> None:
        with time_machine.travel(T0, tick=False) as traveller:
            client = signed_in(app, staff["nurse"])
            traveller.shift(timedelta(minutes=5))
            assert client.get("/").status_code == 200
            traveller.shift(timedelta(minutes=6))
            response = client.get("/")
            assert sent_to_login(response)
            page = client.get(response.location).get_data(as_text=True)
            assert "after 5 minutes without activity" in page


# --- S4: every older cookie dies ---------------------------------------------------------------


def test_a_cookie_copied_before_logout_is_refused_after(app: Flask, nurse_client, staff) -> None:
    copied = cookie_value(nurse_client)
    assert replaying(app, copied).get("/account").status_code == 200  # the copy works at first

    response = nurse_client.submit("/logout")

    assert sent_to_login(response)
    assert sent_to_login(nurse_client.get("/account"))
    assert sent_to_login(replaying(app, copied).get("/account"))
    assert sent_to_login(replaying(app, copied).submit("/account/password", {
        "current_password": PASSWORDS["nurse"], "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD,
    }))
    assert len(audit_rows("logout")) == 1
    # The logout rotated the token; the replayed password change wrote nothing.
    nurse_id = str(staff["nurse"].id)
    changes = [row.changes for row in audit_rows("update") if row.record_id == nurse_id]
    assert changes == ['{"session_token":["[redacted]","[redacted]"]}']


def test_logout_on_one_computer_ends_the_other_sessions_too(
    app: Flask, nurse_client, staff
) -> None:
    second = signed_in(app, staff["nurse"])
    nurse_client.submit("/logout")
    assert sent_to_login(second.get("/"))


def test_signing_in_again_does_not_revive_an_old_cookie(app: Flask, nurse_client, staff) -> None:
    copied = cookie_value(nurse_client)
    nurse_client.submit("/logout")
    again = signed_in(app, staff["nurse"])
    assert again.get("/").status_code == 200
    assert sent_to_login(replaying(app, copied).get("/"))


def test_deactivation_by_an_admin_ends_every_session(
    app: Flask, admin_client, nurse_client, staff
) -> None:
    nurse = staff["nurse"]
    copied = cookie_value(nurse_client)

    response = admin_client.submit(f"/admin/users/{nurse.id}/deactivate")

    assert response.status_code == 302
    assert sent_to_login(nurse_client.get("/"))
    assert sent_to_login(replaying(app, copied).get("/account"))
    # Reactivating the account does not bring the old cookies back either.
    assert admin_client.submit(f"/admin/users/{nurse.id}/reactivate",
                               {"password": PASSWORDS["admin"]}).status_code == 302
    assert sent_to_login(replaying(app, copied).get("/account"))


def test_a_password_change_ends_the_other_sessions_but_not_this_one(
    app: Flask, nurse_client, staff
) -> None:
    nurse = staff["nurse"]
    phone = signed_in(app, nurse)
    laptop_cookie = cookie_value(nurse_client)
    phone_cookie_before = cookie_value(phone)

    response = phone.submit("/account/password", {
        "current_password": PASSWORDS["nurse"], "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD,
    })

    assert response.status_code == 302 and path_of(response) == "/account"
    assert "Other devices have been signed out" in phone.get("/account").get_data(as_text=True)
    assert phone.get("/").status_code == 200
    assert sent_to_login(nurse_client.get("/"))
    assert sent_to_login(replaying(app, laptop_cookie).get("/"))
    assert sent_to_login(replaying(app, phone_cookie_before).get("/"))
    assert replaying(app, cookie_value(phone)).get("/").status_code == 200


def test_a_password_reset_ends_every_session(app: Flask, admin_client, nurse_client, staff) -> None:
    nurse = staff["nurse"]
    copied = cookie_value(nurse_client)
    page = admin_client.submit(f"/admin/users/{nurse.id}/reset", {"password": PASSWORDS["admin"]}).get_data(
        as_text=True)
    path = urlsplit(page.split('<code class="breakable">', 1)[1].split("<", 1)[0]).path
    response = new_client(app).submit(path, {"new_password": NEW_PASSWORD,
                                             "confirm_password": NEW_PASSWORD})
    assert sent_to_login(response)
    assert sent_to_login(nurse_client.get("/"))
    assert sent_to_login(replaying(app, copied).get("/"))


# --- what the cookie gives away (SECURITY.md D9) ---------------------------------------


def _every_reading_of(value: str) -> str:
    """What someone holding the cookie can read: each dot-separated part decoded as Flask's signed
    cookie would be (base64, zlib-compressed when it starts with a dot)."""
    import base64
    import zlib

    readings = [value]
    compressed = value.startswith(".")
    for part in value.lstrip(".").split("."):
        try:
            raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        except ValueError:
            continue
        for attempt in (lambda b: zlib.decompress(b), lambda b: b) if compressed else (lambda b: b,):
            try:
                readings.append(attempt(raw).decode("utf-8", "replace"))
            except zlib.error:
                continue
    return "\n".join(readings)


def test_the_flash_naming_a_new_patient_cannot_be_read_from_the_cookie(app: Flask, nurse_client, staff) -> None:
    registered = nurse_client.submit("/patients/new", {
        "first_name": "Philippa", "last_name": "Quennell", "date_of_birth": "1985-09-03", "sex": "female",
        "phone": "020 7946 0321", "email": "", "fitzpatrick": "3"})
    assert registered.status_code == 302
    sealed = cookie_value(nurse_client)
    assert "Quennell" not in _every_reading_of(sealed)
    # The nurse still reads it on the next page: the cookie is sealed, not emptied.
    assert "Philippa Quennell is registered" in nurse_client.get(registered.location).get_data(as_text=True)


def test_a_cookie_sealed_under_another_key_starts_a_fresh_session(app: Flask, staff) -> None:
    client = signed_in(app, staff["nurse"])
    value = cookie_value(client)
    app.config["SECRET_KEY"], saved = "another key " * 4, app.config["SECRET_KEY"]
    app.secret_key = app.config["SECRET_KEY"]
    try:
        assert sent_to_login(replaying(app, value).get("/patients"))
        app.config["SECRET_KEY_FALLBACKS"] = [saved]
        assert replaying(app, value).get("/patients").status_code == 200  # a key rotation keeps sessions
    finally:
        app.config["SECRET_KEY"] = app.secret_key = saved
        app.config.pop("SECRET_KEY_FALLBACKS", None)
