"""Where the shared sample files are: `shared/` beside the repository (for a git worktree under
`wt/`, beside the folder that holds the worktrees)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).parents[3]
_CANDIDATES = (REPO / ".." / "shared" / "corpus", REPO / ".." / ".." / "shared" / "corpus")
CORPUS = next((p.resolve() for p in _CANDIDATES if (p / "x12").is_dir()), None)


def x12_dir() -> Path:
    if CORPUS is None:
        pytest.skip(f"the sample corpus is absent: no shared/corpus/x12 beside {REPO}")
    return CORPUS / "x12"


def x12_files(*folders: str) -> list[str]:
    """Paths relative to corpus/x12 (for test ids), [] when the corpus is absent."""
    if CORPUS is None:
        return []
    root = CORPUS / "x12"
    return sorted(str(p.relative_to(root)) for folder in folders for p in (root / folder).rglob("*")
                  if p.is_file())
