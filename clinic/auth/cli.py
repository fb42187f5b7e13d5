"""`flask users create` and `flask users list`."""

from __future__ import annotations

import sys

import click
import sqlalchemy as sa
from flask import g
from flask.cli import with_appcontext

from clinic.audit.services import Actor
from clinic.auth.models import User
from clinic.auth.services import ROLES, create_user
from clinic.core.errors import ClinicError
from clinic.extensions import db


@click.group("users")
def users_cli() -> None:
    """Staff accounts."""


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice([role.value for role in ROLES]), required=True)
@click.option("--name", "full_name", required=True, help="The person's full name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def create(email: str, role: str, full_name: str, password_stdin: bool) -> None:
    """Open an account for a named person (password from a prompt or stdin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    g.audit_actor = Actor(None, "cli", "admin")
    try:
        user = create_user(email, full_name, role, password)
    except ClinicError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"Created {user.role} account {user.email} (id {user.id}).")


@users_cli.command("list")
@with_appcontext
def list_users() -> None:
    """Every account with its role and status."""
    for user in db.session.scalars(sa.select(User).order_by(User.id)):
        status = "active" if user.is_active else "deactivated"
        two_step = "2-step" if user.totp_enabled else ""
        click.echo(f"{user.id:>4}  {user.email:<30} {user.role:<8} {status:<11} {two_step}  {user.full_name}")
