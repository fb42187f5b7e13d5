"""Form fields shared by every package."""

from __future__ import annotations

from typing import Any

from wtforms import SelectField
from wtforms.validators import StopValidation


def optional_int(value: Any) -> int | None:
    if value in ("", None):
        return None
    return int(value)


class ChoiceField(SelectField):
    """A required pick from a list: one clear message when nothing was chosen."""

    def __init__(self, label: str | None = None, validators: Any = None, *,
                 message: str = "Choose from the list.", **kwargs: Any) -> None:
        kwargs.setdefault("coerce", optional_int)
        super().__init__(label, validators, **kwargs)
        self.message = message

    def pre_validate(self, form: Any) -> None:
        if self.data is None:
            raise StopValidation(self.message)
        super().pre_validate(form)
