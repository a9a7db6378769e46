"""Field encryption (AES-256-GCM with key ids) and an HMAC blind index for exact search.

Ciphertext format: `v1:<kid>:<base64url(nonce || ciphertext+tag)>`. Old keys stay in the
ring for decryption, so `praxis keys rotate` can add a key, make it active and re-encrypt
rows in small batches while the app keeps serving.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class KeyRingError(RuntimeError):
    pass


def _b64e(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def _b64d(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


@dataclass
class KeyRing:
    keys: dict[str, bytes]
    active: str
    index_key: bytes
    secret_key: bytes = field(default=b"")  # signs links and ICS URLs
    # Keys the audit chain's links and signs its checkpoints; never stored in the database, so
    # whoever can only write the database cannot forge a link. Rings written before it existed
    # derive it from their secret key (the same on every process reading that file).
    audit_key: bytes = field(default=b"")

    def encrypt(self, plaintext: str, aad: bytes = b"") -> str:
        nonce = os.urandom(12)
        ct = AESGCM(self.keys[self.active]).encrypt(nonce, plaintext.encode(), aad)
        return f"v1:{self.active}:{_b64e(nonce + ct)}"

    def decrypt(self, token: str, aad: bytes = b"") -> str:
        try:
            version, kid, body = token.split(":", 2)
        except ValueError:
            raise KeyRingError("malformed ciphertext") from None
        if version != "v1" or kid not in self.keys:
            raise KeyRingError(f"unknown key id {kid!r}")
        raw = _b64d(body)
        return AESGCM(self.keys[kid]).decrypt(raw[:12], raw[12:], aad).decode()

    def key_id_of(self, token: str) -> str:
        return token.split(":", 2)[1]

    def blind_index(self, value: str, purpose: str) -> str:
        """Deterministic keyed hash of a normalised value: equal inputs match, nothing leaks."""
        norm = unicodedata.normalize("NFKC", value).strip().upper().replace("-", "").replace(" ", "")
        mac = hmac.new(self.index_key, f"{purpose}\x00{norm}".encode(), hashlib.sha256)
        return mac.hexdigest()

    def sign(self, message: str) -> str:
        return _b64e(hmac.new(self.secret_key, message.encode(), hashlib.sha256).digest())

    def verify_signature(self, message: str, signature: str) -> bool:
        return hmac.compare_digest(self.sign(message), signature)

    def audit_mac(self, purpose: str, data: bytes) -> str:
        """HMAC-SHA256 (hex) under the audit key, separated by purpose ("link", "checkpoint")."""
        key = self.audit_key or hmac.new(self.secret_key or self.index_key, b"praxis audit key v1",
                                         hashlib.sha256).digest()
        return hmac.new(key, purpose.encode() + b"\x00" + data, hashlib.sha256).hexdigest()

    # --- persistence --------------------------------------------------------------------------

    def to_json(self) -> str:
        return json.dumps({
            "active": self.active,
            "keys": {k: _b64e(v) for k, v in self.keys.items()},
            "index_key": _b64e(self.index_key),
            "secret_key": _b64e(self.secret_key),
            **({"audit_key": _b64e(self.audit_key)} if self.audit_key else {}),
        }, indent=2)

    @classmethod
    def from_json(cls, data: str) -> KeyRing:
        raw = json.loads(data)
        return cls(
            keys={k: _b64d(v) for k, v in raw["keys"].items()},
            active=raw["active"],
            index_key=_b64d(raw["index_key"]),
            secret_key=_b64d(raw.get("secret_key", "")),
            audit_key=_b64d(raw.get("audit_key", "")),
        )

    @classmethod
    def generate(cls) -> KeyRing:
        kid = "k" + secrets.token_hex(4)
        return cls(keys={kid: AESGCM.generate_key(bit_length=256)}, active=kid,
                   index_key=secrets.token_bytes(32), secret_key=secrets.token_bytes(32),
                   audit_key=secrets.token_bytes(32))

    def rotated(self) -> KeyRing:
        kid = "k" + secrets.token_hex(4)
        keys = dict(self.keys)
        keys[kid] = AESGCM.generate_key(bit_length=256)
        return KeyRing(keys=keys, active=kid, index_key=self.index_key, secret_key=self.secret_key,
                       audit_key=self.audit_key)


_ring: KeyRing | None = None


def load_or_create(path: Path) -> KeyRing:
    """Read the key ring; generate one (mode 0600) on first run."""
    if path.exists():
        return KeyRing.from_json(path.read_text())
    ring = KeyRing.generate()
    save(ring, path)
    return ring


def save(ring: KeyRing, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(ring.to_json())
    os.replace(tmp, path)


def install(ring: KeyRing) -> None:
    global _ring
    _ring = ring


def keyring() -> KeyRing:
    global _ring
    if _ring is None:
        from praxis.platform.settings import get_settings

        _ring = load_or_create(get_settings().resolved_keyring_file())
    return _ring


class EncryptedString(TypeDecorator[str]):
    """A column whose value is stored AES-GCM encrypted under the active key."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else keyring().encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else keyring().decrypt(value)


# (table, primary-key columns, encrypted column) registered by domains, for key rotation.
ENCRYPTED_COLUMNS: list[tuple[str, tuple[str, ...], str]] = []


def register_encrypted_column(table: str, column: str, pk: tuple[str, ...] = ("org_id", "id")) -> None:
    entry = (table, pk, column)
    if entry not in ENCRYPTED_COLUMNS:
        ENCRYPTED_COLUMNS.append(entry)
