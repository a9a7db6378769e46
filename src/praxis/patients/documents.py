"""Patient documents (insurance card images, signed forms): sniffed, size-limited, stored by hash.

Bytes live under `<var_dir>/documents/<org_id>/<sha256>`, outside the web root, and are served
only through an authorised, audited endpoint. The type is decided by the file's first bytes,
never by its name or the browser's claimed content type.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from praxis.patients.access import load_patient
from praxis.patients.models import Coverage, Document, Patient
from praxis.patients.permissions import DOCUMENTS_READ, DOCUMENTS_WRITE
from praxis.patients.schemas import DocumentOut
from praxis.platform import audit
from praxis.platform.context import Context
from praxis.platform.errors import NotFound, ProblemError, ValidationProblem
from praxis.platform.settings import get_settings
from praxis.platform.uow import unit_of_work

KINDS = ("card_front", "card_back", "consent", "id", "other")


class DocumentSettings(BaseSettings):
    """`PRAXIS_DOCUMENT_MAX_BYTES` caps one upload (default 10 MB)."""

    model_config = SettingsConfigDict(env_prefix="PRAXIS_", env_file=".env", extra="ignore")

    document_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)


@lru_cache
def document_settings() -> DocumentSettings:
    """Read once per process, like platform settings; `document_settings.cache_clear()` re-reads."""
    return DocumentSettings()


def max_bytes() -> int:
    return document_settings().document_max_bytes


class PayloadTooLarge(ProblemError):
    status = 413
    type = "payload-too-large"
    title = "File too large"


class UnsupportedType(ProblemError):
    status = 415
    type = "unsupported-media-type"
    title = "Unsupported file type"


def sniff(data: bytes) -> str | None:
    """The content type by magic bytes: PNG, JPEG or PDF; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def check_file(data: bytes) -> str:
    """Validate size and type; returns the sniffed content type."""
    limit = max_bytes()
    if len(data) > limit:
        raise PayloadTooLarge(f"The file is larger than the {limit // (1024 * 1024)} MB limit", field="file")
    if not data:
        raise ValidationProblem("The file is empty", field="file")
    ctype = sniff(data)
    if ctype is None:
        raise UnsupportedType("Only PNG, JPEG and PDF files are accepted", field="file")
    return ctype


def storage_root() -> Path:
    return get_settings().var_dir / "documents"


def _path(org_id: uuid.UUID, sha: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise NotFound("No such document")
    return storage_root() / str(org_id) / sha


def _write(org_id: uuid.UUID, data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    path = _path(org_id, sha)
    if not path.exists():  # content-addressed: the same bytes are stored once
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{sha}.{uuid.uuid4().hex}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    return sha


def _clean_filename(name: str | None) -> str:
    base = os.path.basename((name or "").replace("\\", "/"))
    return re.sub(r"[^A-Za-z0-9._ -]", "_", base)[:200]


def store_in(
    session: Session,
    ctx: Context,
    patient_id: uuid.UUID,
    data: bytes,
    *,
    kind: str,
    filename: str | None = None,
    coverage_id: uuid.UUID | None = None,
    source: str = "upload",
    source_id: uuid.UUID | None = None,
) -> Document:
    """Store a document in the caller's unit of work (intake uses this for card images)."""
    if kind not in KINDS:
        raise ValidationProblem(f"kind must be one of {', '.join(KINDS)}", field="kind")
    ctype = check_file(data)
    if coverage_id is not None:
        cov = session.scalars(select(Coverage).where(Coverage.id == coverage_id)).first()
        if cov is None or cov.patient_id != patient_id:
            raise ValidationProblem("No such coverage for this patient", field="coverage_id")
    sha = _write(ctx.org_id, data)
    doc = Document(
        org_id=ctx.org_id,
        patient_id=patient_id,
        kind=kind,
        filename=_clean_filename(filename),
        content_type=ctype,
        size=len(data),
        sha256=sha,
        coverage_id=coverage_id,
        source=source,
        source_id=source_id,
        uploaded_by=ctx.actor_id,
    )
    session.add(doc)
    session.flush()
    audit.record(
        session,
        ctx,
        "document.create",
        "document",
        doc.id,
        patient_id=patient_id,
        detail={"kind": kind, "size": len(data), "type": ctype},
    )
    return doc


def upload_document(
    ctx: Context,
    patient_id: uuid.UUID,
    data: bytes,
    *,
    kind: str,
    filename: str | None = None,
    coverage_id: uuid.UUID | None = None,
) -> DocumentOut:
    """Upload a card image or signed form for a patient (PNG/JPEG/PDF, size-limited)."""
    # Check the bytes before touching the database: a bad file changes nothing.
    check_file(data)
    with unit_of_work(ctx) as session:
        patient = load_patient(session, ctx, patient_id, DOCUMENTS_WRITE)
        doc = store_in(session, ctx, patient.id, data, kind=kind, filename=filename, coverage_id=coverage_id)
        return DocumentOut.model_validate(doc)


def list_documents(ctx: Context, patient_id: uuid.UUID) -> list[DocumentOut]:
    """A patient's documents, newest first (metadata only)."""
    with unit_of_work(ctx) as session:
        return documents_in(session, ctx, load_patient(session, ctx, patient_id, DOCUMENTS_READ))


def documents_in(session: Session, ctx: Context, patient: Patient) -> list[DocumentOut]:
    """`list_documents` for a patient the caller loaded with documents:read, audited, in its unit
    of work."""
    rows = session.scalars(
        select(Document).where(Document.patient_id == patient.id).order_by(Document.created_at.desc())
    )
    audit.record(session, ctx, "document.list", "patient", patient.id, patient_id=patient.id)
    return [DocumentOut.model_validate(d) for d in rows]


@dataclass
class DocumentContent:
    meta: DocumentOut
    data: bytes


def read_document(ctx: Context, patient_id: uuid.UUID, document_id: uuid.UUID) -> DocumentContent:
    """The bytes of one document, audited. The patient id must match (no guessing across records)."""
    with unit_of_work(ctx) as session:
        patient = load_patient(session, ctx, patient_id, DOCUMENTS_READ)
        doc = session.scalars(
            select(Document).where(Document.id == document_id, Document.patient_id == patient.id)
        ).first()
        if doc is None:
            raise NotFound("No such document")
        path = _path(ctx.org_id, doc.sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFound("The document's file is missing from storage") from None
        audit.record(session, ctx, "document.read", "document", doc.id, patient_id=patient.id)
        return DocumentContent(DocumentOut.model_validate(doc), data)
