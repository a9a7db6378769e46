"""Webhooks: per-organisation subscriptions to domain events, delivered signed (Standard Webhooks)
by the worker from the outbox, with retries, backoff, a dead state, replay and a delivery log.

Payloads carry identifiers only (the minimum necessary): a subscriber reads what it may see
through the API with its own token. A delivery keeps one `webhook-id` across its retries so a
receiver can drop repeats.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from praxis.interop import egress, signing
from praxis.interop.models import WebhookDelivery, WebhookSubscription
from praxis.interop.permissions import WEBHOOKS_MANAGE
from praxis.platform import audit, outbox
from praxis.platform.clock import now
from praxis.platform.context import Context, system_context
from praxis.platform.db import get_or_404, session_scope
from praxis.platform.errors import ValidationProblem
from praxis.platform.paging import keyset_after
from praxis.platform.uow import unit_of_work

DELIVER_TOPIC = "interop.webhook_deliver"
ROTATION_OVERLAP = timedelta(hours=24)
MAX_ATTEMPTS = 6  # below the outbox's own limit, so the delivery log says "dead", not the outbox alone
TIMEOUT_SECONDS = 10
_NAMESPACE = uuid.UUID("0b9f0c55-8a4e-4d5e-9b7e-3d1f0c2a6e11")


@dataclass(frozen=True)
class EventSource:
    topic: str  # the outbox topic the domain emits
    when: dict[str, str] | None = None  # payload values the event needs (a status change's action)
    # Values other than identifiers the event carries: domain payload key -> our data key.
    fields: dict[str, str] = field(default_factory=dict)


# Our event types -> the domain events they come from.
EVENTS: dict[str, EventSource] = {
    "appointment.booked": EventSource("scheduling.appointment_booked"),
    "appointment.cancelled": EventSource("scheduling.appointment_cancelled"),
    # The old and new visit type are identifiers; the version tells two changes apart (A -> B -> A -> B).
    "appointment.modified": EventSource("scheduling.appointment_modified", fields={"version": "version"}),
    "appointment.checked_in": EventSource("scheduling.appointment_status", {"action": "check_in"}),
    "patient.registered": EventSource("patient.registered"),
    "patient.merged": EventSource("patient.merged"),
    "intake.submitted": EventSource("intake.submitted"),
    "claim.status_changed": EventSource("billing.claim_status", fields={"from": "old_status", "to": "new_status"}),
}
# Not yet: "payment.posted" needs 835 remittance posting, which billing does not have.


class DeliveryFailed(RuntimeError):
    """Raised so the outbox retries the delivery with its exponential backoff."""


# --- subscriptions --------------------------------------------------------------------------------


def _check_event_types(event_types: list[str]) -> list[str]:
    unknown = sorted(set(event_types) - set(EVENTS))
    if unknown or not event_types:
        raise ValidationProblem(f"Event types must be some of {', '.join(EVENTS)}"
                                + (f"; unknown: {', '.join(unknown)}" if unknown else ""), field="event_types")
    return sorted(set(event_types))


def create_subscription(ctx: Context, url: str, event_types: list[str], *, description: str = ""
                        ) -> tuple[WebhookSubscription, str]:
    """Subscribe `url` to `event_types`; returns the subscription and its signing secret (shown once).
    The URL must be https and reach a public address (`egress.check_url`)."""
    ctx = ctx.standing()
    ctx.require(WEBHOOKS_MANAGE)
    types = _check_event_types(event_types)
    checked = egress.check_url(url)
    secret = signing.new_secret()
    with unit_of_work(ctx) as s:
        sub = WebhookSubscription(url=checked, event_types=types, secret=secret,
                                  description=description[:200], created_by=ctx.actor_id)
        s.add(sub)
        s.flush()
        audit.record(s, ctx, "create", "webhook_subscription", sub.id, detail={"event_types": sub.event_types})
        return sub, secret


def list_subscriptions(ctx: Context) -> list[WebhookSubscription]:
    ctx = ctx.standing()
    ctx.require(WEBHOOKS_MANAGE)
    with unit_of_work(ctx) as s:
        return list(s.scalars(select(WebhookSubscription).order_by(WebhookSubscription.created_at)))


def update_subscription(ctx: Context, subscription_id: uuid.UUID, *, url: str | None = None,
                        event_types: list[str] | None = None, description: str | None = None
                        ) -> WebhookSubscription:
    """Change a subscription's URL (checked as at creation), event types or description."""
    ctx = ctx.standing()
    ctx.require(WEBHOOKS_MANAGE)
    types = _check_event_types(event_types) if event_types is not None else None
    checked = egress.check_url(url) if url is not None else None
    with unit_of_work(ctx) as s:
        sub = get_or_404(s, WebhookSubscription, subscription_id, "webhook subscription")
        changed: dict[str, Any] = {}
        if checked is not None and checked != sub.url:
            sub.url, changed["url"] = checked, True
        if types is not None and types != sub.event_types:
            sub.event_types, changed["event_types"] = types, types
        if description is not None and description[:200] != sub.description:
            sub.description, changed["description"] = description[:200], True
        if changed:
            audit.record(s, ctx, "update", "webhook_subscription", sub.id, detail=changed)
        return sub


