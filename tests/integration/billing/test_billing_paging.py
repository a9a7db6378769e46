"""Encounters and claims page in SQL by keyset (decision 40): a walk sees each once, in the list's
order (encounters newest date first, claims by date and number), and updated_since filters."""

from __future__ import annotations

from datetime import timedelta

from praxis.billing import claims
from praxis.platform import clock
from tests.integration.billing.helpers import make_billing_world
from tests.integration.platform.test_paging import _walk


def test_encounters_and_claims_walk_by_keyset(org, bearer):
    world = make_billing_world(org)
    made = []
    for i in range(7):  # several on one date: the id breaks the tie
        pid, _ = world.patient()
        made.append(world.encounter(pid, days_ago=3 + i % 3))
    built = [c for e in made for c in claims.build_claims(world.ctx, e.id)]
    bot = bearer(org, ["billing:read", "billing:charge"])
    pages = _walk(bot, "/api/v1/billing/encounters", {"limit": 3})
    rows = [r for p in pages for r in p]
    assert [len(p) for p in pages] == [3, 3, 1]
    assert sorted(r["id"] for r in rows) == sorted(str(e.id) for e in made)
    dates = [r["date_of_service"] for r in rows]
    assert dates == sorted(dates, reverse=True)
    pages = _walk(bot, "/api/v1/billing/claims", {"limit": 2})
    rows = [r for p in pages for r in p]
    assert sorted(r["id"] for r in rows) == sorted(str(c.id) for c in built)
    assert [(r["date_of_service"], r["claim_number"]) for r in rows] == sorted(
        (r["date_of_service"], r["claim_number"]) for r in rows)
    # updated_since: only what was written after the mark.
    clock.advance(timedelta(seconds=1))
    later = clock.now().isoformat()
    assert bot.get("/api/v1/billing/claims", params={"updated_since": later}).json() == []
    clock.advance(timedelta(seconds=1))
    pid, _ = world.patient()
    fresh = world.encounter(pid)
    rows = bot.get("/api/v1/billing/encounters", params={"updated_since": later}).json()
    assert [r["id"] for r in rows] == [str(fresh.id)] and rows[0]["updated_at"] >= later
