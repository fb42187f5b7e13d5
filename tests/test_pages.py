"""Headers, error pages and bad requests (SECURITY.md I1, I6, I7, D3)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from clinic.extensions import db
from config import ConfigurationError, DevelopmentConfig, ProductionConfig, load_config
from tests.conftest import ON_POSTGRES, ROLES


def _get_pages(app: Flask) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.arguments:
            urls.append(rule.rule)
    return urls


@pytest.mark.parametrize("role", ROLES)
def test_every_page_sends_the_security_headers(app, clients, role) -> None:
    client = clients[role]
    for url in _get_pages(app):
        response = client.get(url)
        response.close()
        headers = response.headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        assert headers["Cache-Control"] == "no-store", url


def test_pages_carry_no_inline_script_or_style(clients) -> None:
    for client in clients.values():
        for url in ("/", "/account", "/account/password"):
            page = client.get(url).get_data(as_text=True)
            assert "<script>" not in page and " style=" not in page and "<style" not in page


def test_a_post_without_csrf_token_gets_a_friendly_400(client, staff) -> None:
    response = client.post("/login", data={"email": "doctor@example.test", "password": "x" * 12})
    assert response.status_code == 400
    assert "Reload the page" in response.get_data(as_text=True)


def test_an_oversized_body_gets_413(client) -> None:
    response = client.post("/login", data={"email": "a@b.c", "password": "x" * (3 * 1024 * 1024)})
    assert response.status_code == 413
    assert "larger than the clinic system accepts" in response.get_data(as_text=True)


def test_a_failing_view_shows_a_reference_and_no_traceback(app, doctor_client, caplog, monkeypatch) -> None:
    def explode() -> str:
        raise RuntimeError("kaboom with secret detail")

    monkeypatch.setitem(app.view_functions, "shell.home", explode)
    with caplog.at_level(logging.ERROR):
        response = doctor_client.get("/")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Traceback" not in page and "kaboom" not in page
    reference = response.headers["X-Request-ID"]
    assert reference in page
    assert any(reference in record.getMessage() for record in caplog.records)


def test_health_answers_without_sign_in(client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite connection settings")
def test_sqlite_connections_are_durable_and_enforce_foreign_keys(app) -> None:
    pragmas = {
        name: db.session.execute(sa.text(f"PRAGMA {name}")).scalar()
        for name in ("foreign_keys", "journal_mode", "synchronous", "busy_timeout")
    }
    assert pragmas == {"foreign_keys": 1, "journal_mode": "wal", "synchronous": 2, "busy_timeout": 10000}


def test_production_refuses_to_start_without_its_secrets(monkeypatch) -> None:
    for name in ("SECRET_KEY", "AUDIT_HMAC_KEY", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match="SECRET_KEY, AUDIT_HMAC_KEY, DATABASE_URL"):
        ProductionConfig()
    monkeypatch.setenv("SECRET_KEY", "s" * 32)
    monkeypatch.setenv("AUDIT_HMAC_KEY", "a" * 32)
    with pytest.raises(ConfigurationError, match="DATABASE_URL"):
        ProductionConfig()
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://clinic@db/clinic")
    with pytest.raises(ConfigurationError, match="TRUSTED_HOSTS"):
        ProductionConfig()
    monkeypatch.setenv("TRUSTED_HOSTS", "records.clinic.example")
    with pytest.raises(ConfigurationError, match="AUDIT_ANCHOR_FILE"):
        ProductionConfig()
    monkeypatch.setenv("AUDIT_ANCHOR_FILE", "/var/lib/clinic-anchors/audit-anchors.log")
    monkeypatch.setenv("SECRET_KEY", "s")
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        ProductionConfig()
    monkeypatch.setenv("SECRET_KEY", "s" * 32)
    config = ProductionConfig()
    assert config.SESSION_COOKIE_SECURE is True
    assert set(config.TOTP_REQUIRED_ROLES) == set(ROLES)
    assert config.DEMO_DATA_ALLOWED is False
    assert config.TRUSTED_HOSTS == ["records.clinic.example"] and config.PREFERRED_URL_SCHEME == "https"


def test_the_local_demo_reads_the_secrets_its_explicit_step_made(monkeypatch, tmp_path) -> None:
    import config as config_module

    instance = tmp_path / "instance"
    monkeypatch.setenv("CLINIC_INSTANCE_DIR", str(instance))
    for name in ("SECRET_KEY", "AUDIT_HMAC_KEY", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match="make run"):
        DevelopmentConfig()
    assert not instance.exists(), "building a config never writes a file"

    assert config_module.main(["demo-secrets"]) == 0  # what `make run` runs first
    secrets_file = instance / "secrets.json"
    assert secrets_file.stat().st_mode & 0o077 == 0
    first = DevelopmentConfig()
    assert config_module.main(["demo-secrets"]) == 0  # kept, not regenerated
    second = DevelopmentConfig()
    assert first.SECRET_KEY == second.SECRET_KEY and len(first.SECRET_KEY) == 64
    assert first.AUDIT_HMAC_KEY != first.SECRET_KEY
    assert first.SQLALCHEMY_DATABASE_URI == f"sqlite:///{instance / 'clinic.sqlite'}"
    assert sorted(p.name for p in instance.iterdir()) == ["secrets.json"]


def test_the_environment_is_read_when_the_app_is_created(monkeypatch, tmp_path) -> None:
    from werkzeug.middleware.proxy_fix import ProxyFix

    from clinic import create_app

    monkeypatch.setenv("CLINIC_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "s" * 32)
    monkeypatch.setenv("AUDIT_HMAC_KEY", "a" * 32)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'clinic.sqlite'}")
    monkeypatch.setenv("TRUSTED_HOSTS", "records.clinic.example")
    monkeypatch.setenv("AUDIT_ANCHOR_FILE", str(tmp_path / "audit-anchors.log"))
    settings = {"IDLE_TIMEOUT_MINUTES": "7", "ABSOLUTE_SESSION_HOURS": "3", "CLINIC_NAME": "Clinique du Lac",
                "PHONE_REGION": "FR", "RECORD_NUMBER_PREFIX": "L", "SCREENING_VALID_DAYS": "45",
                "RECALL_MAX_ATTEMPTS": "4", "CLINIC_SIDE_EFFECTS_CONTACT": "Call 01 23 45 67 89",
                "TRUSTED_PROXIES": "1"}
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    app = create_app()
    assert app.config["IDLE_TIMEOUT"] == timedelta(minutes=7)
    assert app.config["ABSOLUTE_SESSION_LIFETIME"] == app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=3)
    assert (app.config["CLINIC_NAME"], app.config["PHONE_REGION"], app.config["RECORD_NUMBER_PREFIX"]) == (
        "Clinique du Lac", "FR", "L")
    assert (app.config["SCREENING_VALID_DAYS"], app.config["RECALL_MAX_ATTEMPTS"]) == (45, 4)
    assert app.config["CLINIC_SIDE_EFFECTS_CONTACT"] == "Call 01 23 45 67 89"
    assert isinstance(app.wsgi_app, ProxyFix)  # README: TRUSTED_PROXIES behind a reverse proxy
    # Behind the proxy: the client's address and scheme come from it; a forged Host is refused.
    client = app.test_client()
    seen = client.get("/health", headers={"Host": "records.clinic.example", "X-Forwarded-For": "203.0.113.9",
                                          "X-Forwarded-Proto": "https"})
    assert seen.status_code == 200
    assert seen.headers["Strict-Transport-Security"].startswith("max-age=31536000")  # production is HTTPS only
    assert client.get("/health", headers={"Host": "evil.example"}).status_code == 400
    assert app.wsgi_app.x_proto == 1, "links built behind the TLS proxy are https"
    with app.app_context():
        db.engine.dispose()

    monkeypatch.setenv("IDLE_TIMEOUT_MINUTES", "9")
    monkeypatch.delenv("PHONE_REGION")
    later = load_config()
    assert later.IDLE_TIMEOUT == timedelta(minutes=9) and later.PHONE_REGION == "GB"
    monkeypatch.setenv("SCREENING_VALID_DAYS", "a month")
    with pytest.raises(ConfigurationError, match="SCREENING_VALID_DAYS"):
        load_config()


def test_an_unknown_environment_name_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="CLINIC_ENV"):
        load_config("staging")
