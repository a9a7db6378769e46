"""Document settings are read once and re-read after cache_clear (no database)."""

from __future__ import annotations

from praxis.patients import documents


def test_max_bytes_is_cached_and_re_read_after_cache_clear(monkeypatch):
    documents.document_settings.cache_clear()
    try:
        default = documents.max_bytes()
        monkeypatch.setenv("PRAXIS_DOCUMENT_MAX_BYTES", "4096")
        assert documents.max_bytes() == default  # cached: the environment is not re-read per call
        documents.document_settings.cache_clear()
        assert documents.max_bytes() == 4096
        assert documents.document_settings() is documents.document_settings()
    finally:
        documents.document_settings.cache_clear()
