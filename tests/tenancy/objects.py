"""Object factories for the tenancy sweep: identifier kind -> "make one of these here".

The sweep (test_sweep.py) finds identifiers in every route (path parameters, query and body
fields named `*_id`, `*_ids` or `id`), maps each name to a *kind* with `kind_for()`, and asks the
factory of that kind for a real object on the other side (another organisation, or a location
outside the caller's scope). Factories call the owning domain's service, never the tables, so
they keep working while the domains evolve.

A domain that does not exist yet (importlib finds no service) or whose tables are not migrated
yet leaves its kinds *unseeded*: the sweep then probes with a random UUID and lists the kind in
its report, so the gap is visible instead of silently passing.

To add a kind: write `def make_<kind>(env) -> Seeded` below and register it in FACTORIES (and,
if the parameter is spelt differently, in ALIASES). Keep unique strings (names, codes) carrying
`env.marker`, so a leak of them into a response is detectable.
"""

from __future__ import annotations

import importlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import inspect, select

from praxis.platform.context import Context, system_context
from praxis.platform.db import get_engine, session_scope

PASSWORD = "correct horse battery staple"


class Unseeded(Exception):
    """The kind cannot be created here (domain missing, tables not migrated, …)."""


@dataclass
class Seeded:
    kind: str
    id: uuid.UUID | str  # a string for kinds that are not rows (MRN, slug, code, token, step)
    strings: list[str] = field(default_factory=list)  # unique strings that must never leak
    extra_ids: list[uuid.UUID] = field(default_factory=list)


@dataclass
class SeedEnv:
    """Where to create: an organisation and one of its locations, with a unique marker string."""

    org_id: uuid.UUID
    location_id: uuid.UUID
    marker: str
    # The organisation of the callers of the sweep (A). For the other organisation's env it is
    # another org: signed tokens are then minted *crossed* (A's org, B's object; see make_token).
    caller_org_id: uuid.UUID | None = None
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def foreign_org(self) -> bool:
        return self.caller_org_id is not None and self.caller_org_id != self.org_id

    @property
    def ctx(self) -> Context:
        return system_context(self.org_id, "tenancy-sweep")

    def unique(self, what: str) -> str:
        return f"{what} {self.marker} {secrets.token_hex(3)}"

    def org_unique(self, what: str) -> str:
        """A name for an organisation-level object: marked only in another organisation (in the
        caller's own organisation such objects are visible org-wide by design, wherever made)."""
        return self.unique(what) if self.foreign_org else f"{what} {secrets.token_hex(3)}"


Factory = Callable[[SeedEnv], Seeded]


def _module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        raise Unseeded(f"{name} does not exist yet") from exc


def _tables(*names: str) -> None:
    existing = set(inspect(get_engine()).get_table_names())
    missing = [n for n in names if n not in existing]
    if missing:
        raise Unseeded(f"tables not migrated: {', '.join(missing)}")


# --- practice ---------------------------------------------------------------------------------


def make_org(env: SeedEnv) -> Seeded:
    """The organisation itself (org switcher, org-scoped references)."""
    return Seeded("org", env.org_id)



def make_location(env: SeedEnv) -> Seeded:
    """The location itself is the object (org B's location, or the out-of-scope loc_b)."""
    return Seeded("location", env.location_id)


# --- identity ---------------------------------------------------------------------------------


def _role_id(env: SeedEnv, key: str) -> uuid.UUID:
    service = _module("praxis.identity.service")
    for role in service.list_roles(env.ctx):
        if role.key == key:
            return role.id  # type: ignore[no-any-return]
    raise Unseeded(f"no built-in role {key}")


def _member(env: SeedEnv) -> Any:
    if "member" not in env.cache:
        service = _module("praxis.identity.service")
        name = env.unique("Member")
        email = f"member-{env.marker.lower()}-{secrets.token_hex(3)}@example.org"
        env.cache["member"] = service.invite_member(
            env.ctx, email, name, PASSWORD, [(_role_id(env, "front_desk"), env.location_id)])
        env.cache["member_strings"] = [name, email]
    return env.cache["member"]


def make_membership(env: SeedEnv) -> Seeded:
    m = _member(env)
    return Seeded("membership", m.id, list(env.cache["member_strings"]), [m.user_id])


def make_user(env: SeedEnv) -> Seeded:
    m = _member(env)
    return Seeded("user", m.user_id, list(env.cache["member_strings"]), [m.id])


def make_grant(env: SeedEnv) -> Seeded:
    m = _member(env)
    return Seeded("grant", m.grants[0]["id"], list(env.cache["member_strings"]), [m.id])


def make_role(env: SeedEnv) -> Seeded:
    service = _module("praxis.identity.service")
    name = env.unique("Role")
    role = service.copy_role(env.ctx, _role_id(env, "front_desk"), name)
    return Seeded("role", role.id, [name])


def make_api_client(env: SeedEnv) -> Seeded:
    service = _module("praxis.identity.service")
    name = env.unique("Bot")
    client, token = service.create_api_client(env.ctx, name, ["locations:read"])
    return Seeded("api_client", client.id, [name, token])


