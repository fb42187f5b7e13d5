"""Input no record can hold, refused at the door (SECURITY.md I3, I5), and download headers that name
any file safely."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import abort, request
from werkzeug.routing import IntegerConverter

# The largest id a row can have (a 32-bit integer column): a larger one in a URL is simply not found.
LARGEST_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route: a number no row can have is a 404, never a database error."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002 - werkzeug's name
        kwargs.setdefault("max", LARGEST_ID)
        super().__init__(map, *args, **kwargs)


def refuse_nul_characters() -> None:
    """Before every request: a NUL character cannot be stored in a text column (PostgreSQL refuses it, and
    SQLite's search index breaks on it), so a form or query holding one is a plain 400."""
    values = [*request.args.values(), *(request.form.values() if request.method == "POST" else ())]
    if any("\x00" in value for value in values):
        abort(400, description="The text sent holds a NUL character, which cannot be stored.")


def content_disposition(filename: str, *, download: bool = True) -> str:
    """An attachment (or inline) header for any file name: a plain-ASCII fallback and the exact name in
    RFC 6266's ``filename*`` (a record number or lot in another script must not break the export)."""
    fallback = "".join(ch if ch.isascii() and ch.isprintable() and ch not in '"\\' else "_" for ch in filename)
    kind = "attachment" if download else "inline"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
