"""Uploaded import files kept between the import screen's round trips (upload, map, dry run, apply).

A file is stored encrypted (AES-GCM, bound to the organisation and its token) under
`<var_dir>/import-uploads/<org_id>/<token>`, outside the web root, and found again by its token.
Files older than UPLOAD_TTL_SECONDS are gone: swept when the next file is kept, and refused when
asked for. `importer` exposes these functions; the screen calls them through the thread pool.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
import uuid
from pathlib import Path

from praxis.patients.permissions import PATIENTS_IMPORT
from praxis.platform import crypto
from praxis.platform.context import Context
from praxis.platform.errors import Forbidden
from praxis.platform.settings import get_settings

UPLOAD_TTL_SECONDS = 6 * 3600
_TOKEN = re.compile(r"[0-9a-f]{32}")


def _folder(org_id: uuid.UUID) -> Path:
    return get_settings().var_dir / "import-uploads" / str(org_id)


def _require(ctx: Context) -> None:
    if not ctx.has(PATIENTS_IMPORT):
        raise Forbidden(f"Permission {PATIENTS_IMPORT} required")


def _path(ctx: Context, token: str) -> Path | None:
    """The file of a well-formed token (None for anything else: no path is built from it)."""
    _require(ctx)
    if not _TOKEN.fullmatch(token):
        return None
    return _folder(ctx.org_id) / token


def _aad(ctx: Context, token: str) -> bytes:
    return f"{ctx.org_id}:{token}".encode()


def stash_upload(ctx: Context, filename: str, data: bytes) -> str:
    """Keep an uploaded import file (encrypted) for the mapping round trips; returns its token.
    Expired files of the organisation are swept on the way."""
    _require(ctx)
    folder = _folder(ctx.org_id)
    folder.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - UPLOAD_TTL_SECONDS
    for old in folder.iterdir():
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    token = secrets.token_hex(16)
    blob = json.dumps({"filename": filename, "data": base64.b64encode(data).decode()})
    (folder / token).write_text(crypto.keyring().encrypt(blob, aad=_aad(ctx, token)))
    return token


def load_upload(ctx: Context, token: str) -> tuple[str, bytes] | None:
    """(filename, bytes) of a kept file; None when the token is unknown, malformed or expired."""
    path = _path(ctx, token)
    if path is None or not path.is_file() or path.stat().st_mtime < time.time() - UPLOAD_TTL_SECONDS:
        return None
    try:
        blob = json.loads(crypto.keyring().decrypt(path.read_text(), aad=_aad(ctx, token)))
    except Exception:  # a tampered, expired-key or foreign file is simply gone
        return None
    return str(blob["filename"]), base64.b64decode(blob["data"])


def discard_upload(ctx: Context, token: str) -> None:
    """Delete a kept file once it is not needed any more (an applied import); unknown tokens pass."""
    path = _path(ctx, token)
    if path is not None:
        path.unlink(missing_ok=True)


__all__ = ["UPLOAD_TTL_SECONDS", "discard_upload", "load_upload", "stash_upload"]
