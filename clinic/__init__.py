"""Clinic session records: the application factory."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Config, load_config


def create_app(config: Config | str | None = None) -> Flask:
    """Build the app: settings, extensions, database hooks, blueprints, CLI, error pages."""
    app = Flask(__name__, template_folder="../templates", instance_relative_config=False)
    register_config(app, config)
    register_extensions(app)
    register_database_hooks(app)
    register_request_hooks(app)
    register_blueprints(app)
    register_cli(app)
    register_template_helpers(app)
    register_logging(app)
    from clinic.core.handlers import register_error_handlers

    register_error_handlers(app)
    return app


def register_config(app: Flask, config: Config | str | None) -> None:
    if config is None or isinstance(config, str):
        config = load_config(config)
    app.config.from_object(config)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # psycopg would otherwise prepare repeated queries server-side, and a generic
        # plan can ignore the trigram index that patient search relies on.
        options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
        options["connect_args"] = {**options.get("connect_args", {}), "prepare_threshold": None}
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    if app.config.get("TRUSTED_PROXIES"):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=int(app.config["TRUSTED_PROXIES"]))  # type: ignore[method-assign]


def register_extensions(app: Flask) -> None:
    import clinic.models  # noqa: F401  (every mapper before the first query)
    from clinic.extensions import csrf, db, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = None  # our own per-user token and timeouts do this
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    # SECURITY.md D3: durability and integrity on every SQLite connection.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def register_database_hooks(app: Flask) -> None:
    from clinic.audit.listeners import register_listeners
    from clinic.core.services import register_guards
    from clinic.records.treatments.services import register_guards as register_treatment_guards
    from clinic.extensions import db

    register_guards()
    register_treatment_guards()
    register_listeners()
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite" and not sa.event.contains(engine, "connect", _sqlite_pragmas):
            sa.event.listen(engine, "connect", _sqlite_pragmas)


def register_request_hooks(app: Flask) -> None:
    from clinic.auth.sessions import enforce_session_limits
    from clinic.core.security import add_security_headers, assign_request_id
    from clinic.permissions import enforce_permissions

    app.before_request(assign_request_id)
    app.before_request(enforce_session_limits)
    app.before_request(enforce_permissions)
    app.after_request(add_security_headers)


def register_blueprints(app: Flask) -> None:
    from clinic.audit.routes import bp as audit_bp
    from clinic.auth.admin_routes import bp as admin_bp
    from clinic.auth.routes import bp as auth_bp
    from clinic.core.routes import bp as core_bp
    from clinic.inventory.routes import bp as inventory_bp
    from clinic.records.consent.routes import bp as consent_bp
    from clinic.records.patients.routes import bp as patients_bp
    from clinic.records.screening.routes import bp as screening_bp
    from clinic.records.treatments.routes import bp as treatments_bp
    from clinic.tracing.routes import bp as tracing_bp

    app.register_blueprint(core_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(inventory_bp)
    app.register_blueprint(patients_bp)
    app.register_blueprint(screening_bp)
    app.register_blueprint(consent_bp)
    app.register_blueprint(treatments_bp)
    app.register_blueprint(tracing_bp)


def register_cli(app: Flask) -> None:
    from clinic.audit.cli import audit_cli
    from clinic.auth.cli import users_cli
    from clinic.core.cli import backup_cli, demo_cli
    from clinic.tracing.cli import lots_cli

    app.cli.add_command(users_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(lots_cli)
    app.cli.add_command(backup_cli)


def register_template_helpers(app: Flask) -> None:
    from clinic.core.templating import FILTERS
    from clinic.permissions import can
    from clinic.records.catalogue.models import area_labels

    app.jinja_env.globals["can"] = can
    app.jinja_env.filters["area_labels"] = area_labels
    app.jinja_env.filters.update(FILTERS)  # |date, |datetime, |time
    # Date pickers refuse future dates where a future date makes no sense (date of birth).
    app.jinja_env.globals["today_iso"] = lambda: date.today().isoformat()
    app.jinja_env.globals["clinic_name"] = app.config["CLINIC_NAME"]
    app.jinja_env.globals["url_base"] = url_base


def url_base(endpoint: str, key: str) -> str:
    """The URL of ``endpoint`` up to its trailing id ``key``, for tables of hundreds of links
    (``url_base(...) ~ row.id``): url_for once, not once per row."""
    from flask import url_for

    url = url_for(endpoint, **{key: 0})
    if not url.endswith("/0"):
        raise ValueError(f"{endpoint} does not end in its {key}")
    return url[:-1]


def register_logging(app: Flask) -> None:
    if not app.debug and not app.testing:
        app.logger.setLevel(logging.INFO)
