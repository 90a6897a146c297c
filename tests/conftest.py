"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only shared data releases, ``../shared/data`` relative to the repo root."""
    path = REPO_ROOT.parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"../shared/data not found: {path} is missing (the public data releases "
                    "ObsScaling and Sloth live there, outside the repository)")
    return path
