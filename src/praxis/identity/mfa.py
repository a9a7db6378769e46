"""TOTP (RFC 6238) enrolment and verification, and single-use recovery codes."""

from __future__ import annotations

import secrets
import time

import pyotp

ISSUER = "Praxis"
WINDOW = 1  # accept the previous and next 30 s step for clock drift


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The otpauth URI as an inline SVG QR code (dark on white, a quiet zone around it), for an
    authenticator app to scan. Built on the server: no script, no external image."""
    import segno

    return str(segno.make(uri, error="m").svg_inline(scale=5, dark="#000000", light="#ffffff", border=4,
                                                     title="QR code for your authenticator app"))


def matching_step(secret: str, code: str, at: float | None = None) -> int | None:
    """The time step the code belongs to, or None. Callers refuse a step already used."""
    code = code.strip().replace(" ", "")
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    t = at if at is not None else time.time()
    step = int(t // totp.interval)
    for offset in range(-WINDOW, WINDOW + 1):
        if secrets.compare_digest(totp.at((step + offset) * totp.interval), code):
            return step + offset
    return None


def new_recovery_codes(n: int = 10) -> list[str]:
    return [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(n)]