def get_subscription(ctx: Context, subscription_id: uuid.UUID) -> WebhookSubscription:
    ctx = ctx.standing()
    ctx.require(WEBHOOKS_MANAGE)
    with unit_of_work(ctx) as s:
        return get_or_404(s, WebhookSubscription, subscription_id, "webhook subscription")


def set_active(ctx: Context, subscription_id: uuid.UUID, active: bool) -> WebhookSubscription:
    """Pause or resume a subscription. A paused one gets no new deliveries and its pending ones
    are not sent; resuming queues those pending ones again, due now."""
    ctx = ctx.standing()
    ctx.require(WEBHOOKS_MANAGE)
    with unit_of_work(ctx) as s:
        sub = get_or_404(s, WebhookSubscription, subscription_id, "webhook subscription")
        was, sub.active = sub.active, active
        audit.record(s, ctx, "activate" if active else "deactivate", "webhook_subscription", sub.id)
        if active and not was:
            # The worker dropped their outbox messages while paused (deliver() skips them).
            for d in s.scalars(select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id,
                                                             WebhookDelivery.status == "pending")):
                d.next_attempt_at = now()
                outbox.emit(s, DELIVER_TOPIC, {"delivery_id": str(d.id)})
        return sub


def rotate_secret(ctx: Context, subscription_id: uuid.UUID, *, overlap: timedelta = ROTATION_OVERLAP
                  ) -> tuple[WebhookSubscription, str]:
    """A new signing secret (returned once); the old one keeps signing beside it for `overlap`."""
    ctx = ctx.standing()
    ctx.require(WEBHOOKS_MANAGE)
    secret = signing.new_secret()
    with unit_of_work(ctx) as s:
        sub = get_or_404(s, WebhookSubscription, subscription_id, "webhook subscription")
        sub.previous_secret, sub.previous_expires_at = sub.secret, now() + overlap
        sub.secret, sub.secret_rotated_at = secret, now()
        audit.record(s, ctx, "rotate_secret", "webhook_subscription", sub.id)
        return sub, secret


# The delivery log's order, newest first (a keyset: (column, descending) pairs, the id last).
DELIVERY_ORDER = [(WebhookDelivery.created_at, True), (WebhookDelivery.id, False)]


def list_deliveries(ctx: Context, subscription_id: uuid.UUID, *, status: str | None = None,
                    limit: int = 100, after: tuple[Any, ...] | None = None,
                    updated_since: datetime | None = None) -> list[WebhookDelivery]:
    """The delivery log of one subscription, newest first (only `status` ones when given): `limit`
    rows after the keyset position `after` (created_at, id) of that order, changed at or after
    `updated_since` when given (a retried or replayed old delivery counts as changed)."""
    ctx = ctx.standing()
    ctx.require(WEBHOOKS_MANAGE)
    if status is not None and status not in ("pending", "delivered", "dead"):
        raise ValidationProblem("Status must be pending, delivered or dead", field="status")
    with unit_of_work(ctx) as s:
        get_or_404(s, WebhookSubscription, subscription_id, "webhook subscription")
        stmt = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
        if status is not None:
            stmt = stmt.where(WebhookDelivery.status == status)
        if updated_since is not None:
            stmt = stmt.where(WebhookDelivery.updated_at >= updated_since)
        if after is not None:
            stmt = stmt.where(keyset_after(DELIVERY_ORDER, after))
        return list(s.scalars(stmt.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
                              .limit(max(1, min(limit, 501)))))


def delivery_counts(ctx: Context) -> dict[uuid.UUID, dict[str, int]]:
    """Per subscription, how many deliveries are pending and dead (what needs a look)."""
    ctx = ctx.standing()
    ctx.require(WEBHOOKS_MANAGE)
    counts: dict[uuid.UUID, dict[str, int]] = {}
    with unit_of_work(ctx) as s:
        rows = s.execute(select(WebhookDelivery.subscription_id, WebhookDelivery.status, func.count())
                         .where(WebhookDelivery.status.in_(("pending", "dead")))
                         .group_by(WebhookDelivery.subscription_id, WebhookDelivery.status))
        for sub_id, status, n in rows:
            counts.setdefault(sub_id, {})[status] = int(n)
    return counts


