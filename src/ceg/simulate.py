"""Simulate evaluation tables from a model spec, for parameter recovery and calibration.

A simulated table has the design of a real one (its families, models,
compute, benchmarks, conditions and item counts) and scores drawn from the
model with parameters drawn from the prior. The true parameters come back
beside it, so a fit of the simulated table can be checked against them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from ceg.design import Design, make_design
from ceg.model import build_model
from ceg.registry import Registries
from ceg.spec import ModelSpec


@dataclass(frozen=True)
class Simulation:
    """A simulated evaluation table and the parameters that generated it.

    Attributes
    ----------
    table
        The design table with ``score`` replaced by simulated scores.
    truth
        The true value of every variable of the model's prior draw (free
        and deterministic; no chain or draw dims), so that anything read
        from a posterior (:mod:`ceg.engine`, :mod:`ceg.derived`) can be
        read from the truth the same way.
    design
        The design of the simulated table.
    """

    table: pd.DataFrame
    truth: xr.Dataset
    design: Design


def simulate(spec: ModelSpec, table: pd.DataFrame, registries: Registries,
             seed: int) -> Simulation:
    """Draw parameters from the prior of ``spec`` and scores on the design of ``table``.

    Parameters
    ----------
    spec
        Model specification (its priors generate the truth).
    table
        A validated evaluation table whose design is reused; its scores are
        ignored.
    registries
        Registries the table was validated against.
    seed
        Seed of the draw.

    Returns
    -------
    Simulation
        The simulated table and the truth.
    """
    return simulate_design(spec, make_design(table, registries), seed)


def simulate_design(spec: ModelSpec, design: Design, seed: int) -> Simulation:
    """Draw parameters from the prior of ``spec`` and scores on a design.

    Parameters
    ----------
    spec
        Model specification (its priors generate the truth).
    design
        The design whose structure is reused; its counts are ignored.
    seed
        Seed of the draw.

    Returns
    -------
    Simulation
        The simulated table, the truth (every variable of the prior draw)
        and the design with the simulated counts.

    Notes
    -----
    The truth once held only :data:`ceg.model.REPORTED` and the pooled
    parameters. The engine reads some quantities from other variables where
    a posterior has them (``scale_log10_flop``, the compute an enhancement's
    scale slope multiplies under ``structure.scale_compute = "effective"``)
    and falls back to raw compute where it does not, so the truth's
    per-observation CEGs were those of another model than the fit's, and
    SBC of such a spec reported them under-covered.
    """
    model = build_model(spec, design)
    with model:
        prior = pm.sample_prior_predictive(draws=1, random_seed=seed)
    truth = prior.prior.isel(chain=0, draw=0).reset_coords(drop=True)
    k = prior.prior_predictive["n_correct"].isel(chain=0, draw=0).to_numpy().astype(np.int64)
    out = design.table.copy()
    out["score"] = k / design.n_items
    return Simulation(table=out, truth=truth, design=replace(design, table=out, n_correct=k))


def coverage(draws: xr.DataArray, truth: xr.DataArray, interval: float = 0.9) -> float:
    """Return the share of true values inside their central posterior intervals.

    Parameters
    ----------
    draws
        Posterior draws with dims (chain, draw, ...).
    truth
        True values with the remaining dims.
    interval
        Central interval probability.

    Returns
    -------
    float
        Share of elements whose truth lies inside the interval.
    """
    lo = draws.quantile((1 - interval) / 2, dim=("chain", "draw"))
    hi = draws.quantile(1 - (1 - interval) / 2, dim=("chain", "draw"))
    inside = (truth >= lo.drop_vars("quantile")) & (truth <= hi.drop_vars("quantile"))
    return float(np.mean(inside.to_numpy()))
