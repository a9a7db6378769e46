"""Engine, sessions, portable column types and the tenant-scoping hooks.

Tenancy is enforced here and nowhere else: every ORM SELECT/UPDATE/DELETE touching a
`TenantScoped` table gets `org_id = <session org>` added, and a query with no organisation
set fails closed. A flush stamps `org_id` on new rows and refuses rows of another org.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    Engine,
    ForeignKey,
    ForeignKeyConstraint,
    MetaData,
    Uuid,
    create_engine,
    event,
    select,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    Session,
    declared_attr,
    mapped_column,
    sessionmaker,
    with_loader_criteria,
)
from sqlalchemy.types import TypeDecorator

from praxis.platform.errors import NotFound, TenantScopeError
from praxis.platform.ids import new_id

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on both databases (SQLite has no time zones of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: Praxis stores timezone-aware UTC only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        datetime: UTCDateTime(),
        uuid.UUID: Uuid(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class TenantScoped:
    """Mixin for every tenant-owned table: `(org_id, id)` is the primary key."""

    @declared_attr
    def org_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(ForeignKey("organisations.id"), primary_key=True)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)


def org_fk(columns: list[str], target: str, *, ondelete: str | None = None, name: str | None = None
           ) -> ForeignKeyConstraint:
    """A foreign key that always includes `org_id`, so a row can never point into another org.

    `org_fk(["location_id"], "locations")` -> (org_id, location_id) -> locations(org_id, id).
    """
    return ForeignKeyConstraint(
        ["org_id", *columns],
        [f"{target}.org_id", f"{target}.id"],
        ondelete=ondelete,
        name=name,
    )


# --- engine -----------------------------------------------------------------------------------


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # pysqlite's own transaction handling defers BEGIN; we issue it ourselves so
            # that BEGIN IMMEDIATE can be used where a write lock is needed up front.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            options = conn.get_execution_options()
            if options.get("isolation_level") == "AUTOCOMMIT":
                return  # each statement commits on its own, as on PostgreSQL
            conn.exec_driver_sql(f"BEGIN {options.get('sqlite_begin', '')}".strip())

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, **kwargs)

    # Ping a pooled connection before use only when it sat idle for a while: that is where a
    # restarted or failed-over database shows up. A connection handed back by a request
    # milliseconds ago skips the round trip (SQLAlchemy's pool_pre_ping pings on every checkout:
    # two extra round trips per API request, 0.1-0.2 ms of a 1.7 ms booking). A failed ping makes
    # the pool open a fresh connection; a disconnect seen mid-request invalidates the whole pool.
    @event.listens_for(engine, "checkin")
    def _idle_since(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is not None and time.monotonic() - since > IDLE_PING_SECONDS:
            try:
                engine.dialect.do_ping(dbapi_conn)
            except Exception as exc:  # any failure: let the pool replace the connection
                raise DisconnectionError("pooled connection failed its ping") from exc

    return engine


IDLE_PING_SECONDS = 10.0


_engine: Engine | None = None
_factory: sessionmaker[Session] | None = None


def configure(engine: Engine) -> None:
    """Install the process-wide engine (the app, the CLI and tests call this once)."""
    global _engine, _factory
    _engine = engine
    _factory = sessionmaker(bind=engine, expire_on_commit=False)


def get_engine() -> Engine:
    if _engine is None:
        from praxis.platform.settings import get_settings

        configure(make_engine(get_settings().resolved_database_url()))
    assert _engine is not None
    return _engine


def new_session(org_id: uuid.UUID | None, *, system: bool = False) -> Session:
    """A session bound to one organisation. `system=True` is for cross-org platform jobs only."""
    get_engine()
    assert _factory is not None
    session = _factory()
    session.info["org_id"] = org_id
    session.info["system"] = system
    return session


@contextmanager
def session_on(conn: Connection, org_id: uuid.UUID) -> Iterator[Session]:
    """A session scoped to `org_id` on the caller's Core connection, inside its transaction (the
    session neither commits nor rolls it back): ORM reads within a Core unit of work."""
    get_engine()
    assert _factory is not None
    session = _factory(bind=conn)
    session.info["org_id"] = org_id
    session.info["system"] = False
    try:
        yield session
    finally:
        session.close()


@contextmanager
def session_scope(org_id: uuid.UUID | None, *, system: bool = False) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    session = new_session(org_id, system=system)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# --- tenant hooks -----------------------------------------------------------------------------


@event.listens_for(Session, "do_orm_execute")
def _scope_to_org(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return
    org_id = state.session.info.get("org_id")
    if org_id is None:
        if state.session.info.get("system"):
            return
        if _touches_tenant_table(state):
            raise TenantScopeError("tenant-scoped query with no organisation in the session")
        return
    state.statement = state.statement.options(
        with_loader_criteria(TenantScoped, lambda cls: cls.org_id == org_id, include_aliases=True)
    )


def _touches_tenant_table(state: ORMExecuteState) -> bool:
    return any(issubclass(mapper.class_, TenantScoped) for mapper in state.all_mappers)


@event.listens_for(Session, "before_flush")
def _stamp_org(session: Session, _ctx: Any, _instances: Any) -> None:
    org_id = session.info.get("org_id")
    system = session.info.get("system")
    for obj in session.new:
        if not isinstance(obj, TenantScoped):
            continue
        if obj.org_id is None:
            if org_id is None:
                raise TenantScopeError(f"new {type(obj).__name__} with no organisation")
            obj.org_id = org_id
        elif org_id is not None and obj.org_id != org_id and not system:
            raise TenantScopeError(f"{type(obj).__name__} belongs to another organisation")
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, TenantScoped) and org_id is not None and obj.org_id != org_id:
            raise TenantScopeError(f"{type(obj).__name__} belongs to another organisation")


T = TypeVar("T")


def get_or_404(session: Session, model: type[T], id_: uuid.UUID | None, what: str | None = None) -> T:
    """Load one tenant row by id; another org's row answers exactly like a missing one."""
    name = what or model.__name__.lower()
    if id_ is None:
        raise NotFound(f"No such {name}")
    obj = session.scalars(select(model).where(model.id == id_)).first()  # type: ignore[attr-defined]
    if obj is None:
        raise NotFound(f"No such {name}")
    return obj


def ping() -> None:
    """Raise unless the database answers (the readiness probe)."""
    from sqlalchemy import text

    with get_engine().connect() as conn:
        conn.execute(text("SELECT 1"))
