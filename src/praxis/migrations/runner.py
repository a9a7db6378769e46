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
    """Heads of the code that the database has not reached."""
    script = ScriptDirectory.from_config(config())
    with get_engine().connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    return sorted(set(script.get_heads()) - current)
