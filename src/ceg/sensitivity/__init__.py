"""Sensitivity of the CEGs and the headline to priors, likelihood and model choices.

- :func:`power_scaling`: local prior and likelihood sensitivity by power-scaling
  (Kallioinen et al. 2023), from a fit's stored ``log_prior`` and
  ``log_likelihood``, without refitting (:mod:`ceg.sensitivity.power_scaling`).
- :func:`sweep`: refit every variant of a grid of priors, structures, data
  filters and reference computes (:mod:`ceg.sensitivity.grid`), on Dask, one
  record per variant, resumable (:mod:`ceg.sensitivity.refits`), and report
  it (:mod:`ceg.sensitivity.sweep_report`).
- :func:`group_influence`: each CEG and the headline with one source, family,
  benchmark or model left out, by PSIS on a saved fit, no refit
  (:mod:`ceg.sensitivity.influence`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ceg.sensitivity.influence import InfluenceResult, group_influence
from ceg.sensitivity.power_scaling import (
    MAX_PARETO_K,
    THRESHOLD,
    PowerScalingResult,
    power_scaling,
)

if TYPE_CHECKING:
    import pandas as pd

    from ceg.registry import Registries
    from ceg.sensitivity.grid import Grid
    from ceg.sensitivity.refits import SweepSettings
    from ceg.sensitivity.sweep_report import SweepReport


def sweep(grid: Grid | str | Path | None = None, *, out: Path | str | None = None,
          workers: int | None = None, scheduler: str | None = None, executor: Any = None,
          settings: SweepSettings | None = None, seed: int = 20231212,
          table: pd.DataFrame | None = None, registries: Registries | None = None,
          only: list[str] | None = None, figures: bool = True) -> SweepReport:
    """Refit every variant of a grid not yet recorded in ``out`` and return the sweep's report.

    Parameters
    ----------
    grid
        A grid, a grid file, or ``None`` for ``models/sensitivity/grid.toml``.
    out
        Records folder (resumed if it holds records of the same data, seed
        and settings); ``None`` keeps the records in memory.
    workers, scheduler
        Run on a new local Dask cluster of ``workers`` processes, or on the
        cluster at ``scheduler`` (:func:`ceg.validate.cluster.dask_client`).
    executor
        Or an executor of your own (a ``distributed.Client``, any
        ``concurrent.futures.Executor``); with none of the three, the fits
        run one after another in this process.
    settings
        Sampler settings (:class:`~ceg.sensitivity.refits.SweepSettings`).
    seed
        Sampler seed of every fit.
    table, registries
        The base data (the bundled dataset by default).
    only
        Fit only these variants.
    figures
        Draw the tornado plots.

    Returns
    -------
    SweepReport
        ``table`` (one row per variant), ``decomposition``, ``stacking``,
        ``notes`` and ``figures``.
    """
    from contextlib import nullcontext

    from ceg.errors import CegError
    from ceg.sensitivity.refits import run_sweep
    from ceg.sensitivity.sweep_report import sweep_report
    from ceg.validate.cluster import dask_client

    if executor is not None and (workers is not None or scheduler is not None):
        raise CegError("give an executor, or workers / scheduler to start one, not both")
    context = (nullcontext(executor) if workers is None and scheduler is None
               else dask_client(workers=workers, scheduler=scheduler))
    with context as client:
        records = run_sweep(grid, out=out, executor=client, settings=settings, seed=seed,
                            table=table, registries=registries, only=only)
    return sweep_report(records, figures=figures)


__all__ = ["MAX_PARETO_K", "THRESHOLD", "InfluenceResult", "PowerScalingResult",
           "group_influence", "power_scaling", "sweep"]
