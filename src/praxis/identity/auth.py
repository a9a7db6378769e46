"""Login, MFA, server-side sessions and bearer tokens: turning a request into a Context."""

from __future__ import annotations

import hmac
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    Select,
    Uuid,
    and_,
    bindparam,
    case,
    delete,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from praxis.identity import mfa, passwords, tokens
from praxis.identity.context import build_api_client_context, build_user_context
from praxis.identity.models import ApiClient, ApiClientWindow, Grant, Membership, RecoveryCode, User, WebSession
from praxis.platform import audit, crypto
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.db import get_engine, session_scope
from praxis.platform.errors import NotFound, TooManyRequests, Unauthenticated, ValidationProblem
from praxis.platform.hotsql import HotStatement
from praxis.platform.settings import get_settings
from praxis.platform.uow import core_unit_of_work, write_lock
from praxis.practice.models import Location, Organisation
from praxis.practice.service import org_settings, settings_of

LAST_SEEN_GRANULARITY = timedelta(seconds=15)
_RECOVERY_CODE = re.compile(r"[0-9a-f]{6}-[0-9a-f]{6}")  # mfa.new_recovery_codes' format


class _IpThrottle:
    """Failed logins per client address in a sliding window (per process)."""

    def __init__(self, limit: int = 30, window: float = 300.0) -> None:
        self.limit, self.window = limit, window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, ip: str | None) -> bool:
        if not ip:
            return False
        with self._lock:
            q = self._hits.get(ip)
            if not q:
                return False
            cutoff = time.monotonic() - self.window
            while q and q[0] < cutoff:
                q.popleft()
            return len(q) >= self.limit

    def hit(self, ip: str | None) -> None:
        if ip:
            with self._lock:
                self._hits.setdefault(ip, deque()).append(time.monotonic())

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


ip_throttle = _IpThrottle()


@dataclass
class LoginResult:
    token: str
    next_step: str  # "done" | "mfa" | "enrol"


def _accepted(user_id: uuid.UUID) -> Select[Membership]:
    """Active, accepted memberships: a pending invitation grants nothing."""
    return select(Membership).where(Membership.user_id == user_id, Membership.active.is_(True),
                                    Membership.accepted_at.is_not(None))


def _memberships(s: Session, user_id: uuid.UUID) -> list[Membership]:
    return list(s.scalars(_accepted(user_id)))


def _membership(s: Session, user_id: uuid.UUID, org_id: uuid.UUID) -> Membership | None:
    return s.scalars(_accepted(user_id).where(Membership.org_id == org_id)).first()


_U = User.__table__


def _reserve_attempt(s: Session | Connection, user_id: uuid.UUID) -> int | None:
    """Count one guess (a password or a second-factor code) before judging it; None when the account
    is locked and nothing may be judged.

    One atomic statement (`failed_logins = failed_logins + 1 ... RETURNING`) so concurrent guesses
    cannot lose counts, and the guess that reaches the limit locks the account in the same
    statement, before it is judged: guesses beyond the limit are refused unjudged however many
    arrive at once. A lock that has run out starts the count again."""
    settings = get_settings()
    t = now()
    expired = and_(_U.c.locked_until.is_not(None), _U.c.locked_until <= t)
    count = case((expired, 0), else_=_U.c.failed_logins) + 1
    row = s.execute(
        update(_U).where(_U.c.id == user_id, or_(_U.c.locked_until.is_(None), _U.c.locked_until <= t))
        .values(failed_logins=count,
                locked_until=case((count >= settings.login_max_failures,
                                   t + timedelta(minutes=settings.login_lockout_minutes)), else_=None))
        .returning(_U.c.failed_logins)).first()
    return None if row is None else int(row[0])