def replay(ctx: Context, delivery_id: uuid.UUID) -> WebhookDelivery:
    """Send a delivery again (a dead one after the receiver is fixed, or a delivered one on request)."""
    ctx = ctx.standing()
    ctx.require(WEBHOOKS_MANAGE)
    with unit_of_work(ctx) as s:
        d = get_or_404(s, WebhookDelivery, delivery_id, "webhook delivery")
        d.status, d.attempts, d.next_attempt_at = "pending", 0, now()
        audit.record(s, ctx, "replay", "webhook_delivery", d.id)
        outbox.emit(s, DELIVER_TOPIC, {"delivery_id": str(d.id)})
        return d


# --- fan-out and delivery (worker) ----------------------------------------------------------------


def fan_out(event_type: str, org_id: uuid.UUID | None, payload: dict[str, Any]) -> None:
    """Outbox handler: one delivery per active subscription to `event_type`. Idempotent: the
    delivery id derives from subscription, event type and the event's identifiers."""
    source = EVENTS[event_type]
    if org_id is None or any(payload.get(k) != v for k, v in (source.when or {}).items()):
        return
    data = {k: v for k, v in sorted(payload.items()) if k.endswith("_id") and v is not None}
    data.update({ours: payload[theirs] for theirs, ours in source.fields.items() if theirs in payload})
    with unit_of_work(system_context(org_id, "webhooks")) as s:
        for sub in s.scalars(select(WebhookSubscription).where(WebhookSubscription.active.is_(True))):
            if event_type not in sub.event_types:
                continue
            did = uuid.uuid5(_NAMESPACE, f"{sub.id}:{event_type}:{json.dumps(data, sort_keys=True)}")
            if s.scalars(select(WebhookDelivery.id).where(WebhookDelivery.id == did)).first() is not None:
                continue
            s.add(WebhookDelivery(id=did, subscription_id=sub.id, event_type=event_type, next_attempt_at=now(),
                                  payload={"type": event_type, "timestamp": now().isoformat(), "data": data}))
            outbox.emit(s, DELIVER_TOPIC, {"delivery_id": str(did)}, org_id=org_id)


def handler_for(event_type: str) -> outbox.Handler:
    return lambda org_id, payload: fan_out(event_type, org_id, payload)


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str | None]:
    """POST through the guarded opener: public addresses only (checked on the address connected
    to), no proxy, no redirects."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 (scheme checked)
    try:
        with egress.opener().open(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return None, str(getattr(exc, "reason", exc))[:500]


def deliver(org_id: uuid.UUID | None, payload: dict[str, Any]) -> None:
    """Outbox handler: POST one delivery, signed; record the attempt; raise to be retried."""
    if org_id is None:
        return
    did = uuid.UUID(payload["delivery_id"])
    with session_scope(org_id) as s:
        d = s.scalars(select(WebhookDelivery).where(WebhookDelivery.id == did)).first()
        sub = s.scalars(select(WebhookSubscription).where(WebhookSubscription.id == d.subscription_id)).first() \
            if d else None
        if d is None or sub is None or d.status != "pending" or not sub.active:
            return
        body = json.dumps(d.payload, separators=(",", ":"), sort_keys=True).encode()
        url, secrets_ = sub.url, [sub.secret]
        if sub.previous_secret and sub.previous_expires_at and sub.previous_expires_at > now():
            secrets_.append(sub.previous_secret)
    msg_id = f"msg_{did.hex}"
    stamp = int(now().timestamp())
    headers = signing.headers(secrets_[0], msg_id, stamp, body)
    headers["webhook-signature"] = " ".join(signing.sign(x, msg_id, stamp, body) for x in secrets_)
    status, error = _post(url, body, headers)
    ok = status is not None and 200 <= status < 300
    with session_scope(org_id) as s:
        d = s.scalars(select(WebhookDelivery).where(WebhookDelivery.id == did)).one()
        d.attempts += 1
        d.last_status_code, d.last_error = status, error
        d.next_attempt_at = None
        if ok:
            d.status, d.delivered_at = "delivered", now()
        elif d.attempts >= MAX_ATTEMPTS:
            d.status = "dead"
        else:
            # The outbox retries after its backoff for this attempt (its attempts match ours: a
            # replay resets ours and emits a fresh outbox message).
            d.next_attempt_at = now() + outbox.backoff(d.attempts)
        attempts, dead = d.attempts, d.status == "dead"
    if not ok and not dead:
        raise DeliveryFailed(f"delivery {did} attempt {attempts}: {error or status}")


def subscribe_all() -> None:
    """Wire the event handlers (wiring.py calls this)."""
    for event_type, source in EVENTS.items():
        outbox.subscribe(source.topic, handler_for(event_type))
    outbox.subscribe(DELIVER_TOPIC, deliver)
