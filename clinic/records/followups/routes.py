"""The nurses' follow-up worklist and work, side effects, the doctors' flags and the side-effect catalogue."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("followups", __name__)
