"""Scrubber rule sets per organisation (payer None) and per payer: stored documents, checked by
`scrubber.check_rule_set` before they are saved."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from praxis.billing import scrubber
from praxis.billing.models import ScrubRuleSet
from praxis.billing.permissions import BILLING_MANAGE, BILLING_READ
from praxis.billing.schemas import RuleSetIn, RuleSetOut
from praxis.patients.models import Payer
from praxis.platform import audit
from praxis.platform.context import Context
from praxis.platform.db import get_or_404
from praxis.platform.errors import Forbidden, ValidationProblem
from praxis.platform.uow import unit_of_work


def save_rule_set(ctx: Context, data: RuleSetIn) -> RuleSetOut:
    """Create or replace the rule set of the organisation (payer_id None) or of one payer."""
    ctx.require(BILLING_MANAGE)
    problems = scrubber.check_rule_set(data.rules)
    if problems:
        raise ValidationProblem(problems[0], field=problems[0].split(":", 1)[0],
                                errors=[{"field": p.split(":", 1)[0], "message": p} for p in problems])
    with unit_of_work(ctx) as session:
        if data.payer_id is not None:
            get_or_404(session, Payer, data.payer_id, "payer")
        stmt = select(ScrubRuleSet).where(ScrubRuleSet.active)
        stmt = stmt.where(ScrubRuleSet.payer_id == data.payer_id) if data.payer_id \
            else stmt.where(ScrubRuleSet.payer_id.is_(None))
        rs = session.scalars(stmt).first()
        if rs is None:
            rs = ScrubRuleSet(org_id=ctx.org_id, name=data.name, payer_id=data.payer_id, rules=data.rules)
            session.add(rs)
        else:
            rs.name, rs.rules = data.name, data.rules
        session.flush()
        audit.record(session, ctx, "scrub_rule_set.save", "scrub_rule_set", rs.id,
                     detail={"rules": [r.get("rule") for r in data.rules]})
        return RuleSetOut.model_validate(rs)


def list_rule_sets(ctx: Context) -> list[RuleSetOut]:
    if not ctx.has(BILLING_READ) and not ctx.has(BILLING_MANAGE):
        raise Forbidden(f"Permission {BILLING_READ} required")
    with unit_of_work(ctx) as session:
        return [RuleSetOut.model_validate(r) for r in session.scalars(select(ScrubRuleSet).order_by(ScrubRuleSet.name))]


def get_rule_set(ctx: Context, rule_set_id: uuid.UUID) -> RuleSetOut:
    if not ctx.has(BILLING_READ) and not ctx.has(BILLING_MANAGE):
        raise Forbidden(f"Permission {BILLING_READ} required")
    with unit_of_work(ctx) as session:
        return RuleSetOut.model_validate(get_or_404(session, ScrubRuleSet, rule_set_id, "rule set"))
