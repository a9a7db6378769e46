"""Every column holding a patient id follows a patient merge: the references other domains hold
are declared in wiring.MERGE_REFERENCES (not registered as a side effect of importing models)."""

from __future__ import annotations

from praxis import wiring
from praxis.patients.merge import REFERENCES
from praxis.platform.db import Base

# Not moved by the generic merge step: links are merged by their own rule (a survivor may already
# be linked to the same location), and the audit trail records what happened to whom, as it was.
NOT_MOVED = {("patient_locations", "patient_id"), ("audit_records", "patient_id")}


def test_every_patient_id_column_is_a_merge_reference() -> None:
    wiring.import_all()
    columns = {(t.name, c.name) for t in Base.metadata.tables.values() for c in t.c if c.name == "patient_id"}
    registered = {(r.table, r.column) for r in REFERENCES}
    assert columns - NOT_MOVED <= registered, sorted(columns - NOT_MOVED - registered)
    assert set(wiring.MERGE_REFERENCES) <= registered


def test_no_models_module_registers_references() -> None:
    """The registration lives in wiring.py: no domain's models module registers a reference as a
    side effect of being imported."""
    from pathlib import Path

    import praxis

    root = Path(praxis.__file__).parent
    offenders = [str(p.relative_to(root)) for p in root.glob("*/models.py") if "register_reference" in p.read_text()]
    assert offenders == []
