"""Headers, error pages and bad requests (SECURITY.md I1, I6, I7, D3)."""

from __future__ import annotations

import logging

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
    config = ProductionConfig()
    assert config.SESSION_COOKIE_SECURE is True
    assert set(config.TOTP_REQUIRED_ROLES) == set(ROLES)
    assert config.DEMO_DATA_ALLOWED is False


def test_the_local_demo_generates_and_keeps_its_own_secrets(monkeypatch, tmp_path) -> None:
    import config as config_module

    monkeypatch.setattr(config_module, "INSTANCE_DIR", tmp_path)
    for name in ("SECRET_KEY", "AUDIT_HMAC_KEY", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    first, second = DevelopmentConfig(), DevelopmentConfig()
    assert first.SECRET_KEY == second.SECRET_KEY and len(first.SECRET_KEY) == 64
    assert first.AUDIT_HMAC_KEY != first.SECRET_KEY
    assert (tmp_path / "secrets.json").stat().st_mode & 0o077 == 0
    assert first.SQLALCHEMY_DATABASE_URI.startswith("sqlite:///")


def test_an_unknown_environment_name_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="CLINIC_ENV"):
        load_config("staging")
