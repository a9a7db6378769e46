"""`praxis x12 validate FILE`: exit 0 for a clean file, 1 naming the first defect."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from praxis.cli import app
from praxis.formats.x12 import write_837p
from tests.unit.formats import claims as c


def test_validate_accepts_a_clean_file(tmp_path: Path) -> None:
    path = tmp_path / "claims.837"
    path.write_text(write_837p(c.interchange(c.claim(), c.secondary_claim())))
    result = CliRunner().invoke(app, ["x12", "validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "OK (" in result.output and "837" in result.output


def test_validate_exits_1_naming_the_first_defect(tmp_path: Path) -> None:
    text = write_837p(c.interchange(c.claim())).replace("\nSE*", "\nSE*9")
    path = tmp_path / "bad.837"
    path.write_text(text)
    result = CliRunner().invoke(app, ["x12", "validate", str(path)])
    assert result.exit_code == 1
    segments = text.count("~")
    assert f"segment {segments - 2} (SE): SE01 says" in result.output


def test_validate_a_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "cut.837"
    path.write_text(write_837p(c.interchange(c.claim()))[:700])
    result = CliRunner().invoke(app, ["x12", "validate", "--all", str(path)])
    assert result.exit_code == 1
    assert "truncated" in result.output
