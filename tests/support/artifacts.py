"""Where tests leave files for people to look at after a run (screenshots of the dashboard, ...).

The folder is `SITN_TEST_ARTIFACTS` if set, else ``artifacts/`` at the repository root (ignored
by git). `artifact_path(name)` gives a path there and remembers it; at the end of the run the
session lists what was saved (`tests/conftest.py`), so the paths are printed with the results.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

ARTIFACTS_VARIABLE: Final = "SITN_TEST_ARTIFACTS"
_REPOSITORY: Final = Path(__file__).resolve().parents[2]
_saved: list[Path] = []


def artifacts_dir() -> Path:
    """The run's artifacts folder, created if needed."""
    configured = os.environ.get(ARTIFACTS_VARIABLE)
    folder = Path(configured).expanduser() if configured else _REPOSITORY / "artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder.resolve()


def artifact_path(name: str) -> Path:
    """Where to save the artifact `name` (a file name); listed at the end of the run."""
    path = artifacts_dir() / name
    _saved.append(path)
    return path


def saved_artifacts() -> tuple[Path, ...]:
    """The artifacts written during this run, in the order they were asked for."""
    return tuple(path for path in _saved if path.exists())