def _settle_success(s: Session, user_id: uuid.UUID, attempt: int, *, keep_counting: bool) -> None:
    """A reserved guess was right. Fully signed in: the count and any lock are cleared. Password
    right but a second factor still to come: only this guess is taken back (and the lock it set),
    so earlier wrong codes keep counting until the second factor passes."""
    if not keep_counting:
        s.execute(update(_U).where(_U.c.id == user_id).values(failed_logins=0, locked_until=None))
        return
    values: dict[str, Any] = {"failed_logins": case((_U.c.failed_logins > 0, _U.c.failed_logins - 1), else_=0)}
    if attempt >= get_settings().login_max_failures:
        values["locked_until"] = None  # the lock this very guess set
    s.execute(update(_U).where(_U.c.id == user_id).values(**values))


def _mfa_required(s: Session, org_ids: list[uuid.UUID]) -> bool:
    for org in s.scalars(select(Organisation).where(Organisation.id.in_(org_ids))):
        if settings_of(org).mfa_required:
            return True
    return False


def login(email: str, password: str, *, client_ip: str | None = None, user_agent: str | None = None
          ) -> LoginResult:
    """Check a password; lock the account after repeated failures; open a session.

    The same error answers an unknown email, a wrong password and a locked account, so
    the login form does not reveal which accounts exist.
    """
    if ip_throttle.blocked(client_ip):
        raise TooManyRequests("Too many failed sign-ins from this address; wait a few minutes")
    bad = Unauthenticated("Email or password is wrong, or the account is locked", field="password")
    # Counted and committed before the (slow) password check, so concurrent guesses see it. SQLite:
    # the write lock is taken up front, so concurrent sign-ins wait for it instead of colliding.
    with core_unit_of_work(write=True) as conn:
        found = conn.execute(select(_U.c.id, _U.c.password_hash, _U.c.active)
                             .where(_U.c.email == email.strip().lower())).first()
        attempt = _reserve_attempt(conn, found.id) if found is not None and found.active else None
    # Judged even when refused anyway, so unknown, inactive and locked accounts take as long.
    ok = passwords.verify_password(found.password_hash if found is not None else None, password)
    if found is None or attempt is None or not ok:
        ip_throttle.hit(client_ip)
        raise bad
    with session_scope(None, system=True, reason="login: the e-mail precedes the organisation") as s:
        user = s.get(User, found.id)
        assert user is not None
        if user.last_login_at is None:
            # A login created by an invitation accepts it by signing in for the first time.
            s.execute(update(Membership).where(Membership.user_id == user.id, Membership.accepted_at.is_(None))
                      .values(accepted_at=now()))
        user.last_login_at = now()
        if passwords.needs_rehash(user.password_hash):
            user.password_hash = passwords.hash_password(password)
        members = _memberships(s, user.id)
        if not members:
            raise bad
        if user.mfa_enabled:
            step = "mfa"  # failures so far keep counting until the second factor passes
        elif _mfa_required(s, [m.org_id for m in members]):
            step = "enrol"
        else:
            step = "done"
        _settle_success(s, user.id, attempt, keep_counting=step == "mfa")
        token = _open_session(s, user, members[0].org_id, mfa_passed=step == "done",
                              client_ip=client_ip, user_agent=user_agent)
        return LoginResult(token, step)


def _open_session(s: Session, user: User, org_id: uuid.UUID, *, mfa_passed: bool,
                  client_ip: str | None, user_agent: str | None) -> str:
    settings = get_settings()
    token = tokens.new_token()
    s.add(WebSession(token_hash=tokens.digest(token), user_id=user.id, org_id=org_id,
                     mfa_passed=mfa_passed, expires_at=now() + timedelta(hours=settings.session_absolute_hours),
                     client_ip=client_ip, user_agent=(user_agent or "")[:300]))
    return token


def _live_session(s: Session, token: str) -> WebSession | None:
    ws = s.get(WebSession, tokens.digest(token))
    if ws is None or ws.ended_at is not None:
        return None
    t = now()
    if ws.expires_at <= t:
        ws.ended_at = t
        return None
    idle = timedelta(minutes=_idle_minutes(s, ws.org_id))
    if ws.last_seen_at + idle <= t:
        ws.ended_at = t
        return None
    return ws


def _idle_minutes(s: Session, org_id: uuid.UUID | None) -> int:
    default = get_settings().session_idle_minutes
    if org_id is None:
        return default
    return org_settings(s, org_id).idle_timeout_minutes or default


