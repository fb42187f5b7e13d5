"""`flask audit verify` and `flask audit head`."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from clinic.audit.services import chain_head, verify_chain


@click.group("audit")
def audit_cli() -> None:
    """Check the audit trail's hash chain."""


@audit_cli.command("verify")
@click.option("--head", "expected_head", help="A head exported earlier with `audit head`.")
@with_appcontext
def verify(expected_head: str | None) -> None:
    """Exit 0 with the row count when intact; otherwise name the first bad row."""
    result = verify_chain(expected_head=expected_head, anchor_file=current_app.config.get("AUDIT_ANCHOR_FILE"))
    if result.ok:
        anchored = "" if result.anchored_seq is None else f"; reaches the anchor of row {result.anchored_seq}"
        click.echo(f"Audit trail intact: {result.count} rows, head {result.head}{anchored}")
        return
    click.echo(f"Audit trail BROKEN at row {result.first_bad_seq}: {result.problem}", err=True)
    sys.exit(1)


@audit_cli.command("head")
@with_appcontext
def head() -> None:
    """Print the latest row's sequence and hash, to keep outside the database."""
    click.echo(chain_head())
