"""The import contracts in pyproject.toml see every module and break on a wrong import.

A package import-linter cannot see (no __init__.py, an optional layer) is a package it cannot
guard: the first test proves the analysed set is exactly the set of modules under src/praxis; the
others copy the source tree, inject one import against the rules and show the checker refuses it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
VERSIONS = SRC / "praxis" / "migrations" / "versions"  # Alembic scripts: run by Alembic, never imported


def _module_names_on_disk() -> set[str]:
    names = set()
    for path in (SRC / "praxis").rglob("*.py"):
        if VERSIONS in path.parents:
            continue
        parts = path.relative_to(SRC).with_suffix("").parts
        names.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _lint_imports(cwd: Path, *, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("lint-imports")
    env = dict(os.environ)
    if pythonpath is not None:
        # Ahead of the editable install's path entry, so the copy is the `praxis` analysed.
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([str(exe), "--no-cache", "--no-logo"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def test_import_contracts_hold() -> None:
    """The dependency graph of docs/architecture.md, as committed in pyproject.toml."""
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_import_linter_analyses_every_module_under_src_praxis() -> None:
    # import-linter's own graph building, configured from pyproject.toml exactly as lint-imports is
    # (the contract-type registration is a private step of its CLI, pinned with the tool's version).
    from importlinter import configuration
    from importlinter.application import use_cases

    configuration.configure()
    options = use_cases.read_user_options(str(ROOT / "pyproject.toml"))
    use_cases._register_contract_types(options)
    report = use_cases.create_report(options, cache_dir=None)

    analysed = {m for m in report.graph.modules if m == "praxis" or m.startswith("praxis.")}
    on_disk = _module_names_on_disk()
    assert on_disk - analysed == set(), "modules import-linter does not see (missing __init__.py?)"
    assert analysed - on_disk == set()
    assert len(analysed) == len(on_disk)
    assert not report.contains_failures


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    shutil.copytree(SRC / "praxis", tmp_path / "src" / "praxis",
                    ignore=shutil.ignore_patterns("__pycache__", "templates", "static"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


# (module file, line appended to it, what the report must name)
WRONG_IMPORTS = [
    pytest.param("patients/service.py", "import praxis.scheduling.service",
                 "praxis.patients is not allowed to import praxis.scheduling", id="patients-imports-scheduling"),
    pytest.param("practice/service.py", "import praxis.patients.service",
                 "praxis.practice is not allowed to import praxis.patients", id="practice-imports-patients"),
    pytest.param("intake/service.py", "import praxis.scheduling.service",
                 "praxis.intake is not allowed to import praxis.scheduling", id="intake-imports-sibling"),
    pytest.param("scheduling/models.py", "import praxis.intake.models",
                 "praxis.scheduling is not allowed to import praxis.intake", id="scheduling-imports-sibling"),
    pytest.param("platform/db.py", "import praxis.practice.models",
                 "praxis.platform is not allowed to import praxis.practice", id="platform-imports-domain"),
    pytest.param("web/deps.py", "import praxis.patients.service",
                 "praxis.web is not allowed to import praxis.patients", id="web-imports-domain"),
    pytest.param("desk/service.py", "import praxis.scheduling.api",
                 None, id="desk-may-import-scheduling"),
    pytest.param("scheduling/service.py", "import praxis.identity.service",
                 "praxis.scheduling.service -> praxis.identity.service", id="domain-imports-identity"),
    pytest.param("patients/access.py", "from praxis.identity import auth  # noqa",
                 "praxis.patients.access -> praxis.identity.auth", id="patients-imports-identity"),
    pytest.param("scheduling/availability.py", "import sqlalchemy",
                 "praxis.scheduling.availability -> sqlalchemy", id="pure-imports-sqlalchemy"),
    pytest.param("patients/normalise.py", "import praxis.platform.db",
                 "praxis.patients.normalise -> praxis.platform.db", id="pure-imports-sqlalchemy-indirectly"),
    pytest.param("intake/definition.py", "import fastapi",
                 "praxis.intake.definition -> fastapi", id="pure-imports-fastapi"),
    pytest.param("patients/service.py", "from fastapi import Request  # noqa",
                 "praxis.patients.service -> fastapi", id="service-imports-fastapi"),
    pytest.param("scheduling/calendars.py", "import starlette.requests",
                 "praxis.scheduling.calendars -> starlette", id="module-imports-starlette"),
]


@pytest.mark.parametrize(("module", "line", "expected"), WRONG_IMPORTS)
def test_a_wrong_import_breaks_the_contracts(tree_copy: Path, module: str, line: str, expected: str | None) -> None:
    target = tree_copy / "src" / "praxis" / module
    target.write_text(target.read_text() + f"\n{line}\n")
    result = _lint_imports(tree_copy, pythonpath=tree_copy / "src")
    if expected is None:  # the control: an import along the arrows is kept
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
        return
    assert result.returncode == 1, result.stdout[-4000:]
    assert expected in result.stdout, result.stdout[-4000:]


def test_a_missing_package_breaks_the_contracts(tree_copy: Path) -> None:
    # A domain without __init__.py would be a namespace package import-linter silently skips.
    (tree_copy / "src" / "praxis" / "intake" / "__init__.py").unlink()
    result = _lint_imports(tree_copy, pythonpath=tree_copy / "src")
    assert result.returncode == 1
    assert "praxis.intake does not exist" in result.stdout


def test_a_package_outside_every_layer_breaks_the_contracts(tree_copy: Path) -> None:
    # exhaustive: a new top-level package must be placed in the graph before it can be merged.
    package = tree_copy / "src" / "praxis" / "unplaced"
    package.mkdir()
    (package / "__init__.py").write_text('"""A domain nobody placed in the layers."""\n')
    result = _lint_imports(tree_copy, pythonpath=tree_copy / "src")
    assert result.returncode == 1
    assert "praxis.unplaced" in result.stdout, result.stdout[-4000:]
