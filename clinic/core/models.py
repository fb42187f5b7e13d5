"""The one declarative ``Base`` and the record mechanics every clinical model reuses.

- :class:`VoidableMixin`: wrong entries are voided with a reason, never deleted.
- :class:`VersionedMixin`: optimistic locking, so two people editing the same
  record never silently overwrite each other.
- :class:`LockableMixin`: once signed/locked, the ORM refuses any change
  (the flush guards in :mod:`clinic.core.services`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Optional

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Now, timezone-aware in UTC (a callable default, never a value fixed at import)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that always comes back timezone-aware in UTC, on SQLite too."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use clinic.core.models.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Every model's base; its metadata names constraints so migrations can refer to them."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

    # Audit settings read by clinic.audit.listeners.
    __audit__: ClassVar[bool] = True
    __audit_redact__: ClassVar[frozenset[str]] = frozenset()

    if TYPE_CHECKING:
        # DeclarativeBase says FromClause; every model here maps a Table.
        __table__: ClassVar[sa.Table]


class VoidableMixin:
    """Voided rather than deleted: who, when and why; voided rows leave normal lists."""

    voided_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    void_reason: Mapped[Optional[str]] = mapped_column(sa.Text)

    @declared_attr
    def voided_by_id(cls) -> Mapped[Optional[int]]:
        return mapped_column(sa.ForeignKey("user.id"))

    @property
    def is_voided(self) -> bool:
        return self.voided_at is not None

    @classmethod
    def not_voided(cls) -> sa.ColumnElement[bool]:
        """Filter for normal lists; traces and audits leave it out and mark voided rows."""
        return cls.voided_at.is_(None)


class VersionedMixin:
    """Optimistic locking: the version travels in edit forms; a stale save is a conflict."""

    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.version}


class LockableMixin:
    """A record that becomes read-only once locked (a signed session, for instance)."""

    # Columns that may still change on a locked row (voiding a signed record).
    __lock_exempt__: ClassVar[frozenset[str]] = frozenset(
        {"voided_at", "voided_by_id", "void_reason", "version"}
    )

    locked_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None


class days_after(FunctionElement[date]):  # noqa: N801 (an SQL function, named like one)
    """SQL: the UTC date of a timestamp plus a number of days, on PostgreSQL and SQLite alike. A filter
    in the database by a date computed per row (the next session due) before the exact clinic-day check."""

    type = sa.Date()
    inherit_cache = True
    name = "days_after"


@compiles(days_after, "postgresql")
def _days_after_postgresql(element: days_after, compiler: SQLCompiler, **kw: Any) -> str:
    when, days = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"(CAST(({when}) AT TIME ZONE 'UTC' AS DATE) + ({days}))"


@compiles(days_after, "sqlite")
def _days_after_sqlite(element: days_after, compiler: SQLCompiler, **kw: Any) -> str:
    when, days = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"date({when}, '+' || ({days}) || ' days')"
