"""README's "What works today" table matches the code: every screen is a page the app serves,
every API prefix has operations, every CLI command exists. A capability removed or renamed in the
code fails here until the README says so."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from praxis.web.routes import iter_routes

README = Path(__file__).resolve().parents[2] / "README.md"


def _rows() -> list[list[list[str]]]:
    text = README.read_text()
    section = text.split("## What works today", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("capability", "---"):
            continue
        rows.append([re.findall(r"`([^`]+)`", cell) for cell in cells])
    return rows


@pytest.fixture(scope="module")
def routes() -> list[Any]:
    from praxis.main import create_app

    return list(iter_routes(create_app(seal_audit=False)))


def test_the_table_is_there_and_says_something() -> None:
    rows = _rows()
    assert len(rows) >= 10
    assert all(any(row[1:]) for row in rows), "a capability with no screen, API or command"


def test_every_screen_is_a_page_the_app_serves(routes: list[Any]) -> None:
    pages = {r.path for r in routes if "GET" in (r.methods or ())}
    missing = [p for row in _rows() for p in row[1] if p not in pages]
    assert not missing, f"README screens that are no GET route: {missing}"


def test_every_api_prefix_has_operations(routes: list[Any]) -> None:
    paths = [r.path for r in routes if r.path.startswith(("/api/", "/fhir/"))]
    missing = [p for row in _rows() for p in row[2]
               if not any(path == p or path.startswith(p + "/") for path in paths)]
    assert not missing, f"README API prefixes with no operation: {missing}"


def test_every_cli_command_exists() -> None:
    import typer

    from praxis.cli import app

    root = typer.main.get_command(app)
    missing = []
    for row in _rows():
        for command in row[3]:
            words = command.split()
            assert words[0] == "praxis", command
            node: Any = root
            for word in words[1:]:
                if word not in getattr(node, "commands", {}):
                    missing.append(command)
                    break
                node = node.commands[word]
            else:
                if hasattr(node, "commands"):
                    missing.append(f"{command} (a group, not a command)")
    assert not missing, f"README CLI commands that do not exist: {missing}"
