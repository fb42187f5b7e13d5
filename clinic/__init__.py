"""Clinic session records: the application factory."""

from __future__ import annotations

import logging
import sys
from typing import Any

import sqlalchemy as sa
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import clinic.models  # noqa: F401  (every mapper before the first query)
from clinic.audit.cli import audit_cli
from clinic.audit.listeners import register_listeners
from clinic.auth.admin_routes import bp as admin_bp
from clinic.auth.cli import users_cli
from clinic.auth.permissions import can, enforce_permissions
from clinic.auth.routes import bp as auth_bp
from clinic.auth.sessions import enforce_session_limits
from clinic.core.clock import clinic_today
from clinic.core.http import IdConverter, refuse_nul_characters
from clinic.core.security import add_security_headers, assign_request_id
from clinic.core.services import register_guards
from clinic.core.session_cookie import SealedCookieSessionInterface
from clinic.core.templating import register_filters
from clinic.core.transaction import commit_request
from clinic.extensions import csrf, db, login_manager, migrate
from clinic.inventory.listeners import register_listeners as register_inventory_listeners
from clinic.inventory.routes import bp as inventory_bp
from clinic.records.catalogue.models import area_labels
from clinic.records.consent.routes import bp as consent_bp
from clinic.records.followups.report_routes import bp as patient_report_bp
from clinic.records.followups.routes import bp as followups_bp
from clinic.records.listeners import connect_listeners as connect_records_listeners
from clinic.records.outcomes.routes import bp as outcomes_bp
from clinic.records.patients.routes import bp as patients_bp
from clinic.records.photos.routes import bp as photos_bp
from clinic.records.screening.routes import bp as screening_bp
from clinic.records.treatments.guards import register_guards as register_treatment_guards
from clinic.records.treatments.routes import bp as treatments_bp
from clinic.reports.cli import reports_cli
from clinic.reports.listeners import connect_listeners as connect_reports_listeners
from clinic.reports.routes import bp as reports_bp
from clinic.shell.audit_routes import bp as audit_bp
from clinic.shell.cli import backup_cli, demo_cli
from clinic.shell.errors import register_error_handlers
from clinic.shell.routes import bp as shell_bp
from clinic.tracing.cli import lots_cli
from clinic.tracing.listeners import connect_listeners as connect_tracing_listeners
from clinic.tracing.routes import bp as tracing_bp
from config import Config, load_config

BLUEPRINTS = (shell_bp, auth_bp, admin_bp, audit_bp, inventory_bp, patients_bp, screening_bp, consent_bp,
              treatments_bp, followups_bp, patient_report_bp, outcomes_bp, photos_bp, tracing_bp,
              reports_bp)


def create_app(config: Config | str | None = None) -> Flask:
    """Build the app: settings, extensions, database hooks, blueprints, CLI, error pages."""
    app = Flask(__name__, template_folder="../templates", instance_relative_config=False)
    app.url_map.converters["int"] = IdConverter  # before any route is made
    register_config(app, config)
    register_extensions(app)
    register_database_hooks(app)
    register_request_hooks(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    register_cli(app)
    register_template_helpers(app)
    register_logging(app)
    register_error_handlers(app)
    return app


def register_config(app: Flask, config: Config | str | None) -> None:
    if config is None or isinstance(config, str):
        config = load_config(config)
    app.config.from_object(config)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # psycopg would otherwise prepare every repeated query server-side, and a generic plan can
        # ignore the trigram index that patient search relies on. A threshold never reached (rather than
        # None, which refuses even a request to prepare) leaves preparing to the statements that ask for
        # it (clinic.core.lists.PREPARED).
        options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
        options["connect_args"] = {**options.get("connect_args", {}), "prepare_threshold": sys.maxsize}
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    if app.config.get("TRUSTED_PROXIES"):
        trusted = int(app.config["TRUSTED_PROXIES"])
        # The client's address for throttling and the audit trail, and the scheme links are built with.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted, x_proto=trusted)  # type: ignore[method-assign]


def register_extensions(app: Flask) -> None:
    app.session_interface = SealedCookieSessionInterface()
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
    register_guards()
    register_treatment_guards()
    register_listeners()
    register_inventory_listeners()
    connect_records_listeners()
    connect_tracing_listeners()
    connect_reports_listeners()
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite" and not sa.event.contains(engine, "connect", _sqlite_pragmas):
            sa.event.listen(engine, "connect", _sqlite_pragmas)


def register_request_hooks(app: Flask) -> None:
    app.before_request(assign_request_id)
    app.before_request(refuse_nul_characters)
    app.before_request(enforce_session_limits)
    app.before_request(enforce_permissions)
    # Registered before the headers hook: Flask runs after_request functions in reverse order.
    app.after_request(add_security_headers)
    app.after_request(commit_request)


def register_cli(app: Flask) -> None:
    for group in (users_cli, audit_cli, demo_cli, lots_cli, backup_cli, reports_cli):
        app.cli.add_command(group)


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.globals["can"] = can
    app.jinja_env.filters["area_labels"] = area_labels
    # Date pickers refuse future dates where a future date makes no sense (date of birth).
    app.jinja_env.globals["today_iso"] = lambda: clinic_today().isoformat()
    app.jinja_env.globals["clinic_name"] = app.config["CLINIC_NAME"]
    register_filters(app)


def register_logging(app: Flask) -> None:
    if not app.debug and not app.testing:
        app.logger.setLevel(logging.INFO)
