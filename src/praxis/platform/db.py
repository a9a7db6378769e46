"""Engine, sessions, portable column types and the tenant-scoping hooks.

Tenancy is enforced here and nowhere else: every ORM SELECT/UPDATE/DELETE touching a
`TenantScoped` table gets `org_id = <session org>` added, and a query with no organisation
set fails closed. A flush stamps `org_id` on new rows and refuses rows of another org.
Core statements carry their own `org_id` condition, which platform.scoping checks (before each
statement when the setting `check_tenant_scope` is on). A system session crosses organisations
and must say why; when it reads a table marked `holds_phi`, it leaves an audit record per
organisation with that reason.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
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
from sqlalchemy.engine import Dialect, Row
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
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.types import TypeDecorator

from praxis.platform import scoping
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
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout; with the setting
    `check_tenant_scope`, every Core statement is checked for its org_id condition."""
    from praxis.platform.settings import get_settings

    engine = _make_engine(url, **kwargs)
    if get_settings().check_tenant_scope:
        event.listen(engine, "before_execute", _check_tenant_scope)
    return engine


def _make_engine(url: str, **kwargs: Any) -> Engine:
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


def new_session(org_id: uuid.UUID | None, *, system: bool = False, reason: str | None = None) -> Session:
    """A session bound to one organisation. `system=True` is for cross-org platform jobs only and
    must state its `reason` (login, the outbox, the audit sealer...): every statement it runs
    carries it, and its reads of patient data are audited with it."""
    if system and not (reason and reason.strip()):
        raise TenantScopeError("a system session crosses organisations: state its reason "
                               "(session_scope(None, system=True, reason=...))")
    get_engine()
    assert _factory is not None
    session = _factory()
    session.info["org_id"] = org_id
    session.info["system"] = system
    session.info["reason"] = reason if system else None
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
def session_scope(org_id: uuid.UUID | None, *, system: bool = False, reason: str | None = None
                  ) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error. A system session
    (`system=True`) must give its `reason` (see new_session)."""
    session = new_session(org_id, system=system, reason=reason)
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
def _scope_to_org(state: ORMExecuteState) -> Any:
    system = state.session.info.get("system")
    if system:
        # Every statement of a system session carries the session's stated reason.
        state.update_execution_options(**{scoping.CROSS_ORG: state.session.info["reason"]})
    if not (state.is_select or state.is_update or state.is_delete):
        return None
    if state.is_column_load or state.is_relationship_load:
        return None
    org_id = state.session.info.get("org_id")
    if org_id is None:
        if system:
            return _audit_phi_read(state) if state.is_select and _reads_phi(state) else None
        if _touches_tenant_table(state):
            raise TenantScopeError("tenant-scoped query with no organisation in the session")
        return None
    state.statement = state.statement.options(
        with_loader_criteria(TenantScoped, lambda cls: cls.org_id == org_id, include_aliases=True)
    )
    if state.is_orm_statement:
        # The criteria scope the TenantScoped entities; the Core check looks at the rest.
        state.update_execution_options(**{scoping.ORM_SCOPED: True})
    return None


def _touches_tenant_table(state: ORMExecuteState) -> bool:
    return any(issubclass(mapper.class_, TenantScoped) for mapper in state.all_mappers)


_scoped_tables: tuple[int, frozenset[Any]] = (-1, frozenset())


def _tenant_scoped_tables() -> frozenset[Any]:
    """Tables of TenantScoped entities (the session hook's loader criteria scope them), computed
    again only when a mapper is added."""
    global _scoped_tables
    mappers = Base.registry.mappers
    if _scoped_tables[0] != len(mappers):
        _scoped_tables = (len(mappers), frozenset(m.local_table for m in mappers
                                                  if issubclass(m.class_, TenantScoped)))
    return _scoped_tables[1]


def _check_tenant_scope(_conn: Connection, statement: Any, _multi: Any, _params: Any,
                        options: Any) -> None:
    """Core hook (with the setting): refuse a statement that uses a tenant table without an org_id
    condition, unless it states why it crosses organisations."""
    if options.get(scoping.CROSS_ORG) or options.get(scoping.SCOPE_CHECKED):
        return
    if not isinstance(statement, ClauseElement):
        return
    covered = _tenant_scoped_tables() if options.get(scoping.ORM_SCOPED) else ()
    scoping.check(statement, Base.metadata, covered=covered)


# --- patient data read by system sessions ------------------------------------------------------


PHI_TABLES: set[str] = set()


def holds_phi(*table_names: str) -> None:
    """Name tables holding patient data (each domain, beside its models): a system session that
    reads them leaves an audit record with its reason."""
    PHI_TABLES.update(table_names)


# (session, reason, table names, {org_id: rows read}) -> None
SystemReadAuditor = Callable[[Session, str, list[str], dict[uuid.UUID, int]], None]
_phi_auditor: SystemReadAuditor | None = None


def set_system_read_auditor(auditor: SystemReadAuditor) -> None:
    """platform.audit installs the writer of system-read audit records (it imports this module)."""
    global _phi_auditor
    _phi_auditor = auditor


def _reads_phi(state: ORMExecuteState) -> bool:
    return bool(_phi_tables(state.statement))


def _phi_tables(statement: Any) -> list[str]:
    return sorted(t.name for t in scoping.tables_used(statement) if t.name in PHI_TABLES)


def _audit_phi_read(state: ORMExecuteState) -> Any:
    """Run the statement, count the rows read per organisation and audit them with the session's
    reason. Rows must show their organisation (an entity, or an org_id column)."""
    if _phi_auditor is None:
        raise TenantScopeError("a system session read patient data before the audit log was wired")
    frozen = state.invoke_statement().freeze()
    result = frozen()
    keys = list(result.keys())
    per_org: dict[uuid.UUID, int] = {}
    for data in frozen.data:
        row = tuple(data) if isinstance(data, Row) else (data,)  # scalars() keeps bare entities
        orgs = {value.org_id for value in row if isinstance(value, TenantScoped)}
        if "org_id" in keys and len(row) == len(keys):
            orgs.add(row[keys.index("org_id")])
        orgs.discard(None)
        if not orgs:
            raise TenantScopeError("a system session reading patient data must select org_id (or the "
                                   "entities), so that the read is audited in the right organisation")
        for org in orgs:
            per_org[org] = per_org.get(org, 0) + 1
    if per_org:
        _phi_auditor(state.session, state.session.info["reason"], _phi_tables(state.statement), per_org)
    return frozen()


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
