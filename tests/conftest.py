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


@pytest.fixture(autouse=True)
def _no_fit_cache(monkeypatch):
    """Every test samples what it asks for, whatever ``CEG_FIT_CACHE`` the shell sets;
    the notebook tests, and tests of the cache itself, set it where they want one."""
    monkeypatch.delenv("CEG_FIT_CACHE", raising=False)
