"""Appointment reminders: rules, scheduling through the outbox, pluggable senders, "C" replies.

Booking (and rescheduling) emits one `scheduling.reminder_due` job per active rule at
`start - hours_before`. The handler re-reads the appointment: it sends nothing when the visit
was cancelled or moved (a moved visit has its own jobs), nothing to a patient without consent or
who opted out of the channel, and each (appointment, rule) at most once (reminder_log unique key).

Senders are ports: `ReminderSender` is what the handler calls. The default writes to
var/outbox-messages.log; `SmtpEmailSender` sends email through smtplib; an SMS gateway
implements `SmsProvider` and is plugged in with `RoutingSender(sms=...)` from wiring.py.
"""

from __future__ import annotations

import logging
import smtplib
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from praxis.platform import audit, outbox
from praxis.platform.clock import now
from praxis.platform.context import Context, system_context
from praxis.platform.crypto import keyring
from praxis.platform.errors import NotFound, ValidationProblem
from praxis.platform.uow import unit_of_work
from praxis.scheduling import patients_port
from praxis.scheduling.models import Appointment, ReminderLog, ReminderRule
from praxis.scheduling.permissions import REMINDERS_MANAGE
from praxis.scheduling.status import transition

log = logging.getLogger("praxis.scheduling.reminders")

REMINDER_TOPIC = "scheduling.reminder_due"


# --- sender ports ------------------------------------------------------------------------------


class ReminderSender(Protocol):
    def send(self, *, channel: str, to: str, subject: str, body: str) -> None:
        """Deliver one message or raise (the outbox retries with backoff)."""


class SmsProvider(Protocol):
    def send_sms(self, to: str, body: str) -> None: ...


