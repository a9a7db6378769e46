"""The patient page reads its patient, coverages, payers, documents and merge history in one go:
its statement count does not grow with the merges, and every disclosure is still audited."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from praxis.patients import documents, merge
from praxis.platform.audit import AuditRecord
from praxis.platform.context import system_context
from praxis.platform.db import session_scope
from tests.integration.patients.helpers import cover, ensure_routes, payer, register, staff
from tests.integration.patients.test_registry import _restrict
from tests.sqlcount import statements

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def web(app):
    return ensure_routes(app)


def _statements(client: Any, url: str) -> int:
    with statements() as seen:
        r = client.get(url)
    assert r.status_code == 200, r.text
    return len(seen)


def _audit_ids(org_id: Any, actor_id: Any) -> set[Any]:
    with session_scope(org_id) as s:
        return set(s.scalars(select(AuditRecord.id).where(AuditRecord.actor_id == actor_id)))


def _new_audit(org_id: Any, actor_id: Any, before: set[Any]) -> list[tuple[str, str | None, Any]]:
    with session_scope(org_id) as s:
        rows = s.scalars(select(AuditRecord).where(AuditRecord.actor_id == actor_id)).all()
        return sorted((r.action, r.resource_id, r.patient_id) for r in rows if r.id not in before)


def test_page_statements_do_not_grow_with_merges_and_reads_are_audited(web, org, make_user, login):
    ctx = system_context(org.id)
    keep = register(ctx, "Maria", "Lopez", date(1970, 1, 2), location_id=org.loc_a.id)
    cover(ctx, keep.id, payer(ctx, "PAGE1").id)
    documents.upload_document(ctx, keep.id, PNG, kind="card_front", filename="card.png")
    dupes = [register(ctx, "María", f"López{i}", date(1970, 1, 2), location_id=org.loc_b.id) for i in range(3)]
    merge.merge_patients(ctx, keep.id, dupes[0].id, "same person")

    admin = make_user(org, "org_admin")
    c = staff(login, admin)
    c.headers["accept"] = "text/html"
    url = f"/patients/{keep.id}"
    c.get(url)  # warm caches (templates, settings) so both counts measure the same work
    one_merge = _statements(c, url)
    for d in dupes[1:]:
        merge.merge_patients(ctx, keep.id, d.id, "same person")
    three_merges = _statements(c, url)
    assert three_merges == one_merge, (one_merge, three_merges)

    before = _audit_ids(org.id, admin.user_id)
    page = c.get(url)
    assert "Lopez, Maria" in page.text and "Aetna" in page.text and "card.png" in page.text
    for d in dupes:
        assert f"{d.last_name}, {d.first_name} (MRN {d.mrn})" in page.text
        assert f'href="/patients/{d.id}"' in page.text
    # The audit records the separate reads wrote: the patient, its coverages, documents and
    # merge history, and each record on the other side of a merge that the page names.
    assert _new_audit(org.id, admin.user_id, before) == sorted(
        [
            ("patient.read", str(keep.id), keep.id),
            ("coverage.list", str(keep.id), keep.id),
            ("document.list", str(keep.id), keep.id),
            ("patient.merges.read", str(keep.id), keep.id),
        ]
        + [("patient.read", str(d.id), d.id) for d in dupes]
    )


def test_merged_record_out_of_scope_is_named_but_not_read(web, org, make_user, login):
    ctx = system_context(org.id)
    keep = register(ctx, "Ines", "Ortega", date(1965, 7, 8), location_id=org.loc_a.id)
    dupe = register(ctx, "Inés", "Ortega", date(1965, 7, 8), location_id=org.loc_b.id)
    merge.merge_patients(ctx, keep.id, dupe.id, "same person")  # the merged record keeps no location
    _restrict(org.id)
    manager = make_user(org, "location_manager", org.loc_a)
    c = staff(login, manager)
    c.headers["accept"] = "text/html"
    before = _audit_ids(org.id, manager.user_id)
    page = c.get(f"/patients/{keep.id}")
    assert page.status_code == 200
    assert "a record you cannot see" in page.text and dupe.mrn not in page.text
    assert _new_audit(org.id, manager.user_id, before) == sorted(
        (action, str(keep.id), keep.id)
        for action in ("patient.read", "coverage.list", "document.list", "patient.merges.read")
    )
    # The merged record's own page is not found for this user, like any patient out of scope.
    assert c.get(f"/patients/{dupe.id}").status_code == 404
