"""Predictive checks: replicated against observed scores per benchmark, and LOO-PIT."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import arviz as az
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ceg.plots._common import choose, panel_grid
from ceg.predictive import OBSERVED, posterior_predictive, predictive_scores, randomised
from ceg.summary import INTERVAL
from ceg.table import BASE

if TYPE_CHECKING:
    from ceg.fit import Fit


def ppc_table(fit: Fit, predictive: az.InferenceData) -> pd.DataFrame:
    """Return, per observation, the observed score and its replicated median and interval.

    Parameters
    ----------
    fit
        The fit the replicates come from.
    predictive
        Output of :func:`ceg.predictive.posterior_predictive`.

    Returns
    -------
    pandas.DataFrame
        One row per observation: ``benchmark``, ``condition``, ``score``,
        ``median``, ``low``, ``high`` (the central :data:`ceg.summary.INTERVAL`
        interval of the replicated score) and ``inside`` (bool).
    """
    rep = predictive_scores(predictive).stack(sample=("chain", "draw"))
    q = rep.quantile([(1 - INTERVAL) / 2, 0.5, (1 + INTERVAL) / 2], dim="sample")
    q = q.transpose("quantile", "observation").to_numpy()
    t = fit.design.table
    observed = fit.design.n_correct / fit.design.n_items
    return pd.DataFrame({
        "benchmark": t["benchmark"].to_numpy(), "condition": t["condition"].to_numpy(),
        "score": observed, "median": q[1], "low": q[0], "high": q[2],
        "inside": (observed >= q[0]) & (observed <= q[2]),
    })


def ppc(fit: Fit, benchmarks: Iterable[str] | None = None, *,
        predictive: az.InferenceData | None = None, max_draws: int = 1000,
        ncols: int = 5) -> Figure:
    """Plot replicated against observed scores, one panel per benchmark.

    Each observation is a point at (observed score, median replicated
    score) with the central 90% interval of the replicated score as a
    vertical bar, base rows grey and enhanced rows orange; a point whose
    observed score falls outside its interval is red. The diagonal is
    perfect agreement. The title gives how many observed scores lie inside
    their 90% interval (about 90% if the model is well calibrated).
    Replicates are drawn by the model itself
    (:func:`ceg.predictive.posterior_predictive`, seeded with the
    fit's seed); the observed score is ``n_correct / n_items``, the count
    the model saw.

    Parameters
    ----------
    fit
        A fit (fresh or loaded) whose posterior holds the model's variables.
    benchmarks
        Which to show; all by default.
    predictive
        Replicates computed before (to share them with :func:`loo_pit`);
        drawn here if ``None``.
    max_draws
        Posterior draws replicated when ``predictive`` is ``None``.
    ncols
        Panels per row.

    Returns
    -------
    matplotlib.figure.Figure
        Artists carry gids: ``diagonal``, ``inside``, ``outside``.
    """
    chosen = choose(benchmarks, fit.design.coords["benchmark"], "benchmark")
    predictive = predictive if predictive is not None else posterior_predictive(fit, max_draws)
    table = ppc_table(fit, predictive)
    fig, axes = panel_grid(len(chosen), ncols, (2.7, 2.8), legend_height=0.35,
                           pad=(0.55, 0.15, 0.5, 0.45))
    for ax, b in zip(axes, chosen, strict=True):
        rows = table[table["benchmark"] == b]
        for gid, part in (("inside", rows[rows["inside"]]), ("outside", rows[~rows["inside"]])):
            colours = ["C3" if gid == "outside" else ("0.45" if c == BASE else "C1")
                       for c in part["condition"]]
            ax.vlines(part["score"], part["low"], part["high"], colors=colours, lw=0.7,
                      alpha=0.7, gid=gid)
            ax.scatter(part["score"], part["median"], c=colours, s=9, zorder=3, gid=gid)
        ax.plot([0, 1], [0, 1], color="0.3", lw=0.8, ls="--", gid="diagonal")
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        n_in = int(rows["inside"].sum())
        ax.set_title(f"{b}\n{n_in}/{len(rows)} inside {INTERVAL:.0%}", fontsize=8)
        ax.set_xlabel("observed score", fontsize=7)
        ax.set_ylabel("replicated score", fontsize=7)
        ax.tick_params(labelsize=6)
    handles = [Line2D([], [], color="0.45", marker="o", ms=3, label="base row"),
               Line2D([], [], color="C1", marker="o", ms=3, label="enhanced row"),
               Line2D([], [], color="C3", marker="o", ms=3,
                      label=f"outside its {INTERVAL:.0%} interval"),
               Line2D([], [], color="0.3", ls="--", label="replicated = observed")]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False)
    return fig


def loo_pit(fit: Fit, *, predictive: az.InferenceData | None = None, max_draws: int = 1000,
            seed: int | None = None, ax: Axes | None = None) -> Figure:
    """Plot the randomised LOO-PIT of every observation against the uniform.

    The leave-one-out probability integral transform (``arviz.plot_loo_pit``,
    ECDF minus the uniform CDF, with its 94% simultaneous band) of the
    counts ``n_correct``, randomised for discreteness
    (:func:`ceg.predictive.randomised`). A calibrated model stays
    inside the band; an S shape means under-dispersed predictions, an
    inverted S over-dispersed ones, a shift a bias.

    Parameters
    ----------
    fit
        A fit (fresh or loaded) whose posterior holds the model's variables.
    predictive
        Replicates computed before (see :func:`ppc`); drawn here if ``None``.
    max_draws
        Posterior draws replicated when ``predictive`` is ``None``.
    seed
        Seed of the randomisation; the fit's seed by default.
    ax
        Axes to draw on; a new figure if ``None``.

    Returns
    -------
    matplotlib.figure.Figure
        The ArviZ plot, titled with the number of observations.
    """
    predictive = predictive if predictive is not None else posterior_predictive(fit, max_draws)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    jittered = randomised(predictive, fit.seed if seed is None else seed)
    az.plot_loo_pit(jittered, y=OBSERVED, ecdf=True, ax=ax)
    n = predictive.observed_data[OBSERVED].size
    ax.set_title(f"LOO-PIT of {n} observations (randomised for counts): ECDF − uniform",
                 fontsize=9)
    ax.set_xlabel("LOO-PIT", fontsize=8)
    ax.set_ylabel("ECDF − uniform CDF", fontsize=8)
    ax.tick_params(labelsize=8)
    ax.figure.tight_layout()
    return ax.figure


def loo_pit_values(predictive: az.InferenceData, seed: int) -> np.ndarray:
    """Return the randomised LOO-PIT value of every observation (what :func:`loo_pit` plots).

    Parameters
    ----------
    predictive
        Output of :func:`ceg.predictive.posterior_predictive`.
    seed
        Seed of the randomisation.

    Returns
    -------
    numpy.ndarray
        One value in [0, 1] per observation.
    """
    return np.asarray(az.loo_pit(randomised(predictive, seed), y=OBSERVED))
