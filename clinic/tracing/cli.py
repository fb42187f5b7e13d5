"""`flask --app wsgi lots trace LOT [--gtin GTIN] [--format table|csv|json]`."""

from __future__ import annotations

import csv
import sys

import click
from flask.cli import AppGroup

from clinic.audit.services import Actor, record_event
from clinic.core.clock import in_clinic_zone
from clinic.core.errors import ClinicError
from clinic.core.exports import neutralise
from clinic.extensions import db
from clinic.tracing import exports, services

lots_cli = AppGroup("lots", help="Lot trace from the command line.")


@lots_cli.command("trace")
@click.argument("lot")
@click.option("--gtin", default="", help="Narrow to one product when lot numbers repeat.")
@click.option("--format", "output", type=click.Choice(["table", "csv", "json"]), default="table")
def trace(lot: str, gtin: str, output: str) -> None:
    """Every patient who received LOT, alone or in a cocktail (voided sessions marked)."""
    try:
        lots = services.find_lots(lot, gtin)
    except services.NoSuchLot as missing:
        raise click.ClickException(str(missing) + (f" Close matches: {', '.join(missing.close)}." if missing.close
                                                   else "")) from None
    except ClinicError as error:
        raise click.ClickException(str(error)) from None
    page = services.trace_lot(lots, everything=True)
    record_event("trace", record_type="lot", record_id=",".join(str(x.id) for x in lots)[:60],
                 reason=f"trace of lot {lot} from the command line ({output})",
                 actor=Actor(None, "command line", None))
    db.session.commit()
    if output == "json":
        click.echo(exports.trace_json(page, with_lots=False))
        return
    if output == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(exports.CSV_HEADER)
        for row in exports.csv_rows(page):
            writer.writerow([neutralise(cell) for cell in row])
        return
    totals = page.totals
    click.echo(f"Lot {lot}: {totals.patients} patients, {totals.sessions} sessions, {totals.lot_ml} ml administered, "
               f"{totals.units_used} of {totals.units_received} units used")
    for r in page.rows:
        mark = " VOIDED" if r.session_voided else ""
        click.echo(f"{in_clinic_zone(r.performed_at):%Y-%m-%d %H:%M}  {r.record_number:<10} {r.patient_name:<28} "
                   f"{r.area or '-':<22} {r.lot_ml or '-':>6} ml  {r.doctor}{mark}")
