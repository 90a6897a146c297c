"""A tiny sensitivity sweep through a real two-worker Dask LocalCluster, interrupted and resumed.

Two variants of the default model on the 15-row synthetic table, 2 chains x 30
draws: it checks the machinery (scatter, compile in the workers, one record per
variant written by the client as each finishes, interruption, resume), not the
numbers. Compiling dominates (nutpie, each variant its own structure): 55-70 s per
variant at a load average of 6-12 on 2 cores, and the whole test took 237 s at a load
of about 6.7, so it is far above a minute on a busy machine (the SBC Dask test took
315 s at the same time). Not measured on an idle machine.
"""

from __future__ import annotations

import json

import pytest

from ceg.sensitivity.grid import grid_from_dict
from ceg.sensitivity.refits import SWEEP_LAYOUT, SweepSettings, read_sweep, run_sweep
from ceg.sensitivity.sweep_report import sweep_report
from ceg.validate.cluster import dask_client
from fakes import synthetic_table


class Interrupted(Exception):
    """Stands in for Ctrl-C after the first record."""


@pytest.mark.slow
def test_a_sweep_on_a_local_dask_cluster_resumes_losing_and_repeating_nothing(tmp_path):
    grid = grid_from_dict({"base": "default", "variants": {
        "default": {"description": "the reference"},
        "shift_mean_0": {"priors": {"shift_mean": {"dist": "Normal", "mu": 0.0, "sigma": 1.0}}},
    }}, "tiny.toml")
    settings = SweepSettings(draws=30, tune=30, chains=2, prior_draws=100)
    out = tmp_path / "sweep"
    first: list[str] = []
    second: list[str] = []

    def interrupt(record):
        first.append(record["variant"])
        raise Interrupted

    with dask_client(workers=2) as client:
        workers = client.scheduler_info()["workers"]
        assert len(workers) == 2 and all(w["nthreads"] == 1 for w in workers.values())
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
    assert list(report.table.index) == ["default", "shift_mean_0"]
