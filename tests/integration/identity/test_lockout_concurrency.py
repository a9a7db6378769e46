"""Issue 17, finding 2 (first half): concurrent wrong passwords lose no counts; the lock engages at
the limit and guesses beyond it are refused unjudged."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from praxis.identity import auth
from praxis.identity.models import User
from praxis.platform.clock import now
from praxis.platform.db import get_engine
from praxis.platform.errors import Unauthenticated
from praxis.platform.settings import get_settings

GUESSES = 40


def _state(user_id):
    with get_engine().connect() as conn:
        return conn.execute(select(User.failed_logins, User.locked_until).where(User.id == user_id)).one()


def _storm(email: str, password_for) -> list[str]:
    """GUESSES sign-ins at once (threads released together); what each one answered."""
    gate = threading.Barrier(GUESSES)

    def guess(i: int) -> str:
        gate.wait()
        try:
            auth.login(email, password_for(i))
        except Unauthenticated:
            return "refused"
        return "signed in"

    with ThreadPoolExecutor(GUESSES) as pool:
        return list(pool.map(guess, range(GUESSES)))


def test_forty_concurrent_wrong_passwords_lock_the_account(org, make_user):
    u = make_user(org, "front_desk", org.loc_a)
    answers = _storm(u.email, lambda i: f"wrong guess number {i}")
    assert answers == ["refused"] * GUESSES
    failed, locked_until = _state(u.user_id)
    limit = get_settings().login_max_failures
    assert locked_until is not None and locked_until > now()
    # Exactly `limit` guesses were counted (and judged); the other 35 met the lock.
    assert failed == limit
    with pytest.raises(Unauthenticated):
        auth.login(u.email, u.password)

