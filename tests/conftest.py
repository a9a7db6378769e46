"""Shared fixtures: a migrated database (SQLite by default, PostgreSQL with
PRAXIS_TEST_DATABASE_URL), the app, organisations/users factories, logged-in clients,
and a live server + Chromium page for browser tests.

Tests isolate by tenant: every test makes its own organisations, so no table is truncated.
"""

from __future__ import annotations

import os
import secrets
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

_TMP = Path(tempfile.mkdtemp(prefix="praxis-test-"))
os.environ.setdefault("PRAXIS_VAR_DIR", str(_TMP / "var"))
os.environ["PRAXIS_COOKIE_SECURE"] = "true"
# Every Core statement is checked for its org_id condition (platform.scoping) throughout the suite.
os.environ["PRAXIS_CHECK_TENANT_SCOPE"] = "true"
# Cheap argon2 for speed: the tests check behaviour, not the cost parameters.
os.environ.setdefault("PRAXIS_ARGON2_TIME_COST", "1")
os.environ.setdefault("PRAXIS_ARGON2_MEMORY_KIB", "1024")
# Sweeps send hundreds of requests a minute with one API client; rate-limit tests set their own limit.
os.environ.setdefault("PRAXIS_API_RATE_LIMIT_PER_MINUTE", "100000")

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import create_engine, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from praxis import wiring  # noqa: E402
from praxis.platform import clock, crypto  # noqa: E402
from praxis.platform import db as pdb  # noqa: E402
from praxis.platform.context import Context  # noqa: E402

PASSWORD = "correct horse battery staple"


def _create_pg_database(url: str) -> tuple[str, Callable[[], None]]:
    base = make_url(url)
    name = f"praxis_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        pdb.get_engine().dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    url = os.environ.get("PRAXIS_TEST_DATABASE_URL")
    if url:
        real, drop = _create_pg_database(url)
        yield real
        drop()
    else:
        yield f"sqlite:///{_TMP / 'test.db'}"


@pytest.fixture(scope="session")
def db(database_url: str) -> Iterator[Any]:
    """The migrated engine, installed as the process-wide engine."""
    from praxis.migrations.runner import upgrade

    crypto.install(crypto.KeyRing.generate())
    engine = pdb.make_engine(database_url)
    pdb.configure(engine)
    wiring.wire()
    upgrade("heads")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgresql")


@pytest.fixture(autouse=True)
def _reset_clock() -> Iterator[None]:
    from praxis.identity.auth import ip_throttle

    clock.reset()
    ip_throttle.reset()
    yield
    clock.reset()


@pytest.fixture(scope="session")
def app(db: Any) -> Any:
    from praxis.main import create_app

    return create_app(seal_audit=False)


@dataclass
class OrgFixture:
    id: uuid.UUID
    slug: str
    name: str
    locations: list[Any] = field(default_factory=list)

    @property
    def loc_a(self) -> Any:
        return self.locations[0]

    @property
    def loc_b(self) -> Any:
        return self.locations[1]


@dataclass
class UserFixture:
    user_id: uuid.UUID
    membership_id: uuid.UUID
    email: str
    password: str
    org: OrgFixture
    role: str
    location_id: uuid.UUID | None


@pytest.fixture
def make_org(db: Any) -> Callable[..., OrgFixture]:
    """An organisation with two locations (New York and Phoenix) and the built-in roles."""
    from praxis.identity.service import seed_builtin_roles
    from praxis.platform.context import system_context
    from praxis.practice.schemas import LocationIn, OrgSettings
    from praxis.practice.service import add_location, create_organisation

    def make(name: str = "Clinic Group", **settings: Any) -> OrgFixture:
        slug = f"org-{secrets.token_hex(5)}"
        org = create_organisation(name, slug, OrgSettings(**settings))
        seed_builtin_roles(org.id)
        ctx = system_context(org.id, "test")
        a = add_location(ctx, LocationIn(code="NYC", name=f"{name} Midtown", timezone="America/New_York",
                                         npi="1234567893", place_of_service="11"))
        b = add_location(ctx, LocationIn(code="PHX", name=f"{name} Phoenix", timezone="America/Phoenix"))
        return OrgFixture(org.id, slug, name, [a, b])

    return make


@pytest.fixture
def org(make_org: Callable[..., OrgFixture]) -> OrgFixture:
    return make_org("Alpha Clinics")