def _subscription(env: SeedEnv) -> Any:
    if "subscription" not in env.cache:
        _tables("webhook_subscriptions")
        webhooks = _module("praxis.interop.webhooks")
        desc = env.unique("Hook")
        sub, secret = webhooks.create_subscription(env.ctx, "https://hooks.example.org/praxis",
                                                   ["appointment.booked"], description=desc)
        env.cache["subscription"] = sub
        env.cache["subscription_strings"] = [desc, secret]
    return env.cache["subscription"]


def make_subscription(env: SeedEnv) -> Seeded:
    sub = _subscription(env)
    return Seeded("subscription", sub.id, list(env.cache["subscription_strings"]))


def make_delivery(env: SeedEnv) -> Seeded:
    _tables("webhook_deliveries")
    sub = _subscription(env)
    models = _module("praxis.interop.models")
    marker = env.unique("evt")
    with session_scope(env.org_id) as s:
        d = models.WebhookDelivery(org_id=env.org_id, subscription_id=sub.id, event_type="appointment.booked",
                                   payload={"type": "appointment.booked", "data": {"marker": marker}})
        s.add(d)
        s.flush()
        did = d.id
    return Seeded("delivery", did, [marker], [sub.id])


def make_hl7_message(env: SeedEnv) -> Seeded:
    """A stored inbound HL7 message that failed (an A08 for a patient not known there): its raw
    text names the marker, and a failed message is one a replay would process."""
    _tables("hl7_messages")
    inbound = _module("praxis.interop.hl7.inbound")
    hl7v2 = _module("praxis.formats.hl7v2")
    family, control = env.unique("Hl7"), f"SWEEP{secrets.token_hex(6)}"
    raw = hl7v2.build_message([
        ("MSH", ["EHR", "SweepFacility", "PRAXIS", "CLINIC", "20261207090000", None, ["ADT", "A08", "ADT_A01"],
                 control, "P", "2.5"]),
        ("EVN", ["A08", "20261207090000"]),
        ("PID", ["1", None, [secrets.token_hex(4), None, None, "SWEEP", "MR"], None, [family, "Ann"], None,
                 "19800102", "F"]),
    ]).encode()
    inbound.receive(raw, {"SweepFacility": inbound.Route(env.org_id, env.location_id)})
    models = _module("praxis.interop.hl7.models")
    with session_scope(env.org_id) as s:
        mid = s.scalars(select(models.Hl7Message.id).where(models.Hl7Message.org_id == env.org_id,
                                                           models.Hl7Message.control_id == control)).one()
    return Seeded("hl7_message", mid, [family])


def make_hl7_outbound(env: SeedEnv) -> Seeded:
    """A dead outbound HL7 row (what Resend takes); peers are configuration, so it is written as
    the delivery worker leaves one."""
    _tables("hl7_outbound")
    models = _module("praxis.interop.hl7.models")
    marker = env.unique("peer down")
    with session_scope(env.org_id) as s:
        row = models.Hl7Outbound(org_id=env.org_id, peer="SweepPeer", event="ADT^A04",
                                 control_id=f"PX{secrets.token_hex(9)}", payload={}, status="dead", attempts=5,
                                 last_error=marker)
        s.add(row)
        s.flush()
        oid = row.id
    return Seeded("hl7_outbound", oid, [marker])


def make_break_glass(env: SeedEnv, reason: str | None = None) -> Seeded:
    service = _module("praxis.identity.service")
    context = _module("praxis.identity.context")
    models = _module("praxis.identity.models")
    name = env.unique("Breaker")
    email = f"breaker-{env.marker.lower()}-{secrets.token_hex(3)}@example.org"
    m = service.invite_member(env.ctx, email, name, PASSWORD,
                              [(_role_id(env, "location_manager"), env.location_id)])
    with session_scope(env.org_id) as s:
        user = s.get(models.User, m.user_id)
        member = s.scalars(select(models.Membership).where(models.Membership.id == m.id)).one()
        ctx = context.build_user_context(s, user, member, location_id=env.location_id)
    reason = reason or f"Emergency {env.marker} review of chart"
    bg = service.open_break_glass(ctx, reason, location_id=env.location_id, minutes=5)
    return Seeded("break_glass", bg.id, [name, email, reason], [m.id])


# --- patients ---------------------------------------------------------------------------------


def _patient(env: SeedEnv) -> Any:
    if "patient" not in env.cache:
        service = _module("praxis.patients.service")
        schemas = _module("praxis.patients.schemas")
        _tables("patients")
        first, last = f"Pat{env.marker}", f"Doe{secrets.token_hex(3)}"
        data = schemas.PatientCreate(first_name=first, last_name=last, dob=date(1980, 2, 3),
                                     preferred_location_id=env.location_id, confirm_duplicate=True)
        env.cache["patient"] = service.register_patient(env.ctx, data, location_id=env.location_id)
        env.cache["patient_strings"] = [first, last, env.cache["patient"].mrn]
    return env.cache["patient"]


def make_patient(env: SeedEnv) -> Seeded:
    p = _patient(env)
    return Seeded("patient", p.id, list(env.cache["patient_strings"]))


def make_payer(env: SeedEnv) -> Seeded:
    coverage = _module("praxis.patients.coverage")
    schemas = _module("praxis.patients.schemas")
    _tables("payers")
    if "payer" not in env.cache:
        name = env.unique("Payer")
        code = ("P" + env.marker + secrets.token_hex(3))[:20]
        env.cache["payer"] = coverage.create_payer(env.ctx, schemas.PayerIn(payer_code=code, name=name))
        env.cache["payer_strings"] = [name, code]
    return Seeded("payer", env.cache["payer"].id, list(env.cache["payer_strings"]))


