"""Structured JSON logs with the request id on every line. Never log PHI: log ids, not names."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        out.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class ConsoleFormatter(logging.Formatter):
    """One readable line for a person at a terminal: time, level, logger, message, then the
    structured fields as key=value (the same fields the JSON lines carry)."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S.%f")[:-3]
        extra = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        rid = request_id_var.get()
        if rid:
            extra["request_id"] = rid[:8]
        fields = " ".join(f"{k}={v}" for k, v in extra.items())
        line = f"{when} {record.levelname:<7} {record.name:<16} {record.getMessage()}"
        if fields:
            line += f"  {fields}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def formatter_for(fmt: str, stream: object = None) -> logging.Formatter:
    """`json` (production: one JSON object a line), `console` (readable), or `auto`: console when
    the stream is a terminal, JSON otherwise (a service manager, a container, a pipe)."""
    if fmt == "auto":
        isatty = getattr(stream if stream is not None else sys.stderr, "isatty", None)
        fmt = "console" if callable(isatty) and isatty() else "json"
    return ConsoleFormatter() if fmt == "console" else JsonFormatter()


def configure_logging(level: str = "INFO", fmt: str = "auto") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter_for(fmt, sys.stderr))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).disabled = True
