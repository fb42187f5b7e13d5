"""The reports page and its CSV exports; the lot safety signal's page; vigilance reports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from clinic.audit.services import record_event
from clinic.core.clock import clinic_today
from clinic.core.exports import csv_response
from clinic.core.forms import submitted_version
from clinic.core.pdf import pdf_response
from clinic.core.submissions import claim, done
from clinic.core.transaction import attempt
from clinic.extensions import db
from clinic.records.followups.models import GRADES, SideEffect
from clinic.reports import queries, services
from clinic.reports.forms import PRESETS, ReportForm, SentForm, VigilanceForm
from clinic.reports.models import DIMENSIONS, DailyFigure, VigilanceReport
from clinic.reports.queries import ReportFilter
from clinic.reports.stats import as_percent

bp = Blueprint("reports", __name__)
bp.add_app_template_filter(as_percent, "as_percent")

# The tables a CSV can be asked for: each rate table, each monthly table, courses, follow-ups, lots.
TABLES = ([f"rates-{d}" for d in queries.RATE_DIMENSIONS] + [f"monthly-{d}" for d in queries.MONTHLY_DIMENSIONS]
          + ["courses", "follow-ups", "lots", "lot-signal"])


def _read_filter() -> tuple[ReportForm, ReportFilter | None]:
    form = ReportForm(request.args or MultiDict())
    form.offer(queries.filter_choices())
    if not form.validate():
        return form, None
    first = db.session.scalar(sa.select(sa.func.min(DailyFigure.day)))
    return form, form.report_filter(clinic_today(), first)


@bp.get("/reports")
def index() -> tuple[str, int]:
    """The clinic's figures for a range: sessions by month, side-effect rates with their intervals,
    courses, follow-ups, lots and recalls, and the lot safety signal."""
    form, report = _read_filter()
    if report is None:
        return render_template("reports/index.html", form=form, report=None), 400
    today = clinic_today()
    overall, rates = queries.side_effect_rates(report)
    monthly_totals, monthly = queries.sessions_by_month(report)
    return render_template(
        "reports/index.html", form=form, report=report, overall=overall, rates=rates,
        monthly_totals=monthly_totals, monthly=monthly, courses=queries.course_summary(report, today),
        follow_ups=queries.follow_up_summary(report, today), expiring=queries.lots_expiring(report, today),
        recalls=queries.open_recalls(), signal=_shown_signal(queries.lot_safety_signal(report.start, report.end)),
        dimensions=DIMENSIONS, presets=PRESETS, grades=GRADES, query=request.args.to_dict()), 200


# The page lists the flagged lots and the next ones nearest to being flagged; the CSV lists every lot tested.
SIGNAL_SHOWN = 20


def _shown_signal(found: list[queries.FlaggedLot]) -> tuple[list[queries.FlaggedLot], int]:
    flagged = sum(1 for f in found if f.signal.flagged)
    return found[:max(flagged, SIGNAL_SHOWN)], len(found)


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
    today = clinic_today()
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


# --- vigilance reports -----------------------------------------------------------------------------


def _reportable(side_effect_id: int) -> SideEffect:
    side_effect = db.get_or_404(SideEffect, side_effect_id)
    if not services.is_reportable(side_effect):
        abort(404, "Only a serious side effect, or one of grade 3 or more, gets a vigilance report.")
    return side_effect


def _vigilance_context(side_effect: SideEffect) -> dict[str, Any]:
    report = db.session.scalar(sa.select(VigilanceReport).where(VigilanceReport.side_effect_id == side_effect.id))
    return {"side_effect": side_effect, "report": report, "content": services.vigilance_content(side_effect),
            "clinic_name": current_app.config["CLINIC_NAME"]}


@bp.route("/side-effects/<int:side_effect_id>/vigilance", methods=["GET", "POST"])
def vigilance(side_effect_id: int) -> Response | tuple[str, int]:
    """The vigilance report of a serious side effect: prefilled from the record, completed by an auditor.
    Doctors and nurses read and print it; every reading is audited."""
    side_effect = _reportable(side_effect_id)
    context = _vigilance_context(side_effect)
    report: VigilanceReport | None = context["report"]
    form = VigilanceForm(obj=report) if request.method == "GET" else VigilanceForm()
    status = 200
    if request.method == "POST":
        if form.validate():
            saved = attempt(form, services.save_vigilance_report, side_effect, current_user, services.VigilanceInput(
                recipient=form.recipient.data, recipient_name=form.recipient_name.data or "",
                reporter_contact=form.reporter_contact.data or "", narrative=form.narrative.data or "",
                further_information=form.further_information.data or ""),
                expected_version=submitted_version(form.version) if report is not None else None)
            if saved.ok:
                flash("Vigilance report saved.", "success")
                return redirect(url_for("reports.vigilance", side_effect_id=side_effect.id))
            if saved.conflict and report is not None:
                status = 409
                form.version.data = report.version
        status = status if status == 409 else 400
    else:
        record_event("export", record_type="side_effect", record_id=side_effect.id, reason="vigilance report page")
    sent_form = SentForm(formdata=None, sent_on=clinic_today())
    return render_template("reports/vigilance.html", form=form, sent_form=sent_form, **context), status


@bp.post("/side-effects/<int:side_effect_id>/vigilance/sent")
def vigilance_sent(side_effect_id: int) -> Response | tuple[str, int]:
    """Record that the report was sent: when, to whom, the reference received (a resent form records once)."""
    side_effect = _reportable(side_effect_id)
    form = SentForm()
    back = url_for("reports.vigilance", side_effect_id=side_effect.id)
    if form.validate():
        if (first := claim(form.submission)) is not None:
            return first
        sent = attempt(form, services.record_sent, side_effect, current_user, sent_on=form.sent_on.data,
                       sent_to=form.sent_to.data, reference=form.reference.data or "", today=clinic_today())
        if sent.ok:
            flash("Recorded as sent.", "success")
            return done(form.submission, back)
    context = _vigilance_context(side_effect)
    vigilance_form = VigilanceForm(formdata=None, obj=context["report"])
    return render_template("reports/vigilance.html", form=vigilance_form, sent_form=form, **context), 400


@bp.get("/side-effects/<int:side_effect_id>/vigilance.pdf")
def vigilance_pdf(side_effect_id: int) -> Response:
    """The vigilance report as a PDF to send: no name, no record number, so no password asked again;
    audited like every export."""
    side_effect = _reportable(side_effect_id)
    record_event("export", record_type="side_effect", record_id=side_effect.id, reason="vigilance report PDF")
    html = render_template("reports/vigilance_pdf.html", **_vigilance_context(side_effect))
    return pdf_response(html, f"vigilance-report-{side_effect.id}.pdf", download=True)
