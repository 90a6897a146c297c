"""SBC replications and a sensitivity sweep through one real Dask LocalCluster.

The machinery, not the numbers: scatter, pickling tasks to a worker process, compiling
in the worker (one compile per worker and model structure, kept between tasks), records
written by the client as each task finishes, interruption and resume, the reports.
Seeded, on the 15-row synthetic table with tiny sampler settings. The two tests share
one cluster (a module fixture), so they pay for one cluster start, and the sweep's two
variants reuse the worker's compiled default model from the SBC test (same model digest,
same design structure: the key of ``ceg.sampling.compiled_model``).

One worker process, not two: compiling dominates (nutpie, 55-70 s per model structure at
a load average of 6-12 on 2 cores, session 26; 106 s on an empty compile cache on 2 idle
cores, session 36), and each worker pays it. A second worker tested nothing the first does not
(records are written by the client, not the workers) and cost a compile on a clean CI
machine.
"""

from __future__ import annotations

import json

import pytest

import ceg
from ceg.design import make_design
from ceg.sensitivity.grid import grid_from_dict
from ceg.sensitivity.refits import SWEEP_LAYOUT, SweepSettings, read_sweep, run_sweep
from ceg.sensitivity.sweep_report import sweep_report
from ceg.validate.cluster import dask_client
from ceg.validate.report import sbc_report
from ceg.validate.sbc import RECORDS_FILE, SbcSettings, read_records, sbc
from fakes import synthetic_table


@pytest.fixture(scope="module")
def client():
    """One local cluster of one worker process with one thread, for the module."""
    with dask_client(workers=1) as c:
        workers = c.scheduler_info()["workers"]
        assert len(workers) == 1 and all(w["nthreads"] == 1 for w in workers.values())
        yield c


@pytest.mark.slow
def test_sbc_replications_run_on_a_local_dask_cluster(client, tmp_path):
    design = make_design(synthetic_table(), ceg.load_registries())
    out = tmp_path / "sbc"
    settings = SbcSettings(draws=60, tune=60, chains=2, min_ess=20)
    run = sbc("default", design, reps=3, seed=11, executor=client, out=out,
              settings=settings)
    lines = (out / RECORDS_FILE).read_text().splitlines()
    assert sorted(json.loads(x)["rep"] for x in lines) == [0, 1, 2]
    assert {r["status"] for r in run.records} <= {"ok", "not_converged"}, [
        r.get("error") for r in run.records]
    n = len(run.names)
    for r in run.records:
        # the fit's gate judges a subset of what SBC's does: passing SBC's implies passing it
        assert r["fit_gate"] in {"ok", "not_converged"}
        assert r["status"] != "ok" or r["fit_gate"] == "ok"
        assert len(r["rank"]) == len(r["pit"]) == n
        assert all(0 <= k <= r["rank_draws"] for k in r["rank"])
        assert r["mean_n_steps"] > 0
    # the worker compiles once, for its first replication, and keeps the model
    assert sum(r["compile_seconds"] > 1.0 for r in run.records) == 1
    assert read_records(out).header["settings"]["draws"] == settings.draws
    report = sbc_report(out, figures=False)
    assert report.quantities["n"].iloc[0] == 3


class Interrupted(Exception):
    """Stands in for Ctrl-C after the first record."""


@pytest.mark.slow
def test_a_sweep_on_a_local_dask_cluster_resumes_losing_and_repeating_nothing(client, tmp_path):
    # Two variants of one model (they differ in description only), so the worker compiles
    # nothing new: the sweep's machinery is the point here; variants that change priors,
    # structure or data are swept in test_sensitivity_sweep.py, without Dask.
    grid = grid_from_dict({"base": "default", "variants": {
        "default": {"description": "the reference"},
        "again": {"description": "the same model under another name"},
    }}, "tiny.toml")
    settings = SweepSettings(draws=30, tune=30, chains=2, prior_draws=100)
    out = tmp_path / "sweep"
    first: list[str] = []
    second: list[str] = []

    def interrupt(record):
        first.append(record["variant"])
        raise Interrupted

    with pytest.raises(Interrupted):
        run_sweep(grid, out=out, executor=client, settings=settings,
                  table=synthetic_table(), seed=5, on_record=interrupt)
    lines = (out / SWEEP_LAYOUT.records_file).read_text().splitlines()
    assert [json.loads(x)["variant"] for x in lines] == first  # written before the stop
    run = run_sweep(grid, out=out, executor=client, settings=settings,
                    table=synthetic_table(), seed=5,
                    on_record=lambda r: second.append(r["variant"]))
    assert len(first) == 1 and second == [v for v in grid.variants if v not in first]
    lines = (out / SWEEP_LAYOUT.records_file).read_text().splitlines()
    assert sorted(json.loads(x)["variant"] for x in lines) == sorted(grid.variants)
    assert {r["status"] for r in run.records} <= {"ok", "not_converged"}, [
        r.get("error") for r in run.records]
    for r in run.records:
        assert set(r["posterior"]["enhancement"]) == {"calculator", "chain_of_thought",
                                                       "self_consistency"}
        assert 0 <= r["posterior"]["headline"]["p_most_5"] <= 1
        assert 0 <= r["prior"]["p_some_20"] <= 1
        assert len(r["loo"]["loo_i"]) == r["n_observations"] == 15
    # resumed by a third call: nothing left to do, nothing rerun
    again = run_sweep(grid, out=out, executor=None, settings=settings, table=synthetic_table(),
                      seed=5, on_record=lambda r: pytest.fail("a recorded variant ran again"))
    assert len(again.records) == 2
    report = sweep_report(read_sweep(out), figures=False)
    assert list(report.table.index) == ["again", "default"]  # by name
