import logging
from logging.config import fileConfig

from flask import current_app

import sqlalchemy as sa

from alembic import context

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# Interpret the config file for Python logging.
# This line sets up loggers basically.
# Keep the application's loggers: `flask db upgrade` inside a running process (the tests, the
# migration checks) must not silence the error log of the app that asked for it.
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger('alembic.env')


def get_engine():
    return current_app.extensions['migrate'].db.engine


def get_engine_url():
    return get_engine().url.render_as_string(hide_password=False).replace('%', '%%')


# add your model's MetaData object here
# for 'autogenerate' support
# from myapp import mymodel
# target_metadata = mymodel.Base.metadata
config.set_main_option('sqlalchemy.url', get_engine_url())
target_db = current_app.extensions['migrate'].db

# other values from the config, defined by the needs of env.py,
# can be acquired:
# my_important_option = config.get_main_option("my_important_option")
# ... etc.


def get_metadata():
    if hasattr(target_db, 'metadatas'):
        return target_db.metadatas[None]
    return target_db.metadata


def run_migrations_offline():
    """Run migrations in 'offline' mode.

    This configures the context with just a URL
    and not an Engine, though an Engine is acceptable
    here as well.  By skipping the Engine creation
    we don't even need a DBAPI to be available.

    Calls to context.execute() here emit the given string to the
    script output.

    """
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url, target_metadata=get_metadata(), literal_binds=True
    )

    with context.begin_transaction():
        context.run_migrations()


def include_name(name, type_, parent_names):
    """Leave out what lives only in migrations: SQLite's FTS5 search tables."""
    from clinic.records.patients.search import is_search_table

    return not (type_ == "table" and name and is_search_table(name))


def render_item(type_, obj, autogen_context):
    """Render the app's UTCDateTime as the plain column type it stores."""
    from clinic.core.models import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def grant_app_role(connection, role):
    """What the app's own database role may do, granted again after every upgrade so new tables are
    covered: read and write clinical tables, only read and append the audit trail, only read the
    migration version. The role owns nothing, so it cannot drop a trigger, alter or truncate a table:
    the audit trail cannot be rewritten with the app's credentials (SECURITY.md T2)."""
    quote = connection.dialect.identifier_preparer.quote
    role = quote(role)
    schema = quote(connection.exec_driver_sql("SELECT current_schema()").scalar())
    tables = set(sa.inspect(connection).get_table_names())  # none after a downgrade to base
    statements = [
        f"GRANT USAGE ON SCHEMA {schema} TO {role}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
    ]
    for table, taken_back in (
        ("alembic_version", "INSERT, UPDATE, DELETE"),
        # Rows are appended, never changed; the one head row is moved on by each append (it
        # serialises appends; verification never trusts it).
        ("audit_event", "UPDATE, DELETE"),
        ("audit_chain", "INSERT, DELETE"),
    ):
        if table in tables:
            statements.append(f"REVOKE {taken_back} ON {quote(table)} FROM {role}")
    for statement in statements:
        connection.exec_driver_sql(statement)
    logger.info("Granted the app role %s its privileges.", role)


def run_migrations_online():
    """Run migrations in 'online' mode.

    In this scenario we need to create an Engine
    and associate a connection with the context.

    """

    # this callback is used to prevent an auto-migration from being generated
    # when there are no changes to the schema
    # reference: http://alembic.zzzcomputing.com/en/latest/cookbook.html
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, 'autogenerate', False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info('No changes in schema detected.')

    conf_args = current_app.extensions['migrate'].configure_args
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives
    conf_args.setdefault("render_item", render_item)
    conf_args.setdefault("include_name", include_name)
    conf_args.setdefault("compare_type", True)

    connectable = get_engine()

    with connectable.connect() as connection:
        on_sqlite = connection.dialect.name == "sqlite"
        if on_sqlite:
            # A batch migration rebuilds a SQLite table (copy, drop, rename), and with foreign keys
            # enforced dropping a table that other rows refer to fails. They are switched off while
            # migrating and every reference is checked once the migrations are done.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            context.configure(
                connection=connection,
                target_metadata=get_metadata(),
                **conf_args
            )

            with context.begin_transaction():
                context.run_migrations()
                app_role = current_app.config.get("DATABASE_APP_ROLE")
                if app_role and connection.dialect.name == "postgresql":
                    grant_app_role(connection, app_role)
            if on_sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"rows refer to rows that do not exist after migrating: {broken[:10]}")
        finally:
            if on_sqlite:
                connection.rollback()
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
