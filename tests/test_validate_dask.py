"""Errors of the Dask cluster helper (the runs on a real cluster: test_dask_runs.py)."""

from __future__ import annotations

import pytest

from ceg.validate.cluster import ClusterError, dask_client


def test_an_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(ClusterError, match="cannot reach the Dask scheduler"):
        with dask_client(scheduler="tcp://127.0.0.1:9", timeout=2):
            pass


def test_workers_and_scheduler_together_are_refused():
    with pytest.raises(ClusterError, match="not both"):
        with dask_client(workers=2, scheduler="tcp://127.0.0.1:8786"):
            pass
