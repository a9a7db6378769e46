"""Revision ids fit alembic_version.version_num (VARCHAR(32)): PostgreSQL refuses a longer one at
upgrade time, SQLite does not notice, so a long id passes every SQLite run and breaks production."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from praxis.migrations.runner import config


def test_every_revision_id_fits_alembic_version():
    long = [r.revision for r in ScriptDirectory.from_config(config()).walk_revisions() if len(r.revision) > 32]
    assert long == [], f"revision ids longer than 32 characters: {long}"
