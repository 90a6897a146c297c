"""Posterior predictive checks of a fit: observed vs predicted scores, PSIS-LOO, LOO-PIT.

- :func:`ceg.predictive.posterior_predictive` (shared with the plots) draws
  correct counts of every observation from the fit's posterior with the
  model's own likelihood, seeded with the fit's seed.
- :func:`loo_pit` gives each observation's leave-one-out probability integral
  transform from PSIS weights (randomised for the discrete counts, so it is
  Uniform(0, 1) under a correct model).
- :func:`ppc` puts them together: per observation, predicted vs observed
  score, Pareto-k and LOO-PIT, and a flag for the observations the model
  cannot explain (Pareto-k above :data:`PARETO_K_MAX`, or LOO-PIT outside
  :data:`PIT_RANGE`); per benchmark x condition, the same aggregated.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from ceg.files import write_text_atomic

if TYPE_CHECKING:
    from ceg.fit import Fit

#: Pareto-k above this: the observation's LOO estimate is unreliable (it is too influential).
PARETO_K_MAX = 0.7
#: LOO-PIT outside this range: the observation is in a 2.5% tail of its LOO predictive.
PIT_RANGE = (0.025, 0.975)
#: Central predictive interval of the per-observation table.
INTERVAL = 0.9


def loo_pit(log_likelihood: np.ndarray, predicted: np.ndarray, observed: np.ndarray,
            rng: np.random.Generator, reff: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Return the randomised LOO-PIT and the Pareto-k of each observation.

    ``PIT_i = sum_s w_is [1(y_is < y_i) + v_i 1(y_is = y_i)]`` with PSIS-LOO
    weights ``w_is`` and ``v_i ~ U(0, 1)`` (counts are discrete).

    Parameters
    ----------
    log_likelihood
        Pointwise log-likelihood, shape (sample, observation).
    predicted
        Posterior predictive draws of the same samples, shape (sample, observation).
    observed
        Observed values, shape (observation,).
    rng
        Generator of the randomisation.
    reff
        Relative efficiency of the draws (ESS / draws).

    Returns
    -------
    pit : numpy.ndarray
        In [0, 1], per observation.
    pareto_k : numpy.ndarray
        Shape parameter of the fitted generalised Pareto tail, per observation.
    """
    import arviz as az

    ll = np.asarray(log_likelihood, dtype=float)
    yrep = np.asarray(predicted)
    y = np.asarray(observed)[None, :]
    if ll.shape != yrep.shape or ll.shape[1] != y.shape[1]:
        raise ValueError(f"log_likelihood {ll.shape}, predicted {yrep.shape} and observed "
                         f"{y.shape[1:]} do not line up as (sample, observation)")
    lw, k = az.psislw(-ll.T, reff=reff)
    w = np.exp(lw).T  # (sample, observation), normalised per observation
    below = (w * (yrep < y)).sum(0)
    equal = (w * (yrep == y)).sum(0)
    pit = np.clip(below + rng.uniform(size=below.shape) * equal, 0.0, 1.0)
    return pit, np.asarray(k, dtype=float)