@pytest.fixture
def other_org(make_org: Callable[..., OrgFixture]) -> OrgFixture:
    return make_org("Beta Health")


@pytest.fixture
def make_user(db: Any) -> Callable[..., UserFixture]:
    """A staff user with one built-in role, org-wide (location=None) or at one location."""
    from praxis.identity.service import add_membership, create_user

    def make(org: OrgFixture, role: str = "org_admin", location: Any = None, *,
             email: str | None = None, password: str = PASSWORD) -> UserFixture:
        email = email or f"{role}-{secrets.token_hex(4)}@example.org"
        loc_id = getattr(location, "id", location)
        user = create_user(email, f"Test {role.replace('_', ' ').title()}", password)
        m = add_membership(org.id, user.id, [(role, loc_id)])
        return UserFixture(user.id, m.id, email, password, org, role, loc_id)

    return make


@pytest.fixture
def ctx_for(db: Any) -> Callable[[UserFixture], Context]:
    """The Context a signed-in user would get (for service-level tests)."""
    from praxis.identity.context import build_user_context
    from praxis.identity.models import Membership, User

    def build(u: UserFixture) -> Context:
        with pdb.session_scope(u.org.id) as s:
            user = s.get(User, u.user_id)
            member = s.scalars(select(Membership).where(Membership.id == u.membership_id)).one()
            assert user is not None and member is not None
            return build_user_context(s, user, member, location_id=u.location_id)

    return build


def csrf_header(client: TestClient) -> dict[str, str]:
    from praxis.web.middleware import CSRF_COOKIE, csrf_token_for

    if CSRF_COOKIE not in client.cookies:
        client.get("/healthz")
    return {"X-CSRF-Token": csrf_token_for(crypto.keyring().secret_key, client.cookies[CSRF_COOKIE])}


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver") as c:
        yield c


@pytest.fixture
def new_client(app: Any) -> Iterator[Callable[[], TestClient]]:
    made: list[TestClient] = []

    def make() -> TestClient:
        c = TestClient(app, base_url="https://testserver")
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture
def login(new_client: Callable[[], TestClient]) -> Callable[[UserFixture], TestClient]:
    """A client signed in as the user (session cookie + CSRF header), MFA already passed."""
    from praxis.identity import auth
    from praxis.identity.models import WebSession
    from praxis.identity.tokens import digest
    from praxis.platform.db import session_scope
    from praxis.web.middleware import SESSION_COOKIE

    def do(u: UserFixture) -> TestClient:
        c = new_client()
        result = auth.login(u.email, u.password)
        with session_scope(None, system=True, reason="test: reads across organisations") as s:
            ws = s.get(WebSession, digest(result.token))
            assert ws is not None
            ws.mfa_passed = True
            ws.org_id = u.org.id
        c.cookies.set(SESSION_COOKIE, result.token)
        c.headers.update(csrf_header(c))
        return c

    return do


@pytest.fixture
def bearer(new_client: Callable[[], TestClient]) -> Callable[..., TestClient]:
    """A client authenticated with a new API client token of the given scopes."""
    from praxis.identity.service import create_api_client
    from praxis.platform.context import system_context

    def make(org: OrgFixture, scopes: list[str], location_ids: list[uuid.UUID] | None = None) -> TestClient:
        _, token = create_api_client(system_context(org.id, "test"), "test bot", scopes,
                                     location_ids=location_ids)
        c = new_client()
        c.headers["Authorization"] = f"Bearer {token}"
        return c

    return make


# --- browser ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def live_server(app: Any) -> Iterator[str]:
    """The app served by uvicorn on 127.0.0.1 in a thread (same database as the tests)."""
    import uvicorn

    from praxis.platform.settings import get_settings

    get_settings.cache_clear()
    os.environ["PRAXIS_COOKIE_SECURE"] = "false"  # plain http on loopback
    from praxis.main import create_app

    live_app = create_app(seal_audit=False)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(live_app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    os.environ["PRAXIS_COOKIE_SECURE"] = "true"
    get_settings.cache_clear()


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, live_server: str) -> Iterator[Any]:
    """A fresh browser context; page errors and dialogs fail the test unless a test says otherwise."""
    context = browser.new_context(base_url=live_server)
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.page_errors = errors  # type: ignore[attr-defined]
    yield pg
    context.close()


def browser_login(page: Any, user: UserFixture) -> None:
    """Sign in through the login form (MFA must be off for this user)."""
    page.goto("/login")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", user.password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
