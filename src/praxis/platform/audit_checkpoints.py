"""Signed checkpoints of the audit chains, kept outside the database.

A checkpoint is one JSON line: an organisation's chain at a moment (last sequence number, its
hash, the first keyed sequence number, the newest sealed record's time), signed with the key
ring's audit key (HMAC-SHA256). Lines are only ever appended (O_APPEND, fsync) to a file that is
not in the database (`PRAXIS_AUDIT_CHECKPOINT_FILE`, var/audit/checkpoints.jsonl by default), so
someone who can rewrite the database cannot rewrite what the checkpoints saw: `praxis audit
verify` compares the chain with every checkpoint of its organisation.
"""

from __future__ import annotations

import hmac
import json
import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from praxis.platform import crypto
from praxis.platform.settings import get_settings

VERSION = 1


@dataclass(frozen=True)
class Checkpoint:
    org_id: uuid.UUID
    seq: int
    hash: str
    keyed_from: int
    sealed_through: datetime | None
    at: datetime

    def body(self) -> dict[str, Any]:
        return {"v": VERSION, "org_id": str(self.org_id), "seq": self.seq, "hash": self.hash,
                "keyed_from": self.keyed_from,
                "sealed_through": self.sealed_through.isoformat() if self.sealed_through else None,
                "at": self.at.isoformat()}


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def path() -> Path:
    return get_settings().resolved_audit_checkpoint_file()


def append(checkpoint: Checkpoint, file: Path | None = None) -> None:
    """Append one signed line and fsync it: a checkpoint the sealer reported is on disk."""
    file = file or path()
    file.parent.mkdir(parents=True, exist_ok=True)
    body = checkpoint.body()
    line = json.dumps({**body, "sig": crypto.keyring().audit_mac("checkpoint", _canonical(body))},
                      sort_keys=True, separators=(",", ":")) + "\n"
    fd = os.open(file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())  # one write of one line: appends from processes never interleave
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class Read:
    checkpoints: list[Checkpoint]
    bad_lines: list[tuple[int, str]]  # (line number, why): forged, edited or truncated lines


def read(org_id: uuid.UUID | None = None, file: Path | None = None) -> Read:
    """Every checkpoint in the file whose signature holds (of one organisation, or all)."""
    file = file or path()
    out = Read([], [])
    if not file.exists():
        return out
    ring = crypto.keyring()
    with file.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                data = json.loads(raw)
                sig = data.pop("sig")
                if not isinstance(sig, str) or not hmac.compare_digest(
                        ring.audit_mac("checkpoint", _canonical(data)), sig):
                    out.bad_lines.append((number, "signature does not match (forged or edited)"))
                    continue
                cp = Checkpoint(uuid.UUID(data["org_id"]), int(data["seq"]), str(data["hash"]),
                                int(data["keyed_from"]),
                                datetime.fromisoformat(data["sealed_through"]) if data["sealed_through"] else None,
                                datetime.fromisoformat(data["at"]))
            except (ValueError, KeyError, TypeError, AttributeError):
                out.bad_lines.append((number, "not a checkpoint line (edited or truncated)"))
                continue
            if org_id is None or cp.org_id == org_id:
                out.checkpoints.append(cp)
    return out
