"""The patient's own report of a side effect, from the link on their aftercare sheet (no account)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("patient_report", __name__)
