"""Webhook subscriptions and their delivery log over the REST API (thin: interop.webhooks)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends
from pydantic import BaseModel, ConfigDict, Field

from praxis.interop import webhooks
from praxis.interop.permissions import WEBHOOKS_MANAGE
from praxis.platform.context import Context
from praxis.platform.errors import ValidationProblem
from praxis.platform.ids import parse_id
from praxis.platform.schemas import StrictModel
from praxis.web.deps import permission
from praxis.web.paging import PAGED, Pager
from praxis.web.routes import Router

router = Router(prefix="/api/v1/webhooks", tags=["webhooks"])


class SubscriptionIn(StrictModel):
    url: Annotated[str, Field(min_length=8, max_length=500)]
    event_types: Annotated[list[str], Field(min_length=1, max_length=20)]
    description: Annotated[str, Field(max_length=200)] = ""


class SubscriptionPatch(StrictModel):
    url: Annotated[str | None, Field(min_length=8, max_length=500)] = None
    event_types: Annotated[list[str] | None, Field(min_length=1, max_length=20)] = None
    description: Annotated[str | None, Field(max_length=200)] = None


class SubscriptionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    event_types: list[str]
    active: bool
    description: str
    secret_rotated_at: datetime | None
    created_at: datetime
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(description="whsec_… signing secret; shown only in this answer")


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    subscription_id: uuid.UUID
    event_type: str
    payload: dict[str, Any]
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


@router.get("", response_model=list[SubscriptionOut])
def list_subscriptions(ctx: Context = Depends(permission(WEBHOOKS_MANAGE)),
                       page: Pager = PAGED) -> list[SubscriptionOut]:
    return page.of([SubscriptionOut.model_validate(s) for s in webhooks.list_subscriptions(ctx)])


@router.post("", response_model=SubscriptionCreated, status_code=201)
def create_subscription(data: SubscriptionIn, ctx: Context = Depends(permission(WEBHOOKS_MANAGE))
                        ) -> SubscriptionCreated:
    """Subscribe a URL to event types; the answer holds the signing secret once."""
    sub, secret = webhooks.create_subscription(ctx, data.url, data.event_types, description=data.description)
    return SubscriptionCreated.model_validate({**SubscriptionOut.model_validate(sub).model_dump(), "secret": secret})


@router.patch("/{subscription_id}", response_model=SubscriptionOut)
def update_subscription(subscription_id: str, data: SubscriptionPatch,
                        ctx: Context = Depends(permission(WEBHOOKS_MANAGE))) -> SubscriptionOut:
    """Change the URL (checked as at creation), the event types or the description."""
    sub = webhooks.update_subscription(ctx, parse_id(subscription_id, "subscription"), url=data.url,
                                       event_types=data.event_types, description=data.description)
    return SubscriptionOut.model_validate(sub)


@router.post("/{subscription_id}/pause", response_model=SubscriptionOut)
def pause(subscription_id: str, ctx: Context = Depends(permission(WEBHOOKS_MANAGE))) -> SubscriptionOut:
    return SubscriptionOut.model_validate(webhooks.set_active(ctx, parse_id(subscription_id, "subscription"), False))


@router.post("/{subscription_id}/resume", response_model=SubscriptionOut)
def resume(subscription_id: str, ctx: Context = Depends(permission(WEBHOOKS_MANAGE))) -> SubscriptionOut:
    return SubscriptionOut.model_validate(webhooks.set_active(ctx, parse_id(subscription_id, "subscription"), True))


@router.post("/{subscription_id}/rotate-secret", response_model=SubscriptionCreated)
def rotate_secret(subscription_id: str, ctx: Context = Depends(permission(WEBHOOKS_MANAGE))) -> SubscriptionCreated:
    """A new signing secret, shown once; the previous one keeps signing beside it for 24 hours."""
    sub, secret = webhooks.rotate_secret(ctx, parse_id(subscription_id, "subscription"))
    return SubscriptionCreated.model_validate({**SubscriptionOut.model_validate(sub).model_dump(), "secret": secret})


@router.get("/{subscription_id}/deliveries", response_model=list[DeliveryOut])
def deliveries(subscription_id: str, ctx: Context = Depends(permission(WEBHOOKS_MANAGE)),
               page: Pager = PAGED) -> list[DeliveryOut]:
    """The delivery log, newest first (status pending, delivered or dead; attempts; last answer)."""
    # Paged in SQL: the log grows without bound, and an old delivery retried or replayed today must
    # reach a sync by `updated_since` however many newer ones there are.
    if page.after is not None and not isinstance(page.after[0], datetime):
        raise ValidationProblem("cursor: not a position in this list (issued before decision 48)", field="cursor")
    rows = webhooks.list_deliveries(ctx, parse_id(subscription_id, "subscription"), limit=page.limit + 1,
                                    after=page.after, updated_since=page.updated_since)
    return page.sql([DeliveryOut.model_validate(d) for d in rows], key=lambda d: (d.created_at, d.id))


@router.post("/deliveries/{delivery_id}/replay", response_model=DeliveryOut)
def replay(delivery_id: str, ctx: Context = Depends(permission(WEBHOOKS_MANAGE))) -> DeliveryOut:
    return DeliveryOut.model_validate(webhooks.replay(ctx, parse_id(delivery_id, "delivery")))