class FileSender:
    """Development/default sender: appends each message to a log file (and keeps the last ones)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.sent: list[dict[str, str]] = []
        self._lock = threading.Lock()

    def _path(self) -> Path:
        if self.path is None:
            from praxis.platform.settings import get_settings

            self.path = get_settings().var_dir / "outbox-messages.log"
        return self.path

    def send(self, *, channel: str, to: str, subject: str, body: str) -> None:
        with self._lock:
            self.sent.append({"channel": channel, "to": to, "subject": subject, "body": body})
            del self.sent[:-1000]
            path = self._path()
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as f:
                f.write(f"{now().isoformat()}\t{channel}\t{to}\t{subject}\t{body!r}\n")


@dataclass
class SmtpEmailSender:
    host: str
    port: int = 587
    username: str | None = None
    password: str | None = None
    from_addr: str = "no-reply@localhost"
    starttls: bool = True
    timeout: float = 15.0

    def send_email(self, to: str, subject: str, body: str) -> None:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = self.from_addr, to, subject
        msg.set_content(body)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(msg)


class RoutingSender:
    """Email through SMTP and SMS through a provider when configured; the file sender otherwise."""

    def __init__(self, *, email: SmtpEmailSender | None = None, sms: SmsProvider | None = None,
                 fallback: ReminderSender | None = None) -> None:
        self.email, self.sms = email, sms
        self.fallback = fallback or FileSender()

    def send(self, *, channel: str, to: str, subject: str, body: str) -> None:
        if channel == "email" and self.email is not None:
            self.email.send_email(to, subject, body)
        elif channel == "sms" and self.sms is not None:
            self.sms.send_sms(to, body)
        else:
            self.fallback.send(channel=channel, to=to, subject=subject, body=body)


_sender: ReminderSender | None = None


def set_sender(sender: ReminderSender | None) -> None:
    global _sender
    _sender = sender


def get_sender() -> ReminderSender:
    global _sender
    if _sender is None:
        _sender = FileSender()
    return _sender


# --- rules -------------------------------------------------------------------------------------


def list_rules(ctx: Context) -> list[ReminderRule]:
    ctx.require(REMINDERS_MANAGE)
    with unit_of_work(ctx) as session:
        return list(session.scalars(select(ReminderRule).order_by(ReminderRule.hours_before.desc())))


def create_rule(ctx: Context, *, hours_before: int, channel: str = "preferred") -> ReminderRule:
    ctx.require(REMINDERS_MANAGE)
    if not 1 <= hours_before <= 24 * 30:
        raise ValidationProblem("hours_before must be between 1 and 720", field="hours_before")
    if channel not in ("preferred", "sms", "email"):
        raise ValidationProblem("channel must be preferred, sms or email", field="channel")
    with unit_of_work(ctx) as session:
        rule = ReminderRule(org_id=ctx.org_id, hours_before=hours_before, channel=channel)
        session.add(rule)
        try:
            session.flush()
        except IntegrityError:
            raise ValidationProblem("A rule with that timing and channel exists", field="hours_before") from None
        audit.record(session, ctx, "reminder_rule.create", "reminder_rule", rule.id)
        return rule


def delete_rule(ctx: Context, rule_id: uuid.UUID) -> None:
    ctx.require(REMINDERS_MANAGE)
    with unit_of_work(ctx) as session:
        rule = session.scalars(select(ReminderRule).where(ReminderRule.id == rule_id)).first()
        if rule is None:
            raise NotFound("No such reminder rule")
        rule.active = False
        audit.record(session, ctx, "reminder_rule.delete", "reminder_rule", rule.id)


def reminder_rows(org_id: uuid.UUID, rules: Sequence[tuple[uuid.UUID, int]], appointment_id: uuid.UUID,
                  start_at: datetime) -> list[dict[str, Any]]:
    """Outbox rows (platform.outbox.row) queueing one job per active rule still in the future;
    `rules` are (rule id, hours before), as the reference snapshot holds them."""
    rows = []
    stamp = now()
    for rule_id, hours_before in rules:
        at = start_at - timedelta(hours=hours_before)
        if at <= stamp:
            continue
        rows.append(outbox.row(REMINDER_TOPIC, {"appointment_id": str(appointment_id), "rule_id": str(rule_id),
                                                "start_at": start_at.astimezone(UTC).isoformat()},
                               org_id, at=at))
    return rows


# --- delivery ----------------------------------------------------------------------------------


def reply_token(org_id: uuid.UUID, appointment_id: uuid.UUID) -> str:
    message = f"reply:{org_id.hex}:{appointment_id.hex}"
    return f"{org_id.hex}.{appointment_id.hex}.{keyring().sign(message)}"


def parse_reply_token(token: str) -> tuple[uuid.UUID, uuid.UUID]:
    try:
        org_hex, appt_hex, sig = token.split(".", 2)
        org_id, appt_id = uuid.UUID(org_hex), uuid.UUID(appt_hex)
    except ValueError:
        raise NotFound("No such appointment") from None
    if not keyring().verify_signature(f"reply:{org_id.hex}:{appt_id.hex}", sig):
        raise NotFound("No such appointment")
    return org_id, appt_id


def _message(location: str, local: datetime, token: str) -> tuple[str, str]:
    when = local.strftime("%a %d %b at %H:%M").replace(" 0", " ")
    subject = "Appointment reminder"
    body = (f"Reminder: you have an appointment at {location} on {when}. "
            f"Reply C to confirm. Ref {token[-10:]}")
    return subject, body


def handle_reminder_due(org_id: uuid.UUID | None, payload: dict[str, Any]) -> None:
    """Outbox handler for `scheduling.reminder_due` (idempotent)."""
    if org_id is None:
        return
    appt_id = uuid.UUID(payload["appointment_id"])
    rule_id = uuid.UUID(payload["rule_id"])
    ctx = system_context(org_id, "reminders")
    with unit_of_work(ctx) as session:
        appt = session.scalars(select(Appointment).where(Appointment.id == appt_id)).first()
        rule = session.scalars(select(ReminderRule).where(ReminderRule.id == rule_id)).first()
        if appt is None or rule is None or not rule.active:
            return
        if appt.status not in ("booked", "confirmed") or \
                appt.start_at != datetime.fromisoformat(payload.get("start_at", "1970-01-01T00:00:00+00:00")):
            return  # cancelled, already here, or moved (the move queued its own reminders)
        done = session.scalars(select(ReminderLog.id).where(
            ReminderLog.appointment_id == appt_id, ReminderLog.rule_id == rule_id,
            ReminderLog.kind == "reminder")).first()
        if done is not None:
            return
        conn = session.connection()
        who = patients_port.contact(conn, org_id, appt.patient_id)
        route = who.channel(rule.channel) if who else None
        entry = ReminderLog(org_id=org_id, appointment_id=appt_id, rule_id=rule_id, kind="reminder",
                            channel=route[0] if route else "", status="sent" if route else "skipped",
                            detail="" if route else "no consented, not opted-out channel")
        session.add(entry)
        session.flush()  # claims (appointment, rule) before sending
        if route is None:
            return
        from praxis.scheduling.calendars import LOC

        loc = conn.execute(select(LOC.c.name, LOC.c.timezone).where(
            LOC.c.org_id == org_id, LOC.c.id == appt.location_id)).one()
        from praxis.scheduling.availability import to_local

        subject, body = _message(loc.name, to_local(appt.start_at, loc.timezone),
                                 reply_token(org_id, appt.id))
        get_sender().send(channel=route[0], to=route[1], subject=subject, body=body)
        audit.record(session, ctx, "appointment.reminder_sent", "appointment", appt.id,
                     patient_id=appt.patient_id, location_id=appt.location_id, detail={"channel": route[0]})


def confirm_reply(token: str, body: str) -> str:
    """A patient's reply to a reminder (public endpoint, signed token): "C" confirms."""
    org_id, appt_id = parse_reply_token(token)
    answer = body.strip().upper()
    if answer not in ("C", "CONFIRM", "YES", "Y"):
        raise ValidationProblem('Reply "C" to confirm; call the clinic to change the appointment',
                                field="body")
    ctx = system_context(org_id, "patient reply")
    with unit_of_work(ctx) as session:
        appt = session.scalars(select(Appointment).where(Appointment.id == appt_id)).first()
        if appt is None:
            raise NotFound("No such appointment")
        t = transition(appt.status, "confirm")
        if appt.status != t.after:
            appt.status, appt.confirmed_at = t.after, now()
            appt.version += 1
        audit.record(session, ctx, "appointment.confirm_reply", "appointment", appt.id,
                     patient_id=appt.patient_id, location_id=appt.location_id)
        return appt.status
