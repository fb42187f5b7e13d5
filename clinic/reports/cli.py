"""`flask --app wsgi reports rebuild [--from DAY] [--to DAY]`."""

from __future__ import annotations

from datetime import date

import click
from flask.cli import AppGroup

from clinic.audit.services import Actor, record_event
from clinic.extensions import db
from clinic.reports.figures import rebuild as rebuild_figures

reports_cli = AppGroup("reports", help="The clinic's reports.")


@reports_cli.command("rebuild")
@click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"]), default=None, help="First clinic day (YYYY-MM-DD).")
@click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Last clinic day (YYYY-MM-DD).")
def rebuild(first: object, last: object) -> None:
    """Recompute the reports' daily figures from the records (every day, or the days given)."""
    start: date | None = first.date() if first is not None else None  # type: ignore[attr-defined]
    end: date | None = last.date() if last is not None else None  # type: ignore[attr-defined]
    if start and end and end < start:
        raise click.ClickException("The last day is before the first.")
    days = rebuild_figures(start, end)
    record_event("rebuild", record_type="report_daily", record_id="",
                 reason=f"report figures rebuilt for {days} days", actor=Actor(None, "command line", None))
    db.session.commit()
    click.echo(f"Rebuilt the report figures of {days} days.")
