"""Shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

if os.environ.get("PYTEST_XDIST_WORKER"):
    # pytest-xdist's workers run with COLUMNS=80 and LINES=24 set; the command line reads
    # COLUMNS as a terminal's width (ceg.cli._common, at import), so under xdist the CLI
    # tests would see an 80-column terminal where a plain `pytest` run sees a pipe.
    for _name in ("COLUMNS", "LINES"):
        os.environ.pop(_name, None)

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


#: Test files that take minutes; run first, so that under ``--dist loadfile`` a worker
#: starts on each while the other works through the short files (longest first, by their
#: times on an empty compile cache, session 36). Needs ``--no-loadscope-reorder``
#: (pyproject.toml), or xdist reorders files by their number of tests.
SLOW_FILES = ("test_real_fits.py", "test_notebooks.py", "test_model_variants.py",
              "test_dask_runs.py", "test_sensitivity_grid.py", "test_report.py",
              "test_sensitivity_fit.py")


def pytest_collection_modifyitems(items):
    """Put the slow files first (stable: the order within and among the others is kept)."""
    rank = {name: i for i, name in enumerate(SLOW_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_FILES)))
