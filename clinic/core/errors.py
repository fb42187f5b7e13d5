"""Exceptions the services raise and the views turn into clear answers."""

from __future__ import annotations


class ClinicError(Exception):
    """A rule of the clinic refused the operation; the message is shown to the user."""

    # A refusal that is itself on record (a wrong password is audited): what was written stays.
    keeps_record = False


class FieldError(ClinicError):
    """A rule broken by one form field; ``field`` names it so the form can show it there."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


class FieldErrors(ClinicError):
    """Several fields broken at once: each message goes beside its own field, all of them in one answer,
    so the person fixes everything in one go rather than one refusal at a time."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__(" ".join(str(e) for e in errors))


class RecordLockedError(ClinicError):
    """A signed or locked record was about to change outside an amendment."""


class DeletionRefusedError(ClinicError):
    """Clinical data is voided, never deleted."""


class VersionConflictError(ClinicError):
    """Somebody saved the record after this form was opened (optimistic locking)."""

    def __init__(self, record: object, submitted_version: int | None) -> None:
        self.record = record
        self.submitted_version = submitted_version
        super().__init__(
            "Someone else saved this record while you were editing it. "
            "Your changes were not saved; they are still in the form below."
        )


class SavedMeanwhile(ClinicError):
    """Two people saved at the same moment and the database took the other one first (a unique value, or a
    row changed under this save). Nothing of this save is kept; the form comes back as typed, with a 409."""

    def __init__(self) -> None:
        super().__init__("Someone saved the same record at the same moment, and theirs came first: yours was "
                         "not saved. Your entries are still in the form: check them against what is now on "
                         "record, then save again.")
