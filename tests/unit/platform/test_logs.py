"""Log lines: JSON for machines, readable lines at a terminal, chosen by PRAXIS_LOG_FORMAT."""

from __future__ import annotations

import io
import json
import logging

from praxis.platform.logs import ConsoleFormatter, JsonFormatter, formatter_for, request_id_var


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _record() -> logging.LogRecord:
    rec = logging.LogRecord("praxis.access", logging.INFO, __file__, 1, "GET %s", ("/patients",), None)
    rec.status = 200
    rec.ms = 12.5
    return rec


def test_console_line_is_readable_and_carries_the_fields():
    token = request_id_var.set("0123456789abcdef")
    try:
        line = ConsoleFormatter().format(_record())
    finally:
        request_id_var.reset(token)
    assert not line.startswith("{")
    assert "INFO" in line and "praxis.access" in line and "GET /patients" in line
    assert "status=200" in line and "ms=12.5" in line and "request_id=01234567" in line


def test_json_lines_stay_for_production():
    out = json.loads(JsonFormatter().format(_record()))
    assert out["msg"] == "GET /patients" and out["status"] == 200 and out["level"] == "INFO"


def test_auto_picks_console_at_a_terminal_and_json_otherwise():
    assert isinstance(formatter_for("auto", _Tty()), ConsoleFormatter)
    assert isinstance(formatter_for("auto", io.StringIO()), JsonFormatter)
    assert isinstance(formatter_for("json", _Tty()), JsonFormatter)
    assert isinstance(formatter_for("console", io.StringIO()), ConsoleFormatter)