def make_coverage(env: SeedEnv) -> Seeded:
    coverage = _module("praxis.patients.coverage")
    schemas = _module("praxis.patients.schemas")
    _tables("coverages")
    p = _patient(env)
    payer = make_payer(env)
    member_id = f"M{env.marker}{secrets.token_hex(3)}"
    cov = coverage.add_coverage(env.ctx, p.id, schemas.CoverageIn(payer_id=payer.id, member_id=member_id))
    return Seeded("coverage", cov.id, [member_id, *env.cache["patient_strings"]], [p.id])


def _new_patient(env: SeedEnv, tag: str) -> Any:
    service = _module("praxis.patients.service")
    schemas = _module("praxis.patients.schemas")
    _tables("patients")
    first, last = f"{tag}{env.marker}", f"Roe{secrets.token_hex(3)}"
    data = schemas.PatientCreate(first_name=first, last_name=last, dob=date(1975, 6, 7),
                                 preferred_location_id=env.location_id, confirm_duplicate=True)
    return service.register_patient(env.ctx, data, location_id=env.location_id)


def make_mrn(env: SeedEnv) -> Seeded:
    """The seeded patient's MRN (GET /patients/by-mrn/{mrn})."""
    p = _patient(env)
    return Seeded("mrn", p.mrn, list(env.cache["patient_strings"]), [p.id])


def make_document(env: SeedEnv) -> Seeded:
    documents = _module("praxis.patients.documents")
    _tables("patient_documents")
    p = _patient(env)
    filename = f"scan-{env.marker}-{secrets.token_hex(3)}.pdf"
    doc = documents.upload_document(env.ctx, p.id, b"%PDF-1.4 x", kind="other", filename=filename)
    return Seeded("document", doc.id, [filename, *env.cache["patient_strings"]], [p.id])


def make_merge(env: SeedEnv) -> Seeded:
    """Two fresh patients of the env merged (the seeded patient stays a normal, active record)."""
    merge = _module("praxis.patients.merge")
    _tables("patient_merges")
    survivor, merged = _new_patient(env, "Keep"), _new_patient(env, "Gone")
    reason = env.unique("Duplicate")
    out = merge.merge_patients(env.ctx, survivor.id, merged.id, reason)
    strings = [survivor.first_name, merged.first_name, survivor.mrn, merged.mrn, reason]
    return Seeded("merge", out.id, strings, [survivor.id, merged.id])


def make_section(env: SeedEnv) -> Seeded:
    """A card of the patient page (`/patients/{id}/edit/{section}`): a name, not an object."""
    return Seeded("section", "demographics")


def make_alert(env: SeedEnv) -> Seeded:
    """An open alert on the seeded patient (as intake raises for a positive PHQ-9 item 9)."""
    alerts = _module("praxis.patients.alerts")
    uow = _module("praxis.platform.uow")
    _tables("patient_alerts")
    p = _patient(env)
    message = env.unique("Alert")
    with uow.unit_of_work(env.ctx) as session:
        alert = alerts.raise_alert_in(session, env.ctx, p.id, kind="phq9_item9", message=message,
                                      source_type="tenancy", source_id=uuid.uuid4())
        alert_id = alert.id
    return Seeded("alert", alert_id, [message, *env.cache["patient_strings"]], [p.id])


# --- practice (strings of the public booking routes) -------------------------------------------


def _location(env: SeedEnv) -> Any:
    if "location_row" not in env.cache:
        practice = _module("praxis.practice.service")
        env.cache["location_row"] = practice.get_location(env.ctx, env.location_id)
        env.cache["org_row"] = practice.get_organisation(env.ctx)
    return env.cache["location_row"]


def make_org_slug(env: SeedEnv) -> Seeded:
    _location(env)
    return Seeded("org_slug", env.cache["org_row"].slug)


def make_location_code(env: SeedEnv) -> Seeded:
    return Seeded("location_code", _location(env).code)


# --- scheduling --------------------------------------------------------------------------------

ALL_WEEK_9_TO_5 = [{"weekday": w, "start_minute": 9 * 60, "end_minute": 17 * 60} for w in range(7)]


def _local(env: SeedEnv, days_ahead: int, hour: int) -> datetime:
    """A time on a day ahead, in the location's zone (the template covers every day 9–17)."""
    clock = _module("praxis.platform.clock")
    zone = ZoneInfo(_location(env).timezone)
    day = (clock.now().astimezone(zone) + timedelta(days=days_ahead)).date()
    return datetime(day.year, day.month, day.day, hour, tzinfo=zone)


def _visit_type(env: SeedEnv) -> Any:
    if "visit_type" not in env.cache:
        setup = _module("praxis.scheduling.setup")
        _tables("visit_types")
        name = env.org_unique("Visit")
        env.cache["visit_type"] = setup.create_visit_type(
            env.ctx, code=f"V{secrets.token_hex(4)}", name=name, duration_minutes=30, self_bookable=True)
        env.cache["visit_type_strings"] = [name] if env.foreign_org else []
    return env.cache["visit_type"]


