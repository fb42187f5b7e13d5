"""The reports page and its CSV exports; the lot safety signal's page; vigilance reports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from flask import Blueprint, abort, render_template, request
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from clinic.audit.services import record_event
from clinic.core.exports import csv_response
from clinic.extensions import db
from clinic.records.followups.models import GRADES
from clinic.reports import queries
from clinic.reports.forms import PRESETS, ReportForm
from clinic.reports.models import DIMENSIONS, DailyFigure
from clinic.reports.queries import ReportFilter

bp = Blueprint("reports", __name__)

# The tables a CSV can be asked for: each rate table, each monthly table, courses, follow-ups, lots.
TABLES = ([f"rates-{d}" for d in queries.RATE_DIMENSIONS] + [f"monthly-{d}" for d in queries.MONTHLY_DIMENSIONS]
          + ["courses", "follow-ups", "lots", "lot-signal"])


def _read_filter() -> tuple[ReportForm, ReportFilter | None]:
    form = ReportForm(request.args or MultiDict())
    form.offer(queries.filter_choices())
    if not form.validate():
        return form, None
    first = db.session.scalar(sa.select(sa.func.min(DailyFigure.day)))
    return form, form.report_filter(date.today(), first)


@bp.get("/reports")
def index() -> tuple[str, int]:
    """The clinic's figures for a range: sessions by month, side-effect rates with their intervals,
    courses, follow-ups, lots and recalls, and the lot safety signal."""
    form, report = _read_filter()
    if report is None:
        return render_template("reports/index.html", form=form, report=None), 400
    today = date.today()
    overall, rates = queries.side_effect_rates(report)
    monthly_totals, monthly = queries.sessions_by_month(report)
    return render_template(
        "reports/index.html", form=form, report=report, overall=overall, rates=rates,
        monthly_totals=monthly_totals, monthly=monthly, courses=queries.course_summary(report, today),
        follow_ups=queries.follow_up_summary(report, today), expiring=queries.lots_expiring(report, today),
        recalls=queries.open_recalls(), signal=queries.lot_safety_signal(report.start, report.end),
        dimensions=DIMENSIONS, presets=PRESETS, grades=GRADES, query=request.args.to_dict()), 200


def _rate_rows(rows: Sequence[queries.RateRow]) -> list[list[object]]:
    return [[row.label, row.sessions, row.with_side_effect, f"{row.rate.per_100:.1f}",
             f"{row.rate.interval[0]:.1f}", f"{row.rate.interval[1]:.1f}", *row.grades, row.serious]
            for row in rows]


@bp.get("/reports/<table>.csv")
def export(table: str) -> Response | tuple[str, int]:
    """One table of the reports page as CSV (formula-safe), for the same range and filters. Counts only,
    no patient: no password asked again, but audited like every export."""
    if table not in TABLES:
        abort(404)
    form, report = _read_filter()
    if report is None:
        return render_template("reports/index.html", form=form, report=None), 400
    today = date.today()
    header: Sequence[str]
    rows: list[list[object]]
    if table.startswith("rates-"):
        dimension = table.removeprefix("rates-")
        header = (DIMENSIONS[dimension], "sessions", "sessions_with_side_effect", "per_100", "ci95_low",
                  "ci95_high", "worst_grade_1", "worst_grade_2", "worst_grade_3", "worst_grade_4", "serious")
        rows = _rate_rows(queries.side_effect_rates(report)[1][dimension])
    elif table.startswith("monthly-"):
        dimension = table.removeprefix("monthly-")
        monthly = queries.sessions_by_month(report)[1][dimension]
        header = (DIMENSIONS[dimension], *monthly.months)
        rows = [[label, *counts] for _, label, counts in monthly.rows]
    elif table == "courses":
        courses = queries.course_summary(report, today)
        header = ("courses", "count")
        rows = [[status, n] for status, n in sorted(courses.by_status.items())] + [["overdue", courses.overdue]]
        rows += [[f"stopped early: {reason}", n] for reason, n in courses.stop_reasons]
    elif table == "follow-ups":
        follow = queries.follow_up_summary(report, today)
        header = ("follow_ups", "count")
        rows = [["done on time", follow.on_time], ["done late", follow.late], ["not reached", follow.not_reached],
                ["still open past their day", follow.open_overdue]]
    elif table == "lots":
        header = ("expiring_within_days", "lots_on_hand")
        rows = [[days, n] for days, n in queries.lots_expiring(report, today)]
    else:
        header = ("product", "lot", "sessions", "grade_2_or_serious", "per_100", "other_lots_sessions",
                  "other_lots_grade_2_or_serious", "other_lots_per_100", "p_value", "q_value_bh", "flagged")
        rows = [[f.lot.product.name, f.lot.lot_number, f.signal.figures.sessions, f.signal.figures.signal,
                 f"{f.signal.rate.per_100:.1f}", f.signal.figures.sibling_sessions, f.signal.figures.sibling_signal,
                 f"{f.signal.sibling_rate.per_100:.1f}", f"{f.signal.p_value:.3g}", f"{f.signal.q_value:.3g}",
                 "yes" if f.signal.flagged else ""] for f in queries.lot_safety_signal(report.start, report.end)]
    record_event("export", record_type="report", record_id=table,
                 reason=f"report {table} as csv, {report.start.isoformat()} to {report.end.isoformat()}")
    return csv_response(f"report-{table}-{report.start.isoformat()}-{report.end.isoformat()}.csv", header, rows)
