"""Sign-in: lockout, idle timeout, MFA enforcement, TOTP replay, recovery codes."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest

from praxis.identity import auth, service
from praxis.platform import clock
from praxis.platform.errors import Unauthenticated
from praxis.web.middleware import SESSION_COOKIE
from tests.integration.identity.helpers import enable_mfa, fix_session_cookie, member_ctx


@pytest.fixture
def login(login):
    return lambda u: fix_session_cookie(login(u))


def test_lockout_after_repeated_failures_refuses_even_the_right_password(org, make_user):
    u = make_user(org, "front_desk", org.loc_a)
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            auth.login(u.email, "not the password at all")
    with pytest.raises(Unauthenticated) as exc:
        auth.login(u.email, u.password)
    assert "locked" in exc.value.detail
    assert service.get_member(member_ctx(make_user(org, "org_admin")), u.membership_id).locked
    clock.advance(timedelta(minutes=16))
    assert auth.login(u.email, u.password).next_step == "done"


def test_admin_unlock_lifts_the_lockout(org, make_user):
    u = make_user(org, "front_desk", org.loc_a)
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            auth.login(u.email, "not the password at all")
    service.unlock_member(member_ctx(make_user(org, "org_admin")), u.membership_id)
    assert auth.login(u.email, u.password).next_step == "done"


def test_unknown_email_and_wrong_password_answer_alike(org, make_user):
    u = make_user(org, "front_desk", org.loc_a)
    with pytest.raises(Unauthenticated) as a:
        auth.login("nobody@example.org", "whatever it is")
    with pytest.raises(Unauthenticated) as b:
        auth.login(u.email, "whatever it is")
    assert a.value.detail == b.value.detail


def test_idle_timeout_logs_out(org, make_user, login):
    c = login(make_user(org, "front_desk", org.loc_a))
    assert c.get("/api/v1/me").status_code == 200
    clock.advance(timedelta(minutes=10))
    assert c.get("/api/v1/me").status_code == 200  # activity keeps the session alive
    clock.advance(timedelta(minutes=16))
    r = c.get("/api/v1/me")
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
    clock.reset()
    assert c.get("/api/v1/me").status_code == 401  # ended for good, not just while idle


def test_mfa_required_forces_enrolment_and_api_is_closed_until_done(make_org, make_user, new_client):
    org = make_org("Strict Care", mfa_required=True)
    u = make_user(org, "front_desk", org.loc_a)
    result = auth.login(u.email, u.password)
    assert result.next_step == "enrol"
    c = new_client()
    c.cookies.set(SESSION_COOKIE, result.token, domain="testserver.local")
    assert c.get("/api/v1/me").status_code == 401
    secret, uri = auth.start_mfa_enrolment(u.user_id)
    assert uri.startswith("otpauth://totp/") and secret in uri
    with pytest.raises(Exception, match="not valid"):
        auth.confirm_mfa_enrolment(u.user_id, "000000", result.token)
    codes = auth.confirm_mfa_enrolment(u.user_id, pyotp.TOTP(secret).now(), result.token)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert c.get("/api/v1/me").json()["actor_id"] == str(u.user_id)
    # Next time the second factor is asked for.
    assert auth.login(u.email, u.password).next_step == "mfa"


def test_totp_code_cannot_be_replayed(org, make_user):
    u = make_user(org, "org_admin")
    secret = enable_mfa(u.user_id)
    code = pyotp.TOTP(secret).at(int(clock.now().timestamp()))
    first = auth.login(u.email, u.password)
    assert first.next_step == "mfa"
    assert auth.resolve_session(first.token) is None  # password alone is not a session
    assert auth.verify_mfa(first.token, code)
    assert auth.resolve_session(first.token) is not None
    second = auth.login(u.email, u.password)
    assert not auth.verify_mfa(second.token, code)
    assert auth.resolve_session(second.token) is None


def test_recovery_code_works_once(org, make_user):
    u = make_user(org, "org_admin")
    secret, _ = auth.start_mfa_enrolment(u.user_id)
    codes = auth.confirm_mfa_enrolment(u.user_id, pyotp.TOTP(secret).now())
    first = auth.login(u.email, u.password)
    assert auth.verify_mfa(first.token, codes[0].upper())
    second = auth.login(u.email, u.password)
    assert not auth.verify_mfa(second.token, codes[0])
    assert auth.verify_mfa(second.token, codes[1])


def test_guessing_mfa_codes_locks_the_account(org, make_user):
    u = make_user(org, "org_admin")
    secret = enable_mfa(u.user_id)
    result = auth.login(u.email, u.password)
    for _ in range(5):
        assert not auth.verify_mfa(result.token, "000000")
    # The session is gone and the account locked: even a right code or password does not help.
    with pytest.raises(Unauthenticated):
        auth.verify_mfa(result.token, pyotp.TOTP(secret).now())
    with pytest.raises(Unauthenticated):
        auth.login(u.email, u.password)


def test_signing_in_again_does_not_reset_the_mfa_failure_count(org, make_user):
    u = make_user(org, "org_admin")
    enable_mfa(u.user_id)
    for _ in range(2):
        t = auth.login(u.email, u.password).token
        assert not auth.verify_mfa(t, "000000")
        assert not auth.verify_mfa(t, "111111")
    t = auth.login(u.email, u.password).token
    assert not auth.verify_mfa(t, "222222")
    with pytest.raises(Unauthenticated):
        auth.login(u.email, u.password)


def test_absolute_session_lifetime(org, make_user, login):
    c = login(make_user(org, "front_desk", org.loc_a))
    for _ in range(13):  # keep it busy every 10 minutes... for 13 hours
        for _ in range(6):
            clock.advance(timedelta(minutes=10))
            if c.get("/api/v1/me").status_code != 200:
                break
    assert c.get("/api/v1/me").status_code == 401


def test_deactivated_member_is_signed_out(org, make_user, login):
    u = make_user(org, "front_desk", org.loc_a)
    c = login(u)
    assert c.get("/api/v1/me").status_code == 200
    service.set_member_active(member_ctx(make_user(org, "org_admin")), u.membership_id, False)
    assert c.get("/api/v1/me").status_code == 401


def test_pending_invitation_does_not_let_a_session_switch_in(org, other_org, make_user):
    """A session may only move to an organisation whose invitation the person accepted."""
    from praxis.platform.context import system_context
    from praxis.platform.errors import ValidationProblem

    u = make_user(org, "front_desk", org.loc_a)
    token = auth.login(u.email, u.password).token  # signed in before: the invitation stays pending
    ctx_b = system_context(other_org.id, "test")
    desk_b = next(r.id for r in service.list_roles(ctx_b) if r.key == "front_desk")
    invited = service.invite_member(ctx_b, u.email, "Invited", "another long passphrase", [(desk_b, None)])
    with pytest.raises(ValidationProblem) as exc:
        auth.switch(token, other_org.id, None)
    assert exc.value.field == "org_id"
    service.accept_invitation(u.user_id, invited.id)
    auth.switch(token, other_org.id, None)
    ctx, info = auth.resolve_session(token)
    assert ctx.org_id == other_org.id and set(info.org_ids) == {org.id, other_org.id}


def test_pending_enrolment_is_the_started_secret_until_confirmed(org, make_user):
    u = make_user(org, "front_desk", org.loc_a)
    assert auth.pending_enrolment(u.user_id) is None
    secret, uri = auth.start_mfa_enrolment(u.user_id)
    assert auth.pending_enrolment(u.user_id) == (secret, uri) and uri.startswith("otpauth://totp/")
    auth.confirm_mfa_enrolment(u.user_id, pyotp.TOTP(secret).now())
    assert auth.pending_enrolment(u.user_id) is None  # on, not pending