def _provider(env: SeedEnv) -> Any:
    """A provider working at the env's location only, with a weekly template there."""
    if "provider" not in env.cache:
        setup = _module("praxis.scheduling.setup")
        clock = _module("praxis.platform.clock")
        _tables("providers", "schedule_templates")
        first, last = f"Prov{env.marker}", f"Smith{secrets.token_hex(3)}"
        provider = setup.create_provider(env.ctx, first_name=first, last_name=last,
                                         location_ids=[env.location_id], credentials="MD")
        name = env.unique("Template")
        template = setup.create_template(env.ctx, provider_id=provider.id, location_id=env.location_id,
                                         effective_from=clock.now().date() - timedelta(days=1),
                                         effective_to=None, blocks=ALL_WEEK_9_TO_5, name=name)
        env.cache["provider"], env.cache["template"] = provider, template
        env.cache["provider_strings"] = [first, last]
        env.cache["template_strings"] = [name]
    return env.cache["provider"]


def make_visit_type(env: SeedEnv) -> Seeded:
    vt = _visit_type(env)
    return Seeded("visit_type", vt.id, list(env.cache["visit_type_strings"]))


def make_provider(env: SeedEnv) -> Seeded:
    p = _provider(env)
    return Seeded("provider", p.id, list(env.cache["provider_strings"]))


def make_schedule(env: SeedEnv) -> Seeded:
    """A FHIR Schedule: the env's provider at the env's location (an id derived from the pair)."""
    p = _provider(env)
    slots = _module("praxis.interop.api.fhir_slots")
    return Seeded("schedule", slots.schedule_id(p.id, env.location_id), list(env.cache["provider_strings"]),
                  [p.id])


def make_template(env: SeedEnv) -> Seeded:
    _provider(env)
    t = env.cache["template"]
    return Seeded("template", t.id, list(env.cache["template_strings"]), [t.provider_id])


def make_job(env: SeedEnv) -> Seeded:
    """A queued patient import at the env's location (its report would name patients)."""
    jobs = _module("praxis.patients.import_jobs")
    _tables("patient_import_jobs")
    filename = f"import-{env.marker}-{secrets.token_hex(3)}.csv"
    job = jobs.start_import_job(env.ctx, "patients", b"last_name,first_name,dob\nA,B,1980-01-01\n",
                                filename=filename, location_code=_location(env).code)
    return Seeded("job", job.id, [filename])


def make_room(env: SeedEnv) -> Seeded:
    setup = _module("praxis.scheduling.setup")
    _tables("resources")
    name = env.unique("Room")
    room = setup.create_resource(env.ctx, location_id=env.location_id, kind="room", name=name)
    return Seeded("room", room.id, [name])


def _appointment(env: SeedEnv) -> Any:
    if "appointment" not in env.cache:
        service = _module("praxis.scheduling.service")
        _tables("appointments")
        p = _patient(env)
        reason = env.unique("Reason")
        env.cache["appointment"] = service.book(
            env.ctx, patient_id=p.id, visit_type_id=_visit_type(env).id, provider_id=_provider(env).id,
            location_id=env.location_id, start_at=_local(env, 7, 10), reason_for_visit=reason)
        env.cache["appointment_strings"] = [reason, *env.cache["patient_strings"]]
    return env.cache["appointment"]


def make_appointment(env: SeedEnv) -> Seeded:
    a = _appointment(env)
    return Seeded("appointment", a.id, list(env.cache["appointment_strings"]), [a.patient_id, a.provider_id])


def make_entry(env: SeedEnv) -> Seeded:
    waitlist = _module("praxis.scheduling.waitlist")
    _tables("waitlist_entries")
    p = _patient(env)
    notes = env.unique("Waitlist")
    entry = waitlist.add_entry(env.ctx, patient_id=p.id, visit_type_id=_visit_type(env).id,
                               provider_id=_provider(env).id, location_id=env.location_id, notes=notes)
    return Seeded("entry", entry.id, [notes, *env.cache["patient_strings"]], [p.id])


def make_offer(env: SeedEnv) -> Seeded:
    """An open offer: an urgent waitlist entry, then a freed slot offered to it (as the outbox
    handler of `scheduling.slot_freed` does after a cancellation)."""
    waitlist = _module("praxis.scheduling.waitlist")
    _tables("waitlist_offers")
    p = _new_patient(env, "Wait")
    notes = env.unique("Urgent")
    entry = waitlist.add_entry(env.ctx, patient_id=p.id, visit_type_id=_visit_type(env).id,
                               provider_id=_provider(env).id, location_id=env.location_id, priority=9,
                               notes=notes)
    start = _local(env, 8, 11)
    offer = waitlist.offer_slot(env.org_id, {
        "start_at": start.isoformat(), "end_at": (start + timedelta(minutes=30)).isoformat(),
        "provider_id": str(_provider(env).id), "location_id": str(env.location_id),
        "visit_type_id": str(_visit_type(env).id)})
    if offer is None or offer.entry_id != entry.id:
        raise Unseeded("waitlist.offer_slot made no offer to the seeded entry")
    return Seeded("offer", offer.id, [notes, p.first_name, p.mrn], [entry.id, p.id])


