"""The count cards at the top of each role's home page: the day at a glance, each card a link to its list.

Built from what the home page loads anyway (the doctor's worklist and flags, the auditor's signal and
recalls) or counted in one statement (the nurses' worklist, the staff accounts)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import url_for

from clinic.auth.services import AccountCounts
from clinic.records.followups.queries import WorklistCounts
from clinic.shell.worklist import DoctorWorklist

OK, WARN, BAD, INFO = "ok", "warn", "bad", "info"


@dataclass(frozen=True)
class CountCard:
    key: str  # the card's id is count-KEY
    count: int
    label: str
    href: str
    tone: str  # ok, warn, bad (the status colours) or info (a plain tally)
    at_least: bool = False  # the count is a floor: "50+"


def _alarm(count: int, tone: str) -> str:
    """A list that should be empty: ``tone`` while it holds something, ok once it is clear."""
    return tone if count else OK


def doctor_cards(worklist: DoctorWorklist, flags: Sequence[Any]) -> list[CountCard]:
    overdue = len(worklist.overdue) + worklist.more_overdue
    return [
        CountCard("sessions-today", len(worklist.todays), "Sessions today", "#doctor-today", INFO),
        CountCard("drafts", len(worklist.drafts), "Drafts to sign", "#doctor-drafts",
                  _alarm(len(worklist.drafts), WARN)),
        CountCard("overdue-courses", overdue, "Courses overdue", "#doctor-overdue", _alarm(overdue, WARN),
                  at_least=worklist.more_overdue > 0),
        CountCard("flags", len(flags), "Flags for a doctor", url_for("followups.flags"), _alarm(len(flags), BAD)),
    ]


def nurse_cards(counts: WorklistCounts) -> list[CountCard]:
    def to(anchor: str) -> str:
        return url_for("followups.worklist", _anchor=f"follow-ups-{anchor}")

    return [
        CountCard("urgent", counts.urgent, "Patients' reports to call back", to("urgent"),
                  _alarm(counts.urgent, BAD)),
        CountCard("overdue-follow-ups", counts.overdue, "Follow-ups overdue", to("overdue"),
                  _alarm(counts.overdue, WARN)),
        CountCard("due-today", counts.today, "Follow-ups due today", to("today"), INFO),
        CountCard("upcoming", counts.upcoming, "Due in the next 7 days", to("upcoming"), INFO),
    ]


def auditor_cards(lot_signal: Sequence[Any], unreported: Sequence[Any], unreported_limit: int,
                  open_recalls: Sequence[tuple[Any, int]]) -> list[CountCard]:
    pending = sum(1 for _, waiting in open_recalls if waiting)
    return [
        CountCard("lots-flagged", len(lot_signal), "Lots flagged by the safety signal", "#home-lot-signal",
                  _alarm(len(lot_signal), BAD)),
        CountCard("unreported", len(unreported), "Severe or serious side effects not reported", "#home-unreported",
                  _alarm(len(unreported), BAD), at_least=len(unreported) >= unreported_limit),
        CountCard("recalls-pending", pending, "Open recalls with patients to reach", url_for("tracing.list_recalls"),
                  _alarm(pending, WARN)),
    ]


def admin_cards(counts: AccountCounts) -> list[CountCard]:
    users = url_for("admin.list_users")
    return [
        CountCard("active-accounts", counts.active, "Active accounts", users, INFO),
        CountCard("no-two-step", counts.without_two_step, "Active without two-step sign-in", users,
                  _alarm(counts.without_two_step, WARN)),
        CountCard("deactivated", counts.deactivated, "Deactivated accounts", users, INFO),
    ]