def pending_session_user(token: str) -> User | None:
    """The user of a session that passed the password but not yet MFA (for the MFA pages)."""
    with session_scope(None, system=True, reason="sign-in: a pending session has no organisation") as s:
        ws = _live_session(s, token)
        return s.get(User, ws.user_id) if ws else None


def verify_mfa(token: str, code: str) -> bool:
    """Second factor: a TOTP code (not reusable) or a single-use recovery code."""
    with session_scope(None, system=True, reason="sign-in: a pending session has no organisation") as s:
        write_lock(s)  # SQLite: the guess is counted below; take the write lock before reading
        ws = _live_session(s, token)
        if ws is None:
            raise Unauthenticated("Your sign-in expired; start again")
        user = s.get(User, ws.user_id)
        assert user is not None
        if not user.mfa_enabled or not user.mfa_secret:
            return False
        # Wrong codes count with wrong passwords: guessing a 6-digit code must not be unlimited.
        attempt = _reserve_attempt(s, user.id)
        if attempt is None:
            ws.ended_at = now()
            return False
        secret = crypto.keyring().decrypt(user.mfa_secret)
        step = mfa.matching_step(secret, code, now().timestamp())
        if step is not None and (user.mfa_last_step is None or step > user.mfa_last_step):
            user.mfa_last_step = step
        elif not _use_recovery_code(s, user, code):
            if attempt >= get_settings().login_max_failures:
                ws.ended_at = now()  # this guess locked the account
            return False
        _settle_success(s, user.id, attempt, keep_counting=False)
        ws.mfa_passed = True
        return True


def recovery_code_hash(code: str) -> str:
    return crypto.keyring().sign("recovery:" + code.strip().lower())


def _use_recovery_code(s: Session, user: User, code: str) -> bool:
    code = code.strip().lower()
    if not _RECOVERY_CODE.fullmatch(code):
        return False  # not in the recovery-code format (e.g. a mistyped TOTP code)
    # Recovery codes carry 48 random bits, so a keyed fast hash is enough (no argon2 needed) and
    # the lookup is one indexed comparison.
    rc = s.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None),
                                              RecoveryCode.code_hash == recovery_code_hash(code))).first()
    if rc is not None:
        rc.used_at = now()
        return True
    return False


def start_mfa_enrolment(user_id: uuid.UUID) -> tuple[str, str]:
    """A fresh TOTP secret (stored encrypted, not yet enabled) and its otpauth:// URI."""
    secret = mfa.new_secret()
    with session_scope(None, system=True, reason="MFA enrolment belongs to the user, not to an organisation") as s:
        user = s.get(User, user_id)
        assert user is not None
        user.mfa_secret = crypto.keyring().encrypt(secret)
        user.mfa_enabled = False
        return secret, mfa.provisioning_uri(secret, user.email)


def pending_enrolment(user_id: uuid.UUID) -> tuple[str, str] | None:
    """The started, not yet confirmed TOTP secret and its otpauth:// URI, or None."""
    with session_scope(None, system=True, reason="MFA enrolment belongs to the user, not to an organisation") as s:
        user = s.get(User, user_id)
        if user is None or user.mfa_enabled or not user.mfa_secret:
            return None
        secret = crypto.keyring().decrypt(user.mfa_secret)
        return secret, mfa.provisioning_uri(secret, user.email)