def make_rule(env: SeedEnv) -> Seeded:
    reminders = _module("praxis.scheduling.reminders")
    _tables("reminder_rules")
    rule = reminders.create_rule(env.ctx, hours_before=24 + secrets.randbelow(600), channel="email")
    return Seeded("rule", rule.id)


def make_verification(env: SeedEnv) -> Seeded:
    """An online booking request waiting for its code, at the env's location."""
    online = _module("praxis.scheduling.online")
    schemas = _module("praxis.scheduling.schemas")
    _tables("booking_verifications")
    loc = online.find_location(make_org_slug(env).id, _location(env).code)
    vt, provider = _visit_type(env), _provider(env)
    free = [s.start_at for s in online.slots(loc, vt.id, _local(env, 9, 9).date(), days=3, limit=100)
            if s.provider_id == provider.id]
    if not free:
        raise Unseeded("no free online slot for the seeded provider")
    first, last = f"Web{env.marker}", f"Lee{secrets.token_hex(3)}"
    email = f"web-{env.marker.lower()}-{secrets.token_hex(3)}@example.org"
    data = schemas.OnlineBookingIn(visit_type_id=vt.id, provider_id=provider.id, start_at=free[0],
                                   first_name=first, last_name=last, dob=date(1990, 1, 2), channel="email",
                                   email=email, reason_for_visit=env.unique("Online"))
    vid, _, _ = online.start(loc, data, client_ip=f"seed-{env.marker}")
    return Seeded("verification", vid, [first, last, email])


def make_feed_token(env: SeedEnv) -> Seeded:
    """An ICS feed token for the env's provider. Tokens are signed, so in the other organisation
    it is minted crossed: signed for the caller's organisation, naming B's provider (a token of
    B's own would be B's genuine capability URL, which works for anyone by design)."""
    ics = _module("praxis.scheduling.ics")
    p = _provider(env)
    token = ics.feed_token(env.caller_org_id if env.foreign_org else env.org_id, p.id)  # type: ignore[arg-type]
    return Seeded("feed_token", token, list(env.cache["provider_strings"]), [p.id])


def make_reply_token(env: SeedEnv) -> Seeded:
    """A reminder reply token for the env's appointment (crossed in the other organisation)."""
    reminders = _module("praxis.scheduling.reminders")
    a = _appointment(env)
    token = reminders.reply_token(env.caller_org_id if env.foreign_org else env.org_id, a.id)  # type: ignore[arg-type]
    return Seeded("reply_token", token, list(env.cache["appointment_strings"]), [a.id])


# --- intake ------------------------------------------------------------------------------------


def _workflow(env: SeedEnv) -> Any:
    if "workflow" not in env.cache:
        service = _module("praxis.intake.service")
        schemas = _module("praxis.intake.schemas")
        builtin = _module("praxis.intake.builtin")
        _tables("intake_workflows")
        name, title = env.unique("Workflow"), env.unique("Form")
        definition = builtin.default_definition()
        definition["title"] = title
        env.cache["workflow"] = service.create_workflow(
            env.ctx, schemas.WorkflowIn(name=name, location_id=env.location_id, definition=definition))
        env.cache["workflow_strings"] = [name, title]
    return env.cache["workflow"]


def _submission(env: SeedEnv) -> Any:
    if "submission" not in env.cache:
        service = _module("praxis.intake.service")
        _tables("intake_submissions")
        _workflow(env)
        env.cache["submission"] = service.start_intake(env.ctx, _patient(env).id, env.location_id)
    return env.cache["submission"]


def make_workflow(env: SeedEnv) -> Seeded:
    wf = _workflow(env)
    return Seeded("workflow", wf.id, list(env.cache["workflow_strings"]))


def make_submission(env: SeedEnv) -> Seeded:
    sub = _submission(env)
    return Seeded("submission", sub.id, [*env.cache["workflow_strings"], *env.cache["patient_strings"]],
                  [sub.patient_id, sub.workflow_id])


def make_step(env: SeedEnv) -> Seeded:
    """A step of the seeded workflow (the index the link routes take; not an object of its own)."""
    _workflow(env)
    return Seeded("step", "0")


def make_token(env: SeedEnv) -> Seeded:
    """An intake link token (`<org hex>.<secret>`) for the seeded submission. In the other
    organisation it is crossed: the caller's organisation with B's secret, which must not open B's
    link (B's genuine token is B's patient's capability and works for anyone by design)."""
    links = _module("praxis.intake.links")
    _tables("intake_links")
    sub = _submission(env)
    token = links.create_link(env.ctx, sub.id).token
    if env.foreign_org:
        token = f"{env.caller_org_id.hex}.{token.split('.', 1)[1]}"  # type: ignore[union-attr]
    return Seeded("token", token, [*env.cache["workflow_strings"], *env.cache["patient_strings"]],
                  [sub.id, sub.patient_id])


# --- care ---------------------------------------------------------------------------------------


def _problem_in(code: str) -> Any:
    schemas = _module("praxis.care.schemas")
    return schemas.ProblemIn(icd10=code, onset_date=date(2015, 1, 1), expected_months=120, high_risk=True)


def make_problem(env: SeedEnv) -> Seeded:
    service = _module("praxis.care.service")
    _tables("care_problems")
    p = _patient(env)
    problem = service.add_problem(env.ctx, p.id, _problem_in("I10"))
    return Seeded("problem", problem.id, list(env.cache["patient_strings"]), [p.id])


