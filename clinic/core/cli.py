"""`flask demo seed`: synthetic demo data for the local demo, through the app's own services."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from clinic.auth.models import User
from clinic.auth.services import create_user
from clinic.extensions import db
from clinic.inventory.demo import seed_demo_stock
from clinic.records.demo import seed_demo_patients
from clinic.records.treatments.demo import seed_demo_courses

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
        db.session.commit()
        click.echo("Demo data loaded.")
    click.echo("Demo accounts (local demo only):")
    for email, _name, role, password in DEMO_ACCOUNTS:
        click.echo(f"  {role:<8} {email:<22} password: {password}")
