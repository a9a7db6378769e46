from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from praxis.platform.clock import now
from praxis.platform.db import Base, TenantScoped, org_fk
from praxis.platform.ids import new_id


class User(Base):
    """A person's login identity, shared by the organisations they belong to (memberships)."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    mfa_secret: Mapped[str | None] = mapped_column(String(400))  # encrypted TOTP seed
    mfa_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    mfa_last_step: Mapped[int | None] = mapped_column(Integer)  # refuses TOTP code replay
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=now)


class RecoveryCode(Base):
    __tablename__ = "mfa_recovery_codes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(200))
    used_at: Mapped[datetime | None]


class Membership(TenantScoped, Base):
    """A user's belonging to one organisation; `id` is the member id used by the admin API."""

    __tablename__ = "memberships"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The name this organisation knows the person by (what its admin typed), so one organisation
    # never sees what another recorded.
    display_name: Mapped[str] = mapped_column(String(200), default="")
    # Invitations are pending until the person accepts (or, for a login created by the invitation,
    # signs in for the first time): until then the membership grants nothing and the inviting
    # organisation sees only what it typed itself.
    accepted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=now)
    # For `updated_since`; nullable only because the column came later (migrations *_updsince).
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)

    __table_args__ = (
        UniqueConstraint("org_id", "user_id", name="uq_memberships_org_user"),
        Index("ix_memberships_user", "user_id"),
    )


class Role(TenantScoped, Base):
    __tablename__ = "roles"

    key: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    permissions: Mapped[list[Any]] = mapped_column(default=list)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)  # built-ins are read-only; copy to edit
    created_at: Mapped[datetime] = mapped_column(default=now)
    # For `updated_since`; nullable only because the column came later (migrations *_updsince).
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)

    __table_args__ = (UniqueConstraint("org_id", "key", name="uq_roles_org_key"),)


class Grant(TenantScoped, Base):
    """A role given to a member for the whole organisation (location_id NULL) or one location."""

    __tablename__ = "grants"

    membership_id: Mapped[uuid.UUID]
    role_id: Mapped[uuid.UUID]
    location_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=now)
    created_by: Mapped[uuid.UUID | None]

    __table_args__ = (
        org_fk(["membership_id"], "memberships", ondelete="CASCADE"),
        org_fk(["role_id"], "roles", ondelete="CASCADE"),
        org_fk(["location_id"], "locations", ondelete="CASCADE"),
        Index("ix_grants_membership", "org_id", "membership_id"),
    )


class BreakGlass(TenantScoped, Base):
    """Time-boxed access beyond one's normal scope, with a mandatory reason (always audited)."""

    __tablename__ = "break_glass"

    membership_id: Mapped[uuid.UUID]
    reason: Mapped[str] = mapped_column(Text)
    location_id: Mapped[uuid.UUID | None]  # NULL = every location of the organisation
    starts_at: Mapped[datetime] = mapped_column(default=now)
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    reviewed_by: Mapped[uuid.UUID | None]
    reviewed_at: Mapped[datetime | None]
    # For `updated_since`; nullable only because the column came later (migrations *_updsince).
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)

    __table_args__ = (
        org_fk(["membership_id"], "memberships", ondelete="CASCADE"),
        org_fk(["location_id"], "locations", ondelete="CASCADE"),
        Index("ix_break_glass_active", "org_id", "membership_id", "expires_at"),
    )


class WebSession(Base):
    """Server-side session; the cookie holds a random token, the table only its hash."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[uuid.UUID | None]
    location_id: Mapped[uuid.UUID | None]
    mfa_passed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=now)
    last_seen_at: Mapped[datetime] = mapped_column(default=now)
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    client_ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))


class ApiClient(TenantScoped, Base):
    """A bot, portal or EHR middleware: a hashed bearer token bound to one organisation."""

    __tablename__ = "api_clients"

    name: Mapped[str] = mapped_column(String(120))
    token_prefix: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    location_ids: Mapped[list[Any] | None]  # None = whole organisation
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    last_used_ip: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=now)
    # Requests a minute; None: the setting `api_rate_limit_per_minute` (decision 41).
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer)
    # For `updated_since`; nullable only because the column came later (migrations *_updsince).
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)


class ApiClientWindow(Base):
    """Requests of one API client in one fixed one-minute window (decision 41): one row per client
    and minute, counted with an UPSERT so every server process shares the count. Old windows are
    deleted as new ones start (see identity.auth)."""

    __tablename__ = "api_client_windows"

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    window_minute: Mapped[int] = mapped_column(Integer, primary_key=True)  # Unix time // 60
    count: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (org_fk(["client_id"], "api_clients", ondelete="CASCADE"),)
