"""Template helpers shared by every page."""

from __future__ import annotations

from typing import Any

from flask import Flask, url_for


def url_base(endpoint: str, key: str) -> str:
    """The URL of ``endpoint`` up to its trailing id ``key``, for tables of hundreds of links
    (``url_base(...) ~ row.id``): url_for once, not once per row."""
    values: dict[str, Any] = {key: 0}  # typed so it is not taken for url_for's _anchor, _external...
    url = url_for(endpoint, **values)
    if not url.endswith("/0"):
        raise ValueError(f"{endpoint} does not end in its {key}")
    return url[:-1]


def register_filters(app: Flask) -> None:
    app.jinja_env.globals["url_base"] = url_base
