"""Courses, the session form (the doctor's main screen), the session page with signing, amendments
and voiding, and the aftercare sheet: one module each, all on one blueprint."""

from clinic.records.treatments.routes import aftercare, courses, session_form, session_page
from clinic.records.treatments.routes.blueprint import bp

__all__ = ["aftercare", "bp", "courses", "session_form", "session_page"]
