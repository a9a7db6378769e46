"""Organisation settings: the MRN format becomes a declared grammar (prefix, width, check digit).

The old setting was a Python format string evaluated with the sequence number ("{seq:08d}", the
default and what the demo used). Strings of the shape PREFIX{seq:0Nd} (or {seq}) convert to
{"prefix": PREFIX, "width": N, "check_digit": "none"} and keep numbering patients exactly as
before; anything else (a format the grammar cannot express) becomes the default (no prefix, eight
digits) and is printed, so the operator can set the intended format through the API. Existing
MRNs never change; registration moves past any value already taken.

Revision ID: core_0002_secinput_mrn_format
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "core_0002_secinput_mrn_format"
down_revision = "core_0003_secauth_idem_patients"
branch_labels = None
depends_on = None

_OLD = re.compile(r"^(?P<prefix>[A-Za-z0-9-]{0,10})\{seq(?::0(?P<width>[1-9]\d?)d|:d)?\}$")
_DEFAULT = {"prefix": "", "width": 8, "check_digit": "none"}

_orgs = sa.table("organisations", sa.column("id", sa.Uuid()), sa.column("slug", sa.String()),
                 sa.column("settings", sa.JSON()))


def convert(old: Any) -> tuple[dict[str, Any], bool]:
    """The grammar for an old format string, and whether it numbers patients exactly as before."""
    m = _OLD.match(old) if isinstance(old, str) else None
    if m is None or int(m["width"] or 1) > 12:
        return dict(_DEFAULT), False
    return {"prefix": m["prefix"], "width": int(m["width"] or 1), "check_digit": "none"}, True


def upgrade() -> None:
    conn = op.get_bind()
    for org_id, slug, settings in conn.execute(sa.select(_orgs.c.id, _orgs.c.slug, _orgs.c.settings)).all():
        old = (settings or {}).get("mrn_format")
        if old is None or isinstance(old, dict):
            continue
        new, exact = convert(old)
        if not exact:
            print(f"organisation {slug}: MRN format {old!r} cannot be expressed as prefix + zero-padded "
                  f"number; set to the default (8 digits). Set the intended one with PATCH /api/v1/organisation.")
        conn.execute(sa.update(_orgs).where(_orgs.c.id == org_id)
                     .values(settings={**settings, "mrn_format": new}))


def downgrade() -> None:
    conn = op.get_bind()
    for org_id, settings in conn.execute(sa.select(_orgs.c.id, _orgs.c.settings)).all():
        fmt = (settings or {}).get("mrn_format")
        if not isinstance(fmt, dict):
            continue
        # A check digit has no equivalent in the old format strings; it is dropped.
        old = f"{fmt.get('prefix', '')}{{seq:0{int(fmt.get('width', 8))}d}}"
        conn.execute(sa.update(_orgs).where(_orgs.c.id == org_id).values(settings={**settings, "mrn_format": old}))