@dataclass
class PpcResult:
    """Posterior predictive checks of one fit.

    Attributes
    ----------
    observations
        One row per observation: table columns, ``score``, ``pred_mean``,
        ``pred_low``/``pred_high`` (90%), ``pareto_k``, ``loo_pit``,
        ``flagged`` and ``reason``.
    groups
        Per (benchmark, condition): ``n``, ``observed_mean``, ``predicted_mean``,
        ``coverage_90``, ``n_flagged``, ``max_pareto_k``.
    loo
        ``elpd_loo``, ``se``, ``p_loo``, ``n_pareto_k_gt_0.7``.
    """

    observations: pd.DataFrame
    groups: pd.DataFrame
    loo: dict[str, float] = field(default_factory=dict)

    @property
    def flagged(self) -> pd.DataFrame:
        """The observations the model cannot explain."""
        return self.observations[self.observations["flagged"]]

    def write(self, folder: Path | str) -> list[Path]:
        """Write ``ppc_observations.csv``, ``ppc_groups.csv`` and ``ppc.json``.

        Parameters
        ----------
        folder
            Destination (created).

        Returns
        -------
        list of pathlib.Path
            The files written.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        out = []
        for name, text in (
            ("ppc_observations.csv", self.observations.to_csv(index=False, float_format="%.5g",
                                                              lineterminator="\n")),
            ("ppc_groups.csv", self.groups.to_csv(float_format="%.5g", lineterminator="\n")),
            ("ppc.json", json.dumps({"loo": self.loo, "n_flagged": int(len(self.flagged))},
                                    indent=1) + "\n"),
        ):
            out.append(write_text_atomic(folder / name, text))
        return out


def _reason(k: float, pit: float) -> str:
    parts = []
    if k > PARETO_K_MAX:
        parts.append(f"k {k:.2f} > {PARETO_K_MAX}")
    if pit < PIT_RANGE[0]:
        parts.append(f"PIT {pit:.3f}: too low")
    elif pit > PIT_RANGE[1]:
        parts.append(f"PIT {pit:.3f}: too high")
    return "; ".join(parts)


def ppc(fit: Fit, seed: int | None = None, max_draws: int = 4000) -> PpcResult:
    """Run the posterior predictive checks of a fit.

    Parameters
    ----------
    fit
        A fit with a ``log_likelihood`` group (every fit made by ``ceg``).
    seed
        Seed of the predictive draws and the PIT randomisation; the fit's by
        default.
    max_draws
        Posterior draws used (evenly thinned within each chain), for the
        replicates and the LOO weights alike.

    Returns
    -------
    PpcResult
        Per observation, per benchmark x condition, and the LOO summary.
    """
    import arviz as az

    from ceg.predictive import OBSERVED, posterior_predictive

    seed = fit.seed if seed is None else seed
    predictive = posterior_predictive(fit, max_draws=max_draws, seed=seed)

    def samples(da: xr.DataArray) -> np.ndarray:
        return da.stack(sample=("chain", "draw")).transpose("sample", "observation").to_numpy()

    yrep = samples(predictive.posterior_predictive[OBSERVED])
    ll = samples(predictive.log_likelihood[OBSERVED])
    design = fit.design
    y = design.n_correct
    n = design.n_items.astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # arviz warns about high Pareto k; we report them
        loo = az.loo(predictive, var_name=OBSERVED, pointwise=True)
        ess = float(np.nanmean(az.ess(predictive.log_likelihood)[OBSERVED].to_numpy()))
    reff = min(1.0, ess / yrep.shape[0]) if np.isfinite(ess) else 1.0
    pit, k = loo_pit(ll, yrep, y, np.random.default_rng(seed), reff=reff)
    s = yrep / n[None, :]
    lo, hi = np.quantile(s, [(1 - INTERVAL) / 2, (1 + INTERVAL) / 2], axis=0)
    t = design.table
    obs = t[["family", "model", "train_flop", "benchmark", "condition", "source"]].copy()
    obs.insert(0, "observation", np.arange(len(t)))
    obs["score"] = y / n
    obs["pred_mean"] = s.mean(0)
    obs["pred_low"], obs["pred_high"] = lo, hi
    obs["pareto_k"] = np.asarray(loo.pareto_k).ravel()
    obs["loo_pit"] = pit
    obs["reason"] = [_reason(kk, pp) for kk, pp in zip(obs["pareto_k"], pit, strict=True)]
    obs["flagged"] = obs["reason"] != ""
    inside = (obs["score"] >= lo - 1e-12) & (obs["score"] <= hi + 1e-12)
    g = obs.assign(inside=inside).groupby(["benchmark", "condition"], sort=True)
    groups = pd.DataFrame({
        "n": g.size(),
        "observed_mean": g["score"].mean(),
        "predicted_mean": g["pred_mean"].mean(),
        "coverage_90": g["inside"].mean(),
        "n_flagged": g["flagged"].sum().astype(int),
        "max_pareto_k": g["pareto_k"].max(),
    })
    summary = {"elpd_loo": float(loo.elpd_loo), "se": float(loo.se), "p_loo": float(loo.p_loo),
               "n_pareto_k_gt_0.7": int((obs["pareto_k"] > PARETO_K_MAX).sum()),
               "n_loo_pit_outside": int(((pit < PIT_RANGE[0]) | (pit > PIT_RANGE[1])).sum()),
               "n_observations": int(len(obs)), "coverage_90": float(inside.mean())}
    return PpcResult(observations=obs, groups=groups, loo=summary)


__all__ = ["INTERVAL", "PARETO_K_MAX", "PIT_RANGE", "PpcResult", "loo_pit", "ppc"]
