"""`updated_since` on every stored list of /api/v1 (decision 48), over HTTP.

For each list: the rows made before the instant T are in the list but not in `updated_since=T`;
then one row is changed through its domain's service (or, where the row has no edit yet, a new one
is made), and exactly that row answers `updated_since=T`. The objects come from the tenancy
sweep's factories (tests/tenancy/objects.py), which call the services as the application does.

Lists whose rows change as a side effect of another write have their own tests below (a member's
grants, the previous default clearinghouse, billing batches acknowledged by a 999, care months).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest

from praxis.billing import claims, edi, reference, submission
from praxis.billing import schemas as billing_schemas
from praxis.care import closing, timing
from praxis.care import service as care
from praxis.identity import service as identity
from praxis.interop import webhooks
from praxis.patients import alerts, merge
from praxis.platform import clock
from praxis.scheduling import setup, waitlist
from tests.integration.billing.helpers import make_billing_world
from tests.integration.billing.test_edi_ingest import _999
from tests.integration.care.helpers import at, enrol, make_world, new_patient
from tests.tenancy import objects as o


@dataclass
class Case:
    path: Callable[[o.SeedEnv, o.Seeded], str]  # the list, for the row's parent
    make: Callable[[o.SeedEnv], o.Seeded]  # a row of the list, made before T
    change: Callable[[o.SeedEnv, o.Seeded], Any]  # after T: the id of the row that changed (or was made)
    params: dict[str, str] | None = None


def _edi_id(env: o.SeedEnv, payer_id: Any, value: str) -> Any:
    return reference.set_payer_edi_id(env.ctx, payer_id,
                                      billing_schemas.PayerEdiIdIn(transaction="claims", edi_id=value))


def _payer_edi(env: o.SeedEnv) -> o.Seeded:
    payer = o.make_payer(env)
    row = _edi_id(env, payer.id, "OLD01")
    return o.Seeded("edi_id", row.id, extra_ids=[payer.id])


def _closure(env: o.SeedEnv, days: int) -> o.Seeded:
    return o.Seeded("closure", setup.add_closure(env.ctx, env.location_id, date.today() + timedelta(days=days)).id)


def _care_entry_edit(env: o.SeedEnv, s: o.Seeded) -> Any:
    return timing.edit_entry(env.ctx, s.id, {"minutes": 7}).id


CASES: dict[str, Case] = {
    "roles": Case(lambda env, s: "/api/v1/roles", o.make_role,
                  lambda env, s: identity.update_role(env.ctx, s.id, name=f"Renamed {secrets.token_hex(3)}",
                                                         permissions=None).id),
    "api-clients": Case(lambda env, s: "/api/v1/api-clients", o.make_api_client,
                        lambda env, s: identity.revoke_api_client(env.ctx, s.id).id),
    "break-glass": Case(lambda env, s: "/api/v1/break-glass", o.make_break_glass,
                        lambda env, s: identity.review_break_glass(env.ctx, s.id).id),
    "alerts": Case(lambda env, s: f"/api/v1/patients/{s.extra_ids[0]}/alerts", o.make_alert,
                   lambda env, s: alerts.acknowledge_alert(
                       env.ctx, s.extra_ids[0], s.id, "seen").id),
    "merges": Case(lambda env, s: f"/api/v1/patients/{s.extra_ids[0]}/merges", o.make_merge,
                   lambda env, s: merge.unmerge(
                       env.ctx, s.id, "not the same person").id),
    "documents": Case(lambda env, s: f"/api/v1/patients/{s.extra_ids[0]}/documents", o.make_document,
                      lambda env, s: o.make_document(env).id),
    "resources": Case(lambda env, s: f"/api/v1/scheduling/locations/{env.location_id}/resources", o.make_room,
                      lambda env, s: o.make_room(env).id),
    "closures": Case(lambda env, s: f"/api/v1/scheduling/locations/{env.location_id}/closures",
                     lambda env: _closure(env, 30), lambda env, s: _closure(env, 31).id),
    "templates": Case(lambda env, s: "/api/v1/scheduling/templates", o.make_template,
                      lambda env, s: setup.end_template(
                          env.ctx, s.id, date.today() + timedelta(days=90)).id,
                      params={"location_id": "{location}"}),
    "waitlist": Case(lambda env, s: "/api/v1/scheduling/waitlist", o.make_entry,
                     lambda env, s: (waitlist.remove_entry(
                         env.ctx, s.id), s.id)[1], params={"status": "removed"}),
    "waitlist-offers": Case(lambda env, s: "/api/v1/scheduling/waitlist-offers", o.make_offer,
                            lambda env, s: (waitlist.decline_offer(
                                env.ctx, s.id), s.id)[1], params={"status": "declined"}),
    "reminder-rules": Case(lambda env, s: "/api/v1/scheduling/reminder-rules", o.make_rule,
                           lambda env, s: o.make_rule(env).id),
    "edi-ids": Case(lambda env, s: f"/api/v1/billing/payers/{s.extra_ids[0]}/edi-ids", _payer_edi,
                    lambda env, s: _edi_id(env, s.extra_ids[0], "NEW02").id),
    "fee-schedules": Case(lambda env, s: "/api/v1/billing/fee-schedules", o.make_fee_schedule,
                          lambda env, s: o.make_fee_schedule(env).id),
    "edi-files": Case(lambda env, s: "/api/v1/billing/edi-files", o.make_file, lambda env, s: o.make_file(env).id),
    "problems": Case(lambda env, s: f"/api/v1/care/patients/{s.extra_ids[0]}/problems", o.make_problem,
                     lambda env, s: care.resolve_problem(
                         env.ctx, s.id, date.today()).id),
    "care-entries": Case(lambda env, s: f"/api/v1/care/enrolments/{s.extra_ids[0]}/entries", o.make_time_entry,
                         _care_entry_edit, params={"month": "{month}"}),
    "deliveries": Case(lambda env, s: f"/api/v1/webhooks/{s.extra_ids[0]}/deliveries", o.make_delivery,
                       lambda env, s: webhooks.replay(env.ctx, s.id).id),
}


def _ids(c: Any, path: str, params: dict[str, str]) -> list[str]:
    r = c.get(path, params=params)
    assert r.status_code == 200, r.text
    return [row["id"] for row in r.json()]


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_row_changed_after_t_is_listed_and_an_older_unchanged_one_is_not(name, org, make_user, login):
    case = CASES[name]
    env = o.SeedEnv(org.id, org.loc_a.id, "UPD")
    admin = login(make_user(org, "org_admin"))
    old = case.make(env)
    path = case.path(env, old)
    month = (clock.now() - timedelta(days=1)).strftime("%Y-%m")  # the care entry's (started a day ago)
    params = {k: v.format(location=org.loc_a.id, month=month) for k, v in (case.params or {}).items()}
    if name not in ("waitlist", "waitlist-offers"):  # those show the row under its changed status only
        rows = admin.get(path, params=params).json()
        assert str(old.id) in [row["id"] for row in rows]
        assert all(row["updated_at"] for row in rows)
    clock.advance(timedelta(minutes=1))
    mark = clock.now()
    clock.advance(timedelta(seconds=1))
    since = {**params, "updated_since": mark.isoformat()}
    assert _ids(admin, path, since) == []  # every row predates T
    changed = case.change(env, old)
    assert _ids(admin, path, since) == [str(changed)]
    if changed != old.id:  # a new row: the older one is still listed without the filter
        assert str(old.id) in _ids(admin, path, params)


def test_a_members_grants_and_activity_are_changes_of_the_member(org, make_user, login):
    env = o.SeedEnv(org.id, org.loc_a.id, "UPD")
    admin = login(make_user(org, "org_admin"))
    member, other = o.make_membership(env), o._member(o.SeedEnv(org.id, org.loc_a.id, "UPD2"))
    clock.advance(timedelta(minutes=1))
    mark = clock.now()
    clock.advance(timedelta(seconds=1))
    since = {"updated_since": mark.isoformat()}
    assert _ids(admin, "/api/v1/users", since) == []
    identity.add_grant(env.ctx, member.id, o._role_id(env, "location_manager"), org.loc_b.id)
    assert _ids(admin, "/api/v1/users", since) == [str(member.id)]
    clock.advance(timedelta(minutes=1))
    later = clock.now()
    clock.advance(timedelta(seconds=1))
    r = admin.put(f"/api/v1/users/{other.id}/active", json={"active": False})
    assert r.status_code == 200, r.text
    assert _ids(admin, "/api/v1/users", {"updated_since": later.isoformat()}) == [str(other.id)]


def test_a_new_default_clearinghouse_changes_the_previous_default(org, make_user, login):
    env = o.SeedEnv(org.id, org.loc_a.id, "UPD")
    admin = login(make_user(org, "org_admin"))
    first = reference.create_connection(env.ctx, billing_schemas.ConnectionIn(
        name="First", sender_id="S", receiver_id="R", is_default=True))
    plain = reference.create_connection(env.ctx, billing_schemas.ConnectionIn(
        name="Plain", sender_id="S", receiver_id="R"))
    clock.advance(timedelta(minutes=1))
    mark = clock.now()
    clock.advance(timedelta(seconds=1))
    since = {"updated_since": mark.isoformat()}
    assert _ids(admin, "/api/v1/billing/connections", since) == []
    second = reference.create_connection(env.ctx, billing_schemas.ConnectionIn(
        name="Second", sender_id="S", receiver_id="R", is_default=True))
    got = _ids(admin, "/api/v1/billing/connections", since)
    assert sorted(got) == sorted([str(first.id), str(second.id)])  # the first lost its default
    assert str(plain.id) not in got


def test_my_timers_changed_since(org, make_user, login):
    env = o.SeedEnv(org.id, org.loc_a.id, "UPD")
    admin = login(make_user(org, "org_admin"))
    enrolment = o._enrolment(env)
    r = admin.post(f"/api/v1/care/enrolments/{enrolment.id}/timer", json={"activity": "coordination"})
    assert r.status_code == 201, r.text
    timer = r.json()["id"]
    clock.advance(timedelta(minutes=1))
    mark = clock.now()
    clock.advance(timedelta(seconds=1))
    since = {"updated_since": mark.isoformat()}
    assert _ids(admin, "/api/v1/care/timers", since) == []
    assert admin.post(f"/api/v1/care/timers/{timer}/pause").status_code == 200
    assert _ids(admin, "/api/v1/care/timers", since) == [timer]


@pytest.mark.parametrize("path", [
    "/api/v1/scheduling/slots?visit_type_id={vt}&from_date=2030-01-01",
    "/api/v1/billing/code-sets/modifiers",
    "/api/v1/billing/clean-claim-rates",
    "/api/v1/care/eligibility",
])
def test_computed_lists_refuse_updated_since_even_when_empty(org, make_user, login, path):
    """A computed list answers 422 whatever it holds (before decision 48 an empty answer was 200)."""
    env = o.SeedEnv(org.id, org.loc_a.id, "UPD")
    admin = login(make_user(org, "org_admin"))
    vt = o._visit_type(env).id if "{vt}" in path else None
    r = admin.get(f"{path.format(vt=vt)}{'&' if '?' in path else '?'}updated_since={clock.now().isoformat()}"
                  .replace("+", "%2B"))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "updated_since"


def test_a_batch_acknowledged_after_t_and_the_acknowledgement_file(org, make_user, login):
    """A 999 moves the batch (status) and is itself a new EDI file: both answer updated_since."""
    w = make_billing_world(org)
    admin = login(make_user(org, "org_admin"))
    pid, _ = w.patient()
    [claim] = claims.build_claims(w.ctx, w.encounter(pid).id)
    [batch] = submission.submit_ready(w.ctx).batches
    conn = next(c for c in reference.list_connections(w.ctx) if c.id == batch.connection_id)
    st = claims.get_claim(w.ctx, claim.id).events[-1].detail["st02"]
    files_before = _ids(admin, "/api/v1/billing/edi-files", {})
    assert str(batch.id) in _ids(admin, "/api/v1/billing/batches", {})
    clock.advance(timedelta(minutes=1))
    mark = clock.now()
    clock.advance(timedelta(seconds=1))
    since = {"updated_since": mark.isoformat()}
    assert _ids(admin, "/api/v1/billing/batches", since) == []
    assert _ids(admin, "/api/v1/billing/edi-files", since) == []
    ack, _ = edi.ingest(w.ctx, _999(conn, batch, st), "ack.999")
    assert _ids(admin, "/api/v1/billing/batches", since) == [str(batch.id)]
    assert _ids(admin, "/api/v1/billing/edi-files", since) == [str(ack.id)]
    assert files_before and set(files_before) <= set(_ids(admin, "/api/v1/billing/edi-files", {}))


def test_care_months_approved_after_t(org, make_user, login, ctx_for):
    w = make_world(org)
    admin = login(make_user(org, "org_admin"))
    coord = ctx_for(make_user(org, "care_coordinator", org.loc_a))
    doc = ctx_for(make_user(org, "provider", org.loc_a))
    es = []
    for hour in (13, 14):
        e = enrol(w, new_patient(w.ctx, org.loc_a.id, chronic=2, high_risk=True), "ccm", start=date(2025, 1, 1))
        timing.add_entry(coord, e.id, activity="coordination", started_at=at(2025, 5, 3, hour), minutes=25)
        es.append(e)
    [first] = closing.approve_month(doc, "2025-05", enrolment_ids=[es[0].id])
    clock.advance(timedelta(minutes=1))
    mark = clock.now()
    clock.advance(timedelta(seconds=1))
    params = {"month": "2025-05", "updated_since": mark.isoformat()}
    assert _ids(admin, "/api/v1/care/months", params) == []
    [second] = closing.approve_month(doc, "2025-05", enrolment_ids=[es[1].id])
    assert _ids(admin, "/api/v1/care/months", params) == [str(second.id)]
    assert sorted(_ids(admin, "/api/v1/care/months", {"month": "2025-05"})) == sorted([str(first.id), str(second.id)])


def test_using_an_api_client_is_not_a_change_of_it(org, make_user, login, bearer):
    """Last use is stamped once a minute; a sync of the clients would otherwise fetch every caller."""
    admin = login(make_user(org, "org_admin"))
    bot = bearer(org, ["locations:read"])
    mark = clock.now()
    clock.advance(timedelta(minutes=2))
    assert bot.get("/api/v1/locations").status_code == 200  # stamps last_used_at
    rows = admin.get("/api/v1/api-clients").json()
    assert next(r["last_used_at"] for r in rows if r["name"] == "test bot") is not None
    assert _ids(admin, "/api/v1/api-clients", {"updated_since": (mark + timedelta(minutes=1)).isoformat()}) == []
