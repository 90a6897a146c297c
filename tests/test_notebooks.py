"""The notebooks: committed without outputs, and executed top to bottom (slow).

Each runs in a fresh kernel with ``CEG_NOTEBOOK_QUICK=1`` (2 chains x 100 draws at
target_accept 0.8), the one switch the notebooks read for their sampler settings. A failing cell
fails the test with the cell's error.

The kernel first runs one cell the notebook does not have: ``fakes.use_prior_draws_for_fits()``,
which makes every ``ceg.fit`` take the real model's prior draws instead of sampling (the
pattern of ``pymc.testing.mock_sample``). Everything after sampling (diagnostics, CEG
tables, plots, forecasts, exports, reports) runs on a fit with every group a sampled one
has. What these tests do not cover is NUTS itself: the tiny fit, recovery and Dask tests
sample for real. With real sampling the three notebooks that fit new data cost 216, 141
and 127 s in a run on an empty compile cache (session 35), nearly all of it nutpie's numba
compile and PyTensor's C compile, a third of the suite's budget.

Four notebooks fit the bundled data with the default spec at the same quick
settings and seed, so the same fit: they share one ``CEG_FIT_CACHE`` folder for
this test run (one per run, shared by pytest-xdist's workers; ``--dist loadfile`` in
pyproject.toml runs this file's tests one after another on one worker), and the fit is
sampled once and read back by the others (:mod:`ceg.fit_cache`).
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

TESTS = Path(__file__).resolve().parent
REPO_ROOT = TESTS.parent
NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
OBSSCALING = REPO_ROOT.parent / "shared" / "data" / "obsscaling"
EPOCH = REPO_ROOT.parent / "shared" / "data" / "epoch_benchmarking"


@pytest.fixture(scope="session")
def fit_cache_folder(tmp_path_factory) -> Path:
    """A fit cache for this run: under the run's root when pytest-xdist runs workers."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    return root / "notebook_fit_cache"


def test_there_are_five_notebooks():
    assert [p.name[:3] for p in NOTEBOOKS] == ["01_", "02_", "03_", "04_", "05_"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path):
    # Outputs (base64 figures, tables) would make every rerun a large, unreadable diff.
    book = nbformat.read(path, as_version=4)
    code = [c for c in book.cells if c.cell_type == "code"]
    assert code, "a notebook with no code"
    for i, cell in enumerate(code):
        assert cell.outputs == [] and cell.execution_count is None, f"code cell {i} has output"
    assert book.cells[0].cell_type == "markdown" and book.cells[0].source.startswith("# ")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, monkeypatch, fit_cache_folder):
    from nbclient import NotebookClient

    if "obsscaling" in path.name and not OBSSCALING.is_dir():
        pytest.skip(f"{OBSSCALING} not found: the ObsScaling release is not bundled")
    if "reasoning" in path.name and not EPOCH.is_dir():
        pytest.skip(f"{EPOCH} not found: Epoch AI's Benchmarking Hub files are not bundled")
    monkeypatch.setenv("CEG_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("CEG_FIT_CACHE", str(fit_cache_folder))
    book = nbformat.read(path, as_version=4)
    book.cells.insert(0, nbformat.v4.new_code_cell(
        f"import sys\nsys.path.insert(0, {str(TESTS)!r})\nimport fakes\n"
        "fakes.use_prior_draws_for_fits()"))
    NotebookClient(book, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    # execute() raises CellExecutionError at the first failing cell; every cell ran:
    assert all(c.execution_count for c in book.cells if c.cell_type == "code")