def confirm_mfa_enrolment(user_id: uuid.UUID, code: str, token: str | None = None) -> list[str]:
    """Enable MFA once the user proves the authenticator works; returns recovery codes (shown once)."""
    with session_scope(None, system=True, reason="MFA enrolment belongs to the user, not to an organisation") as s:
        user = s.get(User, user_id)
        if user is None or not user.mfa_secret:
            raise ValidationProblem("Start enrolment first", field="code")
        step = mfa.matching_step(crypto.keyring().decrypt(user.mfa_secret), code, now().timestamp())
        if step is None:
            raise ValidationProblem("That code is not valid; check the time on your phone", field="code")
        user.mfa_enabled, user.mfa_last_step = True, step
        s.execute(update(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
                  .values(used_at=now()))
        codes = mfa.new_recovery_codes()
        for c in codes:
            s.add(RecoveryCode(user_id=user.id, code_hash=recovery_code_hash(c)))
        if token:
            ws = _live_session(s, token)
            if ws is not None and ws.user_id == user.id:
                ws.mfa_passed = True
        return codes


def logout(token: str) -> None:
    with session_scope(None, system=True, reason="logout: ends the session whatever its organisation") as s:
        ws = s.get(WebSession, tokens.digest(token))
        if ws is not None and ws.ended_at is None:
            ws.ended_at = now()


def switch(token: str, org_id: uuid.UUID, location_id: uuid.UUID | None) -> None:
    """Move the session to another organisation the user belongs to, and a working location."""
    with session_scope(None, system=True, reason="switching organisation") as s:
        ws = _live_session(s, token)
        if ws is None:
            raise Unauthenticated("Sign in again")
        member = _membership(s, ws.user_id, org_id)
        if member is None:
            raise ValidationProblem("You do not belong to that organisation", field="org_id")
        if ws.org_id != org_id:
            location_id = None
        if location_id is not None and not _works_at(s, member, location_id):
            raise NotFound("No such location", field="location_id")
        ws.org_id, ws.location_id = org_id, location_id


def _works_at(s: Session, member: Membership, location_id: uuid.UUID) -> bool:
    """The location exists in the member's organisation and one of their grants covers it."""
    if s.scalars(select(Location.id).where(Location.org_id == member.org_id, Location.id == location_id)
                 ).first() is None:
        return False
    return s.scalars(select(Grant.id).where(
        Grant.org_id == member.org_id, Grant.membership_id == member.id,
        (Grant.location_id.is_(None)) | (Grant.location_id == location_id))).first() is not None


@dataclass
class SessionInfo:
    """What the page shell needs beyond the Context."""

    org_ids: list[uuid.UUID]  # every organisation the user may switch to


def resolve_session(token: str, *, client_ip: str | None = None, request_id: str | None = None
                    ) -> tuple[Context, SessionInfo] | None:
    """The Context of a fully signed-in session, or None (expired, idle, MFA pending)."""
    with session_scope(None, system=True, reason="session lookup by cookie") as s:
        ws = _live_session(s, token)
        if ws is None or not ws.mfa_passed or ws.org_id is None:
            return None
        user = s.get(User, ws.user_id)
        if user is None or not user.active:
            return None
        members = _memberships(s, user.id)
        member = next((m for m in members if m.org_id == ws.org_id), None)
        if member is None:
            return None
        t = now()
        if t - ws.last_seen_at >= LAST_SEEN_GRANULARITY:
            ws.last_seen_at = t
        s.info["org_id"] = member.org_id  # scope the grant queries to this organisation
        ctx = build_user_context(s, user, member, location_id=ws.location_id, client_ip=client_ip,
                                 request_id=request_id, session_id=ws.token_hash[:16])
        return ctx, SessionInfo([m.org_id for m in members])


_AC = ApiClient.__table__
_BEARER = HotStatement(select(_AC.c.org_id, _AC.c.id, _AC.c.name, _AC.c.token_hash, _AC.c.scopes, _AC.c.location_ids,
                              _AC.c.expires_at, _AC.c.revoked_at, _AC.c.last_used_at, _AC.c.rate_limit_per_minute)
                       .where(_AC.c.token_prefix == bindparam("prefix")), cross_org="bearer lookup by token")


def resolve_bearer(token: str, *, client_ip: str | None = None, request_id: str | None = None,
                   notes: dict[str, object] | None = None) -> Context | None:
    """The Context of an API client token, or None (unknown, revoked, expired).

    Every call reads the client row (a revoked token stops at once; there is no token cache), with
    Core in autocommit: one round trip, no transaction, on the path of every bot request."""
    prefix = tokens.parse_api_token(token)
    if prefix is None:
        return None
    with get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        found = _BEARER.rows(conn, {"prefix": prefix})
        client = found[0] if found else None
        if client is None or not hmac.compare_digest(client.token_hash, tokens.digest(token)):
            return None
        t = now()
        if client.revoked_at is not None or (client.expires_at and client.expires_at <= t):
            return None
        if client.last_used_at is None or t - client.last_used_at > timedelta(minutes=1):
            # Last use is for people (the API-client screen): once a minute, not a write per request.
            # Use is not a change of the client: `updated_at` keeps its value (the column's onupdate
            # would otherwise stamp it, and every sync would fetch the clients that merely called).
            conn.execute(update(_AC).where(_AC.c.org_id == client.org_id, _AC.c.id == client.id)
                         .values(last_used_at=t, last_used_ip=client_ip, updated_at=_AC.c.updated_at))
        _count_request(conn, client, t, notes)
    return build_api_client_context(client, client_ip=client_ip, request_id=request_id)


_ACW = ApiClientWindow.__table__
_WINDOW_KEY = [_ACW.c.org_id, _ACW.c.client_id, _ACW.c.window_minute]
_ONE_MORE = {"count": _ACW.c.count + 1}
# PostgreSQL: the count is not worth a disk flush. This one statement (its own transaction, in
# autocommit) commits with synchronous_commit off, so it does not wait for the WAL to reach the
# disk (7 ms a request on this host otherwise; bench/bench_rate_limit.py). A crash may forget the
# last counts of a minute and nothing else: set_config(..., true) is local to this transaction.
_COUNT_PG = HotStatement(
    pg_insert(_ACW).from_select(
        ["org_id", "client_id", "window_minute", "count"],
        select(bindparam("org_id", type_=Uuid()), bindparam("client_id", type_=Uuid()),
               bindparam("minute", type_=Integer()), literal_column("1"))
        .select_from(select(literal_column("set_config('synchronous_commit', 'off', true)")).subquery()))
    .on_conflict_do_update(index_elements=_WINDOW_KEY, set_=_ONE_MORE).returning(_ACW.c.count))
_COUNT_SQLITE = HotStatement(
    sqlite_insert(_ACW).values(org_id=bindparam("org_id", type_=Uuid()), client_id=bindparam("client_id", type_=Uuid()),
                               window_minute=bindparam("minute", type_=Integer()), count=1)
    .on_conflict_do_update(index_elements=_WINDOW_KEY, set_=_ONE_MORE).returning(_ACW.c.count))


def _count_request(conn: Connection, client: Any, t: datetime, notes: dict[str, object] | None) -> None:
    """Count the request in the client's current one-minute window; over the limit: 429.

    A fixed window in the database (decision 41): one UPSERT ... RETURNING per request, atomic on
    both databases, so every server process shares the count. The first request of a window also
    deletes the client's earlier windows, so the table holds about one row per active client."""
    limit = client.rate_limit_per_minute or get_settings().api_rate_limit_per_minute
    epoch = int(t.timestamp())
    minute = epoch // 60
    reset = 60 - epoch % 60
    hot = _COUNT_PG if conn.dialect.name == "postgresql" else _COUNT_SQLITE
    count = hot.rows(conn, {"org_id": client.org_id, "client_id": client.id, "minute": minute})[0][0]
    if count == 1:
        conn.execute(delete(_ACW).where(_ACW.c.org_id == client.org_id, _ACW.c.client_id == client.id,
                                        _ACW.c.window_minute < minute))
    remaining = max(0, limit - count)
    if notes is not None:
        notes["rate_limit"] = (limit, remaining, reset)
    if count > limit:
        raise TooManyRequests(
            f"This API client may send {limit} requests a minute; retry in {reset} s.",
            headers={"Retry-After": str(reset), "RateLimit-Limit": str(limit), "RateLimit-Remaining": "0",
                     "RateLimit-Reset": str(reset)})


def record_login_event(ctx: Context, action: str) -> None:
    with session_scope(ctx.org_id) as s:
        audit.record(s, ctx, action, "session", ctx.session_id)