def _enrolment(env: SeedEnv) -> Any:
    """A CCM enrolment of the env's patient with the env's provider at the env's location."""
    if "enrolment" not in env.cache:
        service = _module("praxis.care.service")
        schemas = _module("praxis.care.schemas")
        clock = _module("praxis.platform.clock")
        _tables("care_enrolments")
        p = _patient(env)
        for code in ("E11.9", "J44.9"):
            service.add_problem(env.ctx, p.id, _problem_in(code))
        start = clock.now().date().replace(day=1) - timedelta(days=40)
        consent = schemas.ConsentIn(method="written", obtained_at=clock.now() - timedelta(days=60),
                                    obtained_by_name=env.unique("Consenter"), told_availability=True,
                                    told_cost_sharing=True, told_stop_month_end=True, told_one_practitioner=True)
        env.cache["enrolment"] = service.enrol(env.ctx, schemas.EnrolmentIn(
            patient_id=p.id, provider_id=_provider(env).id, location_id=env.location_id, program="ccm",
            start_date=start, initiating_visit_on=start, initiating_visit_kind="em", consent=consent))
    return env.cache["enrolment"]


def make_enrolment(env: SeedEnv) -> Seeded:
    e = _enrolment(env)
    return Seeded("enrolment", e.id, list(env.cache["patient_strings"]), [e.patient_id, e.provider_id])


def _care_actor(env: SeedEnv) -> Any:
    """Care minutes are logged by a person: the env's system context with a person's id."""
    from dataclasses import replace

    return replace(env.ctx, actor_id=uuid.uuid4(), actor_type="user", actor_name=env.unique("Carer"))


def make_time_entry(env: SeedEnv) -> Seeded:
    timing = _module("praxis.care.timing")
    clock = _module("praxis.platform.clock")
    _tables("care_time_entries")
    e = _enrolment(env)
    note = env.unique("CareNote")
    entry = timing.add_entry(_care_actor(env), e.id, activity="coordination", minutes=5, note=note,
                             started_at=clock.now() - timedelta(days=1))
    return Seeded("time_entry", entry.id, [note, *env.cache["patient_strings"]], [e.id, e.patient_id])


def make_timer(env: SeedEnv) -> Seeded:
    """A running timer of a person of the env's organisation (only its owner may act on it)."""
    timing = _module("praxis.care.timing")
    _tables("care_timers")
    e = _enrolment(env)
    timer = timing.start_timer(_care_actor(env), e.id, activity="coordination")
    return Seeded("timer", timer.id, list(env.cache["patient_strings"]), [e.id, e.patient_id])


def make_plan_version(env: SeedEnv) -> Seeded:
    """A care-plan version of the env's enrolment (its goal text is the unique string)."""
    careplan = _module("praxis.care.careplan")
    schemas = _module("praxis.care.schemas")
    _tables("care_plan_versions")
    e = _enrolment(env)
    goal = env.unique("CareGoal")
    v = careplan.save_plan(_care_actor(env), e.id, schemas.CarePlanIn(goals=[schemas.GoalIn(description=goal)]))
    return Seeded("plan_version", v.id, [goal, *env.cache["patient_strings"]], [e.id, e.patient_id])


# --- billing -----------------------------------------------------------------------------------


def _billing_ready(env: SeedEnv) -> None:
    """A billing identity at the env's location, a provider NPI/taxonomy and a fee schedule, once."""
    if "billing_ready" in env.cache:
        return
    reference = _module("praxis.billing.reference")
    schemas = _module("praxis.billing.schemas")
    codes = _module("praxis.billing.codes")
    _tables("billing_profiles", "encounters", "claims")
    reference.set_billing_profile(env.ctx, env.location_id, schemas.BillingProfileIn(
        name=f"Billing {secrets.token_hex(3)}", npi=codes.npi_with_check_digit("123456789"), tax_id="123456789",
        taxonomy_code="261QP2300X", address_line1="1 Main St", city="Boston", state="MA", postal_code="02110"))
    env.cache["billing_ready"] = True


def _encounter(env: SeedEnv) -> Any:
    if "encounter" not in env.cache:
        charges = _module("praxis.billing.charges")
        schemas = _module("praxis.billing.schemas")
        coverage = _module("praxis.patients.coverage")
        pschemas = _module("praxis.patients.schemas")
        _billing_ready(env)
        patient = _new_patient(env, "Bill")  # its own patient: the seeded one may have its coverage already
        coverage.add_coverage(env.ctx, patient.id, pschemas.CoverageIn(payer_id=make_payer(env).id,
                                                                       member_id=f"B{secrets.token_hex(4)}"))
        notes = env.unique("Superbill")
        env.cache["encounter"] = charges.create_encounter(env.ctx, schemas.EncounterIn(
            patient_id=patient.id, location_id=env.location_id, date_of_service=date.today(),
            rendering_provider_id=_provider(env).id, diagnoses=["E11.9"], notes=notes,
            lines=[schemas.LineIn(code="99213", charge_cents=12300, dx_pointers=[1])]))
        env.cache["encounter_strings"] = [notes, patient.first_name, patient.mrn]
    return env.cache["encounter"]


