"""Several lists of records in one statement.

A page that shows a patient's record shows many short lists of different kinds (the history's
conditions and medications, screenings, consents, patch tests, courses...). Loaded one statement
each, the round trips alone cost more than the rows. ``load_lists`` reads them all at once: each
list is a filtered subquery of its own table, and the subqueries are put side by side with
``FULL OUTER JOIN ... ON false``, so each result row carries the columns of exactly one list and
NULLs for every other. The ORM reads an entity whose primary key is NULL as None, so each row
yields one record of one list; the lists come back as ORM objects in the session's identity map,
with their eager loads, exactly as their own queries would have given them.

Each list is ordered by its own columns: the statement orders by every list's columns in turn,
and within one list the other lists' columns are all NULL (equal), so its own order decides.

On PostgreSQL a ``ListsQuery`` statement is prepared server-side once per connection: it joins a dozen
or more tables, and planning it took longer (about 7 ms on the populated benchmark database) than
running it (about 1 ms). After a few executions PostgreSQL keeps one generic plan for it; every list
is a lookup by key, for which a generic plan is the plan.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlalchemy.orm.interfaces import ORMOption

from clinic.extensions import db

# Execution option: prepare this statement server-side (psycopg), see ``_execute_prepared``.
PREPARED = {"clinic_prepared": True}


@sa.event.listens_for(sa.engine.Engine, "do_execute")
def _execute_prepared(cursor: Any, statement: str, parameters: Any, context: Any) -> bool | None:
    """Send a statement executed with ``PREPARED`` to psycopg as one to prepare; any other (and every
    statement on SQLite) goes the usual way. psycopg keeps what it prepared for the connection's life."""
    if context.execution_options.get("clinic_prepared") and context.dialect.driver == "psycopg":
        cursor.execute(statement, parameters, prepare=True)
        return True
    return None


@dataclass(frozen=True)
class Listing:
    """One list: the rows of ``entity`` matching ``where``; ``order_by`` and ``options`` (loader options)
    are given the entity's alias in the combined statement, as ``lambda a: [a.id]``."""

    entity: type[Any]
    where: Sequence[sa.ColumnElement[bool]]
    order_by: Callable[[Any], Sequence[sa.ColumnElement[Any]]] = lambda alias: ()
    options: Callable[[Any], Sequence[ORMOption]] = lambda alias: ()


def _combined(listings: Sequence[Listing]) -> sa.Select[Any]:
    aliases = []
    joined: sa.FromClause | None = None
    for listing in listings:
        subquery = sa.select(listing.entity).where(*listing.where).subquery()
        alias = aliased(listing.entity, subquery)
        aliases.append(alias)
        joined = subquery if joined is None else joined.join(subquery, sa.false(), full=True)
    assert joined is not None
    statement = sa.select(*aliases).select_from(joined)
    for listing, alias in zip(listings, aliases, strict=True):
        statement = statement.order_by(*listing.order_by(alias)).options(*listing.options(alias))
    return statement


def _split(rows: Any, count: int) -> list[list[Any]]:
    lists: list[list[Any]] = [[] for _ in range(count)]
    for row in rows:
        for position, record in enumerate(row):
            if record is not None:
                lists[position].append(record)
    return lists


def load_lists(*listings: Listing) -> list[list[Any]]:
    """The records of each listing, in its order, in one statement."""
    return _split(db.session.execute(_combined(listings)).unique(), len(listings))


class ListsQuery:
    """A ``load_lists`` statement for a page opened all day: built once, on first use, from listings whose
    criteria name bind parameters (``sa.bindparam("patient_id")``), and run with their values. Building
    the statement (aliases, adapted columns, loader options) costs more than running it."""

    def __init__(self, build: Callable[[], Sequence[Listing]]) -> None:
        self._build = build
        self._statement: tuple[sa.Select[Any], int] | None = None

    def load(self, **params: Any) -> list[list[Any]]:
        if self._statement is None:  # built after the mappers are configured; two threads building is harmless
            listings = self._build()
            self._statement = (_combined(listings), len(listings))
        statement, count = self._statement
        return _split(db.session.execute(statement, params, execution_options=PREPARED).unique(), count)
