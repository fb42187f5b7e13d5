"""`flask demo seed`: synthetic demo data for the local demo, through the app's own services."""

from __future__ import annotations

import json
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from clinic.audit.services import chain_head
from clinic.auth.models import User
from clinic.auth.services import create_user
from clinic.core.errors import ClinicError
from clinic.extensions import db
from clinic.inventory.demo import seed_demo_stock
from clinic.records.demo import seed_demo_patients
from clinic.records.followups.demo import seed_demo_follow_ups
from clinic.records.outcomes.demo import seed_demo_results
from clinic.records.treatments.demo import seed_demo_courses
from clinic.shell.backup import backup_database, check_restored, manifest_path, restore_database

# Demo-only accounts, for the local demo on 127.0.0.1. Production refuses to seed.
DEMO_ACCOUNTS = (
    ("doctor@demo.clinic", "Dr Lena Marchetti", "doctor", "demo doctor passphrase"),
    ("nurse@demo.clinic", "Sam Okafor", "nurse", "demo nurse passphrase"),
    ("auditor@demo.clinic", "Ines Varga", "auditor", "demo auditor passphrase"),
    ("admin@demo.clinic", "Tom Halvorsen", "admin", "demo admin passphrase"),
)


@click.group("demo")
def demo_cli() -> None:
    """Demo data for trying the app locally."""


@demo_cli.command("seed")
@click.option("--if-empty", is_flag=True, help="Do nothing when accounts already exist.")
@with_appcontext
def seed(if_empty: bool) -> None:
    """Create the demo accounts (synthetic people) and print how to sign in."""
    if not current_app.config["DEMO_DATA_ALLOWED"]:
        raise click.ClickException("Demo data is for the local demo, not a production database.")
    existing = db.session.scalar(sa.select(sa.func.count()).select_from(User))
    if existing and if_empty:
        click.echo("Demo data already present; keeping the database as it is.")
    elif existing:
        raise click.ClickException("The database already has accounts; demo data goes into an empty one.")
    else:
        staff = {role: create_user(email, name, role, password)
                 for email, name, role, password in DEMO_ACCOUNTS}
        seed_demo_stock(receiver=staff["nurse"], holder=staff["auditor"])
        seed_demo_patients(doctor=staff["doctor"], nurse=staff["nurse"])
        seed_demo_courses(doctor=staff["doctor"], nurse=staff["nurse"])
        seed_demo_follow_ups(nurse=staff["nurse"])
        seed_demo_results(doctor=staff["doctor"], nurse=staff["nurse"])
        db.session.commit()
        click.echo("Demo data loaded.")
    click.echo("Demo accounts (local demo only):")
    for email, _name, role, password in DEMO_ACCOUNTS:
        click.echo(f"  {role:<8} {email:<22} password: {password}")


@click.group("backup")
def backup_cli() -> None:
    """Back the database up, and restore a backup into a new database with proof that it is whole."""


@backup_cli.command("create")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_create(target: Path) -> None:
    """Write a consistent backup of the app's database to TARGET (SQLite copy or pg_dump custom format)."""
    head = chain_head()  # taken first: the backup holds at least this much of the trail
    try:
        backup_database(db.engine, target)
    except ClinicError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Backup written to {target}. Audit head at backup time: {head}")
    click.echo("Keep that head apart from the backup; `backup restore --head` checks against it.")


@backup_cli.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--into", "database_url", required=True,
              help="A new database: sqlite:////path/new.sqlite, or an empty postgresql+psycopg://... one.")
@click.option("--head", "expected_head", help="The audit head printed when the backup was made.")
@with_appcontext
def backup_restore(source: Path, database_url: str, expected_head: str | None) -> None:
    """Restore SOURCE into a new database, then verify its audit chain, triggers and row counts."""
    try:
        restore_database(source, database_url)
    except ClinicError as error:
        raise click.ClickException(str(error)) from None
    manifest = manifest_path(source)
    expected = json.loads(manifest.read_text()) if manifest.is_file() else None
    check = check_restored(database_url, current_app.config["AUDIT_HMAC_KEY"], expected_head, expected)
    for name, count in check.row_counts.items():
        click.echo(f"{name:<28} {count:>10,}" + ("" if expected is None else f"   backup: {expected.get(name, 0):,}"))
    if check.count_differences:
        raise click.ClickException("Restored, but row counts differ from the backup's: " + ", ".join(
            f"{n} {want} -> {got}" for n, (want, got) in check.count_differences.items()))
    if not check.chain.ok:
        raise click.ClickException(f"Restored, but the audit trail is BROKEN at row {check.chain.first_bad_seq}: "
                                   f"{check.chain.problem}")
    if not check.triggers_refuse_update:
        raise click.ClickException("Restored, but the audit table accepts UPDATE: its triggers are missing.")
    click.echo(f"Restored. Audit trail intact ({check.chain.count} rows, head {check.chain.head}); "
               "the audit table still refuses changes.")
