"""pyx12 4.0.0 as the independent judge of our X12 (a test dependency, not part of the product)."""

from __future__ import annotations

import io
import logging

import pyx12.params
import pyx12.x12n_document


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def pyx12_errors(text: str) -> tuple[bool, list[str]]:
    """pyx12's verdict (`x12n_document`'s True/False) and every error it logged."""
    collect = _Collect()
    logger = logging.getLogger("pyx12")
    saved = logger.level, logger.propagate
    logger.addHandler(collect)
    logger.setLevel(logging.ERROR)
    logger.propagate = False
    try:
        ok = pyx12.x12n_document.x12n_document(pyx12.params.params(), io.StringIO(text), io.StringIO(), None)
    finally:
        logger.removeHandler(collect)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
    return ok, collect.messages
