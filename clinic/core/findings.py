"""What a check found, as a code the code branches on and a message the person reads."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    """A reason that blocks or a warning to acknowledge. Callers decide on ``code``, never on ``message``,
    so a message can be reworded without changing what the system does."""

    code: str
    message: str
    field: str | None = None

    def __str__(self) -> str:
        return self.message
