"""Uploaded import files kept between the import screen's round trips (upload, map, dry run, apply).

A file is stored encrypted (AES-GCM, bound to the organisation and its token) under
`<var_dir>/import-uploads/<org_id>/<token>`, outside the web root, and found again by its token.
Files older than UPLOAD_TTL_SECONDS are gone: swept when the next file is kept, and refused when
asked for. `importer` exposes these functions; the screen calls them through the thread pool.
"""

from __future__ import annotations

import base64
import io
import json
import re
import secrets
import tempfile
import time
import uuid
from pathlib import Path
from typing import BinaryIO

from praxis.patients.permissions import PATIENTS_IMPORT
from praxis.platform import crypto
from praxis.platform.context import Context
from praxis.platform.errors import Forbidden
from praxis.platform.settings import get_settings

UPLOAD_TTL_SECONDS = 6 * 3600
# The permissions whose holders may keep and read import files: the patient import's, and those
# other domains' imports add (import_jobs.register_kind), e.g. care:enrol for the care import.
UPLOAD_PERMISSIONS: set[str] = {PATIENTS_IMPORT}
_TOKEN = re.compile(r"[0-9a-f]{32}")


def _folder(org_id: uuid.UUID) -> Path:
    return get_settings().var_dir / "import-uploads" / str(org_id)


def _require(ctx: Context) -> None:
    if not any(ctx.has(p) for p in UPLOAD_PERMISSIONS):
        raise Forbidden(f"Permission {PATIENTS_IMPORT} required")


def _path(ctx: Context, token: str) -> Path | None:
    """The file of a well-formed token (None for anything else: no path is built from it)."""
    _require(ctx)
    if not _TOKEN.fullmatch(token):
        return None
    return _folder(ctx.org_id) / token


def _aad(ctx: Context, token: str) -> bytes:
    return f"{ctx.org_id}:{token}".encode()


CHUNK = 1024 * 1024


def stash_upload(ctx: Context, filename: str, data: bytes | BinaryIO) -> str:
    """Keep an uploaded import file (encrypted) for the mapping round trips and the worker; returns
    its token. The file is read and encrypted 1 MB at a time (each chunk sealed with its position,
    the last one marked, so chunks cannot be reordered, dropped or cut off unnoticed); memory does
    not grow with the file. Expired files of the organisation are swept on the way."""
    _require(ctx)
    folder = _folder(ctx.org_id)
    folder.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - UPLOAD_TTL_SECONDS
    for old in folder.iterdir():
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    token = secrets.token_hex(16)
    source: BinaryIO = io.BytesIO(data) if isinstance(data, bytes) else data
    source.seek(0)
    ring = crypto.keyring()
    aad = _aad(ctx, token)
    with (folder / token).open("w") as out:
        out.write(ring.encrypt(json.dumps({"filename": filename}), aad=aad + b":head") + "\n")
        index = 0
        chunk = source.read(CHUNK)
        while True:
            following = source.read(CHUNK) if chunk else b""
            last = b"1" if not following else b"0"
            out.write(ring.encrypt(base64.b64encode(chunk).decode(), aad=aad + b":%d:" % index + last) + "\n")
            if not following:
                break
            chunk, index = following, index + 1
    source.seek(0)
    return token


def open_upload(ctx: Context, token: str) -> tuple[str, BinaryIO] | None:
    """(filename, file) of a kept file, decrypted into a temporary file that spills to disk past
    1 MB; None when the token is unknown, malformed, expired or the file was tampered with."""
    path = _path(ctx, token)
    if path is None or not path.is_file() or path.stat().st_mtime < time.time() - UPLOAD_TTL_SECONDS:
        return None
    ring = crypto.keyring()
    aad = _aad(ctx, token)
    out = tempfile.SpooledTemporaryFile(max_size=CHUNK)  # noqa: SIM115 (handed to the caller)
    try:
        with path.open() as lines:
            filename = str(json.loads(ring.decrypt(next(lines).strip(), aad=aad + b":head"))["filename"])
            complete = False
            for index, line in enumerate(lines):
                if complete:
                    raise ValueError("data after the last chunk")
                try:
                    chunk = ring.decrypt(line.strip(), aad=aad + b":%d:0" % index)
                except Exception:
                    chunk = ring.decrypt(line.strip(), aad=aad + b":%d:1" % index)
                    complete = True
                out.write(base64.b64decode(chunk))
            if not complete:
                raise ValueError("the file was cut short")
    except Exception:  # a tampered, truncated, expired-key or foreign file is simply gone
        out.close()
        return None
    out.seek(0)
    return filename, out  # type: ignore[return-value]


def load_upload(ctx: Context, token: str) -> tuple[str, bytes] | None:
    """(filename, bytes) of a kept file; None when the token is unknown, malformed or expired."""
    opened = open_upload(ctx, token)
    if opened is None:
        return None
    filename, f = opened
    with f:
        return filename, f.read()


def discard_upload(ctx: Context, token: str) -> None:
    """Delete a kept file once it is not needed any more (an applied import); unknown tokens pass."""
    path = _path(ctx, token)
    if path is not None:
        path.unlink(missing_ok=True)


__all__ = ["UPLOAD_TTL_SECONDS", "discard_upload", "load_upload", "open_upload", "stash_upload"]
