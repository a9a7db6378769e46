"""`praxis seed`/`praxis demo` give billing something to show: coverages, encounters for past
checked-out visits, and claims through the statuses, with real batches and acknowledgements."""

from __future__ import annotations

import secrets
from pathlib import Path

from sqlalchemy import select

from praxis.billing import reference
from praxis.billing.models import ClaimBatch
from praxis.platform.context import system_context
from praxis.platform.db import session_scope
from praxis.seed import SCALES, Scale, generate
from tests.unit.formats.pyx12_judge import pyx12_errors


def test_seed_creates_claims_in_the_statuses_and_valid_files(db, monkeypatch):
    monkeypatch.setitem(SCALES, "billing-tiny", Scale(2, 3, 2, 80, 9, 1))
    info = generate(db, "billing-tiny", 5, slug=f"seed-bill-{secrets.token_hex(4)}", name="Seed Billing")
    billing = info["billing"]
    assert billing["coverages"] >= 60 and billing["encounters"] > 20
    statuses = billing["claims"]
    for status in ("ready", "submitted", "accepted", "rejected", "paid", "denied", "corrected", "void"):
        assert statuses.get(status), (status, statuses)
    ctx = system_context(info["org_id"], "test")
    folders = {c.id: Path(c.outbound_dir) for c in reference.list_connections(ctx)}
    with session_scope(info["org_id"]) as s:
        batches = list(s.scalars(select(ClaimBatch)))
    assert len(batches) >= 3
    for b in batches:
        ok, errors = pyx12_errors((folders[b.connection_id] / b.file_name).read_text())
        assert ok and not errors, (b.file_name, errors)
