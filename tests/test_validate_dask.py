"""Calibration smoke test through a real Dask LocalCluster (two workers, one thread each).

Seeded, tiny design (15 rows), tiny sampler settings: it checks the machinery
(scatter, one compile per worker, records written by the client as each
replication finishes, the report), not calibration itself.
"""

from __future__ import annotations

import json

import pytest

import ceg
from ceg.design import make_design
from ceg.validate.cluster import ClusterError, dask_client
from ceg.validate.report import sbc_report
from ceg.validate.sbc import RECORDS_FILE, SbcSettings, read_records, sbc
from fakes import synthetic_table


@pytest.mark.slow
def test_sbc_replications_run_on_a_local_dask_cluster(tmp_path):
    design = make_design(synthetic_table(), ceg.load_registries())
    out = tmp_path / "sbc"
    settings = SbcSettings(draws=60, tune=60, chains=2, min_ess=20)
    with dask_client(workers=2) as client:
        workers = client.scheduler_info()["workers"]
        assert len(workers) == 2
        assert all(w["nthreads"] == 1 for w in workers.values())
        run = sbc("default", design, reps=3, seed=11, executor=client, out=out,
                  settings=settings)
    lines = (out / RECORDS_FILE).read_text().splitlines()
    assert sorted(json.loads(x)["rep"] for x in lines) == [0, 1, 2]
    assert {r["status"] for r in run.records} <= {"ok", "not_converged"}, [
        r.get("error") for r in run.records]
    n = len(run.names)
    for r in run.records:
        assert len(r["rank"]) == len(r["pit"]) == n
        assert all(0 <= k <= r["rank_draws"] for k in r["rank"])
        assert r["mean_n_steps"] > 0
    # each worker compiles once: at most two replications paid for compilation
    assert sum(r["compile_seconds"] > 1.0 for r in run.records) <= 2
    assert read_records(out).header["settings"]["draws"] == settings.draws
    report = sbc_report(out, figures=False)
    assert report.quantities["n"].iloc[0] == 3


def test_an_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(ClusterError, match="cannot reach the Dask scheduler"):
        with dask_client(scheduler="tcp://127.0.0.1:9", timeout=2):
            pass


def test_workers_and_scheduler_together_are_refused():
    with pytest.raises(ClusterError, match="not both"):
        with dask_client(workers=2, scheduler="tcp://127.0.0.1:8786"):
            pass
