"""Ports for screens of a lower layer that must name patients (the audit log is identity's, and
identity sits below patients): wiring connects them to the patients domain at start-up. Unwired
(a build without patients), they find nothing and name nobody, and the screens show ids."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from praxis.platform.context import Context


@dataclass(frozen=True)
class PatientMatch:
    id: uuid.UUID
    label: str  # "Last, First · DOB 01/02/1970 · MRN 00000042"


# q (a name, "last, first", MRN or DOB) -> matches the actor may see; audited by the adapter
PatientFinder = Callable[[Context, str], list[PatientMatch]]
# ids -> labels for those the actor may see; audited by the adapter
PatientNamer = Callable[[Context, list[uuid.UUID]], dict[uuid.UUID, str]]

_finder: PatientFinder = lambda _ctx, _q: []  # noqa: E731
_namer: PatientNamer = lambda _ctx, _ids: {}  # noqa: E731


def set_patient_lookup(finder: PatientFinder, namer: PatientNamer) -> None:
    global _finder, _namer
    _finder, _namer = finder, namer


def find_patients(ctx: Context, q: str) -> list[PatientMatch]:
    return _finder(ctx, q)


def patient_names(ctx: Context, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    return _namer(ctx, ids) if ids else {}
