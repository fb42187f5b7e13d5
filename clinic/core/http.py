"""Input no record can hold, refused at the door (SECURITY.md I3, I5), and download headers that name
any file safely."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote, urlsplit

from flask import abort, request, url_for
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


def safe_next(target: str | None) -> str:
    """Only a same-site relative path; anything else goes home (SECURITY.md I4)."""
    home = url_for("shell.home")
    if not target:
        return home
    target = target.strip()
    # Judge the percent-decoded form too: a proxy or browser that decodes
    # /%09/evil.example or /%2F/evil.example would otherwise leave the site.
    for form in (target, unquote(target)):
        if not form.startswith("/") or form.startswith("//") or "\\" in form:
            return home
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in form):
            return home
        parts = urlsplit(form)
        if parts.scheme or parts.netloc:
            return home
    return target


def return_to() -> str | None:
    """Where a page opened from another one sends the user back when its work is done (``?back=/path``,
    carried through its forms as a hidden field): a same-site path only, otherwise nowhere."""
    target = request.values.get("back")
    if not target:
        return None
    checked = safe_next(target)
    return checked if checked == target.strip() else None