def make_encounter(env: SeedEnv) -> Seeded:
    e = _encounter(env)
    return Seeded("encounter", e.id, list(env.cache["encounter_strings"]), [e.patient_id])


def make_claim(env: SeedEnv) -> Seeded:
    if "claim" not in env.cache:
        claims = _module("praxis.billing.claims")
        e = _encounter(env)
        env.cache["claim"] = claims.build_claims(env.ctx, e.id)[0]
    c = env.cache["claim"]
    return Seeded("claim", c.id, list(env.cache["encounter_strings"]), [c.patient_id, c.encounter_id])


def _export(env: SeedEnv) -> Any:
    """A finished FHIR bulk export of the env's patients (its files hold patient data)."""
    if "export" not in env.cache:
        export = _module("praxis.interop.export")
        _tables("fhir_export_jobs", "fhir_export_files")
        _patient(env)
        job = export.start_export(env.ctx, level="system", types=["Patient"], since=None,
                                  request_url="https://example.org/fhir/R4/$export?_type=Patient")
        export.run_export(env.org_id, job.id)
        with session_scope(env.org_id) as s:
            models = _module("praxis.interop.models")
            env.cache["export"] = s.scalars(select(models.FhirExportJob).where(models.FhirExportJob.id == job.id)
                                            ).one()
    return env.cache["export"]


def make_export(env: SeedEnv) -> Seeded:
    return Seeded("export", _export(env).id)


def make_export_file(env: SeedEnv) -> Seeded:
    job = _export(env)
    return Seeded("export_file", uuid.UUID(job.output[0]["file_id"]), extra_ids=[job.id])


def make_fee_schedule(env: SeedEnv) -> Seeded:
    reference = _module("praxis.billing.reference")
    schemas = _module("praxis.billing.schemas")
    _tables("fee_schedules")
    name = env.org_unique("Fees")
    fs = reference.create_fee_schedule(env.ctx, schemas.FeeScheduleIn(
        name=name, effective_from=date(2020, 1, 1), items=[schemas.FeeItemIn(code="99213", charge_cents=100)]))
    return Seeded("fee_schedule", fs.id, [name] if env.foreign_org else [])


def make_connection(env: SeedEnv) -> Seeded:
    reference = _module("praxis.billing.reference")
    schemas = _module("praxis.billing.schemas")
    _tables("clearinghouse_connections")
    name = env.org_unique("Clearinghouse")
    conn = reference.create_connection(env.ctx, schemas.ConnectionIn(name=name, sender_id="SENDER",
                                                                     receiver_id="RECEIVER"))
    return Seeded("connection", conn.id, [name] if env.foreign_org else [])


def make_file(env: SeedEnv) -> Seeded:
    """An inbound EDI file (a 999 that matches nothing) of the env's organisation."""
    edi = _module("praxis.billing.edi")
    _tables("edi_files")
    marker = f"M{secrets.token_hex(4).upper()}"
    text = (f"ISA*00*          *00*          *ZZ*{marker.ljust(15)}*ZZ*{'PRAXIS'.ljust(15)}*261207*0900*^*00501*"
            "000000901*0*T*:~GS*FA*X*Y*20261207*0900*77*X*005010X231A1~ST*999*0001*005010X231A1~"
            "AK1*HC*999999*005010X222A1~AK2*837*0001~IK5*A~AK9*A*1*1*1~SE*6*0001~GE*1*77~IEA*1*000000901~")
    f, _ = edi.ingest(env.ctx, text, f"{marker}.999")
    return Seeded("file", f.id, [marker] if env.foreign_org else [])


# Parameter name (without _id/_ids) -> kind, where the name is not the kind itself.
ALIASES: dict[str, str] = {
    "member": "membership",
    "practitioner": "provider",  # FHIR Practitioner is a scheduling provider
    "practitioner_role": "provider",  # FHIR PractitionerRole: one per provider, same id
    "questionnaire_response": "submission",  # FHIR QuestionnaireResponse is an intake submission
    "client": "api_client",
    "api_client": "api_client",
    "actor": "user",
    "survivor": "patient",
    "merged": "patient",
    "preferred_location": "location",
    "organisation": "org",
    "home_location": "location",
    "resource": "room",
    "waitlist_entry": "entry",
    "reminder_rule": "rule",
    "intake": "submission",
    "care_enrolment": "enrolment",
    "rendering_provider": "provider",
    "clearinghouse": "connection",
    "message": "hl7_message",  # /api/v1/hl7/messages/{message_id}, /admin/hl7/messages/{message_id}
    "outbound": "hl7_outbound",
}

# A generic name (`id`, `event_id`, …) takes its kind from the collection segment before it.
GENERIC = {"id", "event", "item", "object"}
COLLECTIONS: dict[str, str] = {
    "break-glass": "break_glass",
    "users": "membership",
    "locations": "location",
    "roles": "role",
    "api-clients": "api_client",
    "patients": "patient",
    "payers": "payer",
    "coverages": "coverage",
    "appointments": "appointment",
    "providers": "provider",
    "visit-types": "visit_type",
    "templates": "template",
    "reminder-rules": "rule",
    "waitlist": "entry",
    "waitlist-offers": "offer",
    "workflows": "workflow",
    "submissions": "submission",
    "documents": "document",
    "merges": "merge",
    "alerts": "alert",
    "problems": "problem",
    "enrolments": "enrolment",
    "encounters": "encounter",
    "claims": "claim",
    "fee-schedules": "fee_schedule",
    "edi-files": "file",
    "connections": "connection",
}

