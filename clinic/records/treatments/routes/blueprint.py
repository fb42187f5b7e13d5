"""The treatments blueprint; each module of this package adds its views to it."""

from flask import Blueprint

bp = Blueprint("treatments", __name__)
