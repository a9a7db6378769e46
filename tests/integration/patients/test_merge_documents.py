"""Merge/unmerge moves exactly the registered references; documents are sniffed and limited."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from praxis.intake import links
from praxis.intake import service as intake
from praxis.intake.definition import default_definition
from praxis.intake.models import IntakeSubmission
from praxis.intake.schemas import WorkflowIn
from praxis.patients import coverage, documents, merge, service
from praxis.patients.models import Document, PatientLocation
from praxis.platform import audit, outbox
from praxis.platform.context import system_context
from praxis.platform.db import session_scope
from praxis.platform.errors import NotFound
from tests.integration.patients.helpers import cover, payer, register

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_unmerge_from_a_patient_needs_a_merge_of_that_patient(org):
    ctx = system_context(org.id)
    keep = register(ctx, "Pia", "Pair", date(1971, 3, 3), location_id=org.loc_a.id)
    dupe = register(ctx, "Pía", "Pair", date(1971, 3, 3), location_id=org.loc_a.id)
    stranger = register(ctx, "Sol", "Stranger", date(1980, 8, 8), location_id=org.loc_a.id)
    done = merge.merge_patients(ctx, keep.id, dupe.id, "same person")
    with pytest.raises(NotFound) as exc:
        merge.unmerge(ctx, done.id, "wrong page", patient_id=stranger.id)
    assert exc.value.field == "merge_id"
    assert service.get_patient(ctx, dupe.id).status == "merged"  # nothing undone
    assert merge.unmerge(ctx, done.id, "from the merged record's page", patient_id=dupe.id).status == "unmerged"


def test_merge_moves_every_reference_and_unmerge_restores(org):
    ctx = system_context(org.id)
    keep = register(ctx, "Maria", "Lopez", date(1970, 1, 2), location_id=org.loc_a.id)
    dupe = register(ctx, "María", "López", date(1970, 1, 2), location_id=org.loc_b.id)
    py = payer(ctx, "MERGE1")
    cov = cover(ctx, dupe.id, py.id, "DUPE1", 2)
    doc = documents.upload_document(ctx, dupe.id, PNG, kind="card_front", filename="card.png")
    intake.create_workflow(ctx, WorkflowIn(name="Default", definition=default_definition()))
    sub = intake.start_intake(ctx, dupe.id, org.loc_b.id)

    result = merge.merge_patients(ctx, keep.id, dupe.id, "same person, typo at registration")
    assert set(result.moved["coverages.patient_id"]) == {str(cov.id)}
    assert set(result.moved["patient_documents.patient_id"]) == {str(doc.id)}
    assert set(result.moved["intake_submissions.patient_id"]) == {str(sub.id)}
    assert "patient_locations.patient_id" in result.moved
    assert [c.id for c in coverage.list_coverages(ctx, keep.id)] == [cov.id]
    # The merged MRN finds the survivor; search no longer lists the merged record.
    assert service.get_patient_by_mrn(ctx, dupe.mrn).id == keep.id
    assert [p.id for p in service.find_patients(ctx, q="lopez")] == [keep.id]
    assert set(service.get_patient(ctx, keep.id).location_ids) == {org.loc_a.id, org.loc_b.id}
    with session_scope(org.id) as s:
        acts = [(r.action, r.patient_id) for r in audit.list_records(s, limit=500) if r.action == "patient.merge"]
        assert {pid for _, pid in acts} == {keep.id, dupe.id}
        topics = [m.topic for m in s.scalars(select(outbox.OutboxMessage).where(
            outbox.OutboxMessage.org_id == org.id))]
        assert "patient.merged" in topics

    # A coverage added to the survivor after the merge stays with the survivor on unmerge.
    later = cover(ctx, keep.id, py.id, "LATER", 1)
    merge.unmerge(ctx, result.id, "they are twins")
    assert {c.id for c in coverage.list_coverages(ctx, dupe.id)} == {cov.id}
    assert {c.id for c in coverage.list_coverages(ctx, keep.id)} == {later.id}
    assert service.get_patient(ctx, dupe.id).status == "active"
    assert service.get_patient(ctx, dupe.id).location_ids == [org.loc_b.id]
    with session_scope(org.id) as s:
        assert s.scalars(select(IntakeSubmission.patient_id).where(IntakeSubmission.id == sub.id)).one() == dupe.id
        assert s.scalars(select(Document.patient_id).where(Document.id == doc.id)).one() == dupe.id
    assert service.get_patient_by_mrn(ctx, dupe.mrn).id == dupe.id


def test_merge_with_shared_location_dedupes_links(org):
    ctx = system_context(org.id)
    a = register(ctx, "One", "Same", location_id=org.loc_a.id)
    b = register(ctx, "Two", "Same", location_id=org.loc_a.id)
    rec = merge.merge_patients(ctx, a.id, b.id, "dup")
    with session_scope(org.id) as s:
        n = s.scalar(select(func.count()).select_from(PatientLocation).where(PatientLocation.patient_id == a.id))
    assert n == 1
    merge.unmerge(ctx, rec.id, "undo")
    assert service.get_patient(ctx, b.id).location_ids == [org.loc_a.id]


def test_upload_sniffs_type_and_limits_size(org):
    ctx = system_context(org.id)
    p = register(ctx, location_id=org.loc_a.id)
    out = documents.upload_document(ctx, p.id, b"%PDF-1.7\n...", kind="consent", filename="../../etc/passwd.pdf")
    assert out.content_type == "application/pdf" and out.filename == "passwd.pdf"
    content = documents.read_document(ctx, p.id, out.id)
    assert content.data.startswith(b"%PDF")
    with pytest.raises(documents.UnsupportedType):
        documents.upload_document(ctx, p.id, b"<html><script>", kind="other", filename="x.png")
    with pytest.raises(documents.PayloadTooLarge):
        documents.upload_document(ctx, p.id, PNG + b"\x00" * (50 * 1024 * 1024), kind="card_front")
    assert [d.id for d in documents.list_documents(ctx, p.id)] == [out.id]
    other = register(ctx, "Other", "Person", location_id=org.loc_a.id)
    with pytest.raises(NotFound):  # a document is only reachable through its own patient
        documents.read_document(ctx, other.id, out.id)
    with session_scope(org.id) as s:
        assert "document.read" in [r.action for r in audit.list_records(s, patient_id=p.id)]


def test_links_follow_merge(org):
    ctx = system_context(org.id)
    intake.create_workflow(ctx, WorkflowIn(name="Default", definition=default_definition()))
    a = register(ctx, "Link", "Keeper", location_id=org.loc_a.id)
    b = register(ctx, "Link", "Dupe", location_id=org.loc_a.id)
    link = links.send_intake_link(ctx, b.id, org.loc_a.id)
    merge.merge_patients(ctx, a.id, b.id, "dup")
    view = links.view_link(link.token, "127.0.0.1")
    assert view.status == "open"