# The public token routes take differently made tokens under the one name `token`.
TOKEN_KINDS: dict[str, str] = {
    "/public/calendars/": "feed_token",
    "/public/reminder-replies/": "reply_token",
}

FACTORIES: dict[str, Factory] = {
    "org": make_org,
    "location": make_location,
    "membership": make_membership,
    "user": make_user,
    "grant": make_grant,
    "role": make_role,
    "api_client": make_api_client,
    "subscription": make_subscription,
    "delivery": make_delivery,
    "hl7_message": make_hl7_message,
    "hl7_outbound": make_hl7_outbound,
    "break_glass": make_break_glass,
    "patient": make_patient,
    "payer": make_payer,
    "coverage": make_coverage,
    "mrn": make_mrn,
    "document": make_document,
    "merge": make_merge,
    "alert": make_alert,
    "section": make_section,
    "org_slug": make_org_slug,
    "location_code": make_location_code,
    "visit_type": make_visit_type,
    "provider": make_provider,
    "schedule": make_schedule,
    "template": make_template,
    "room": make_room,
    "job": make_job,
    "appointment": make_appointment,
    "entry": make_entry,
    "offer": make_offer,
    "rule": make_rule,
    "verification": make_verification,
    "feed_token": make_feed_token,
    "reply_token": make_reply_token,
    "workflow": make_workflow,
    "submission": make_submission,
    "step": make_step,
    "token": make_token,
    "problem": make_problem,
    "enrolment": make_enrolment,
    "time_entry": make_time_entry,
    "timer": make_timer,
    "plan_version": make_plan_version,
    "encounter": make_encounter,
    "claim": make_claim,
    "export": make_export,
    "export_file": make_export_file,
    "fee_schedule": make_fee_schedule,
    "connection": make_connection,
    "file": make_file,
}

# Kinds that live at the organisation level: there is no "other location" variant of them.
ORG_LEVEL_KINDS = {"org", "role", "api_client", "break_glass", "payer", "visit_type", "rule", "org_slug",
                   "fee_schedule", "connection", "file",
                   "subscription", "delivery", "export", "export_file", "hl7_message", "hl7_outbound"}

_PUBLIC_BOOKING = ("public booking serves any organisation's self-bookable visit types at any active "
                   "location by slug and location code, to anyone, by design (no session scope applies); "
                   "the other identifiers of these routes (visit type, provider, verification) are probed")
_BEARER = ("a public route whose token is a bearer capability minted for this object: a genuine token "
           "works for anyone who holds it, whatever their session or location grants, by design; the "
           "'org' side is probed with a crossed token (caller's organisation, other org's object)")

# Reviewed exemptions by kind: (kind, side) -> why no probe is sent. conftest.register_exemptions
# expands them to the sweep's per-route EXEMPT table, so they are listed in the report.
KIND_EXEMPT: dict[tuple[str, str], str] = {
    ("org_slug", "org"): _PUBLIC_BOOKING,
    ("location_code", "org"): _PUBLIC_BOOKING,
    ("location_code", "location"): _PUBLIC_BOOKING,
    ("token", "location"): _BEARER,
    ("feed_token", "location"): _BEARER,
    ("reply_token", "location"): _BEARER,
    ("step", "org"): "not a reference: the index of a step within the workflow of the link's own token",
    ("step", "location"): "not a reference: the index of a step within the workflow of the link's own token",
    ("section", "org"): "not a reference: the name of a card of the patient page (demographics, contact)",
    ("section", "location"): "not a reference: the name of a card of the patient page (demographics, contact)",
}

# Fields named like identifiers that are not references to objects ("Schema.field" or "field").
NOT_IDENTIFIERS: dict[str, str] = {
    "tax_id": "the employer tax number (EIN) of a location",
    "CoverageIn.member_id": "the insurance member number on the card",
    "EhrChargeIn.encounter_id": "the EHR's own encounter number (a string of the sending system)",
    "PayerEdiIdIn.edi_id": "the payer's id at a clearinghouse (an EDI code, not a Praxis object)",
    "sender_id": "an X12 interchange sender id (ISA06) of a clearinghouse connection",
    "receiver_id": "an X12 interchange receiver id (ISA08) of a clearinghouse connection",
}

# Values the request-body example generator cannot guess from the JSON schema alone.
FIELD_HINTS: dict[str, object] = {
    "scopes": ["locations:read"],
    "permissions": ["locations:read"],
    "body": "C",  # a reminder reply that confirms, so the token is looked up (not refused as text)
    "month": "2025-05",  # care: a calendar month YYYY-MM
}


def kind_for(name: str, path: str) -> str:
    base = name
    for suffix in ("_ids", "_id"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    if base in GENERIC or name == "id":
        segments = [s for s in path.split("/") if s]
        here = "{" + name + "}"
        if here in segments:
            i = segments.index(here)
            if i > 0 and segments[i - 1] in COLLECTIONS:
                return COLLECTIONS[segments[i - 1]]
        return f"?{base}@{path}"
    if name == "token":
        return next((k for p, k in TOKEN_KINDS.items() if p in path), "token")
    return ALIASES.get(base, base)
