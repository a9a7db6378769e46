"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from praxis.platform.errors import ValidationProblem
from praxis.platform.settings import get_settings

_settings = get_settings()
# argon2id with the library's recommended parameters unless settings lower them (tests only).
_hasher = PasswordHasher(time_cost=_settings.argon2_time_cost, memory_cost=_settings.argon2_memory_kib)
# Verifying against this keeps a failed login for an unknown email as slow as a real one.
_DUMMY = _hasher.hash("not-a-real-password-but-same-cost")

MIN_LENGTH = 12


def hash_password(password: str) -> str:
    check_policy(password)
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)


def check_policy(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise ValidationProblem(f"Password must be at least {MIN_LENGTH} characters", field="password")
    if len(password) > 256:
        raise ValidationProblem("Password must be at most 256 characters", field="password")
    if len(set(password)) < 4:
        raise ValidationProblem("Password is too repetitive", field="password")
