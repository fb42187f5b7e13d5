"""The command line: accounts and demo data (the same services as the pages)."""

from __future__ import annotations

import sqlalchemy as sa

from clinic.auth.models import User
from clinic.extensions import db
from clinic.shell.cli import DEMO_ACCOUNTS
from tests.conftest import audit_rows


def test_users_create_reads_the_password_from_stdin(runner, app) -> None:
    result = runner.invoke(
        args=["users", "create", "Mira.Patel@Example.test", "--role", "nurse", "--name", "Mira Patel",
              "--password-stdin"],
        input="lantern orchard bicycle\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User))
    assert user.email == "mira.patel@example.test"
    assert user.password_hash.startswith("$argon2id$")
    assert audit_rows("create")[-1].user_email == "cli"


def test_users_create_prompts_for_the_password_twice(runner, app) -> None:
    result = runner.invoke(
        args=["users", "create", "a@example.test", "--role", "doctor", "--name", "Ana Silva"],
        input="lantern orchard bicycle\nlantern orchard bicycle\n",
    )
    assert result.exit_code == 0, result.output


def test_users_create_refuses_a_weak_password_and_writes_nothing(runner, app) -> None:
    result = runner.invoke(
        args=["users", "create", "a@example.test", "--role", "doctor", "--name", "Ana Silva",
              "--password-stdin"],
        input="password1234\n",
    )
    assert result.exit_code != 0
    assert "common" in result.output.lower()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_users_create_refuses_an_unknown_role(runner, app) -> None:
    result = runner.invoke(args=["users", "create", "a@example.test", "--role", "owner", "--name", "X"])
    assert result.exit_code != 0


def test_users_list_shows_roles_and_status(runner, staff) -> None:
    output = runner.invoke(args=["users", "list"]).output
    for role in ("doctor", "nurse", "auditor", "admin"):
        assert f"{role}@example.test" in output
    assert "active" in output


def test_demo_seed_creates_the_demo_accounts_once(runner, app) -> None:
    first = runner.invoke(args=["demo", "seed", "--if-empty"])
    assert first.exit_code == 0, first.output
    for email, _name, role, password in DEMO_ACCOUNTS:
        assert email in first.output and password in first.output
    again = runner.invoke(args=["demo", "seed", "--if-empty"])
    assert again.exit_code == 0 and "already present" in again.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == len(DEMO_ACCOUNTS)
    refused = runner.invoke(args=["demo", "seed"])
    assert refused.exit_code != 0


def test_demo_seed_is_refused_outside_the_demo(runner, app) -> None:
    app.config["DEMO_DATA_ALLOWED"] = False
    result = runner.invoke(args=["demo", "seed", "--if-empty"])
    assert result.exit_code != 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0
