"""Fixtures of the interop tests (webhook receivers on 127.0.0.1)."""

from __future__ import annotations

from tests.integration.interop.hooks import allow_private, receiver

__all__ = ["allow_private", "receiver"]
