"""Run Alembic from code (the CLI, `make run`, tests) without an alembic.ini on disk."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from praxis.platform.db import get_engine

HERE = Path(__file__).resolve().parent


def config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(HERE / "versions"))
    return cfg


def upgrade(target: str = "heads") -> None:
    command.upgrade(config(), target)


def downgrade(target: str) -> None:
    command.downgrade(config(), target)


def pending_heads() -> list[str]:
    """Revisions of the code that the database has not applied (branches and dependencies included).

    The version table stores only the heads reached; a branch that another depends on (`core`)
    is applied as that one's ancestor, so compare ancestry, not head sets.
    """
    script = ScriptDirectory.from_config(config())
    with get_engine().connect() as conn:
        current = MigrationContext.configure(conn).get_current_heads()
    applied: set[str] = set()
    stack = list(current)
    while stack:
        rev = script.get_revision(stack.pop())
        if rev is None or rev.revision in applied:
            continue
        applied.add(rev.revision)
        for parent in (*_as_tuple(rev.down_revision), *_as_tuple(rev.dependencies)):
            resolved = script.get_revision(parent)
            if resolved is not None:
                stack.append(resolved.revision)
    return sorted({r.revision for r in script.walk_revisions()} - applied)


def _as_tuple(value: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)
