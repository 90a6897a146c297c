"""Summary tables of CEG posteriors: what ``fit.summary()`` and ``ceg summary`` show.

The functions read a fit through :class:`FitResult` (what they need of it), so
this module does not import :mod:`ceg.fit`; :mod:`ceg.fit` imports this one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np
import pandas as pd
import xarray as xr

from ceg import derived
from ceg.paper_method import paper_ceg
from ceg.table import BASE

if TYPE_CHECKING:
    from ceg.design import Design
    from ceg.registry import Registries
    from ceg.spec import ModelSpec

#: Central interval reported, and the CEG thresholds whose exceedance is reported.
INTERVAL = 0.90
THRESHOLDS = (1.0, 5.0, 20.0)
By = Literal["enhancement", "benchmark", "category", "observation"]
#: Cost columns of the enhancement and benchmark summaries (see :func:`cost_columns`).
COST_COLUMNS = ("finetune_compute_fraction", "p_gt_1_plus_finetune",
                "inference_cost_multiplier", "median_ceg_net_inference")


class FitResult(Protocol):
    """What the summaries read of a fit; a :class:`ceg.fit.Fit` is one."""

    @property
    def table(self) -> pd.DataFrame:
        """The validated evaluation table."""

    @property
    def spec(self) -> ModelSpec:
        """The model spec (for ``x_ref``)."""

    @property
    def registries(self) -> Registries:
        """The registries (categories and costs of the enhancements)."""

    @property
    def design(self) -> Design:
        """The design of the fitted table."""

    @property
    def posterior(self) -> xr.Dataset:
        """The posterior draws."""

    @property
    def quantities(self) -> xr.Dataset:
        """The CEG quantities in log10 units (see :attr:`ceg.fit.Fit.quantities`)."""


def _flat(log10_ceg: xr.DataArray, dim: str) -> np.ndarray:
    """Return the draws as an array of shape (``dim``, chain x draw)."""
    return (log10_ceg.reset_coords(drop=True).rename("log10_ceg")
            .stack(sample=("chain", "draw")).transpose(dim, "sample").to_numpy())


def posterior_stats(log10_ceg: xr.DataArray, dim: str) -> pd.DataFrame:
    """Summarise draws of log10 CEG along ``dim``.

    Parameters
    ----------
    log10_ceg
        Draws with dims (chain, draw, ``dim``).
    dim
        The dimension whose labels become the rows.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``dim``: ``median_ceg``, ``ceg_low`` and ``ceg_high`` (the
        central 90% interval), ``median_log10_ceg``, and ``p_gt_1``,
        ``p_gt_5``, ``p_gt_20`` (posterior probability that the CEG exceeds
        each threshold).
    """
    lo, hi = (1 - INTERVAL) / 2, 1 - (1 - INTERVAL) / 2
    flat = _flat(log10_ceg, dim)
    q = np.quantile(flat, [lo, 0.5, hi], axis=1)
    out = pd.DataFrame({
        "median_ceg": 10 ** q[1], "ceg_low": 10 ** q[0], "ceg_high": 10 ** q[2],
        "median_log10_ceg": q[1],
    }, index=pd.Index(log10_ceg.get_index(dim).to_numpy(), name=dim))
    for t in THRESHOLDS:
        out[f"p_gt_{t:g}"] = (flat > np.log10(t)).mean(axis=1)
    return out


def cost_columns(log10_ceg: xr.DataArray, dim: str, enhancements: np.ndarray,
                 registry: pd.DataFrame, median_ceg: np.ndarray) -> pd.DataFrame:
    """Return what an enhancement's costs make of its CEG draws.

    A CEG is a multiple of pre-training compute; an enhancement also costs
    fine-tuning compute (a share ``f`` of pre-training) and multiplies the
    cost of each answer at inference (``m``, e.g. 40 for self-consistency's 40
    samples). The enhancement registry gives both where they are known.

    Parameters
    ----------
    log10_ceg
        Draws with dims (chain, draw, ``dim``).
    dim
        The dimension whose labels are the rows.
    enhancements
        The enhancement (registry slug) of each row, in ``dim`` order.
    registry
        The enhancement registry (``finetune_compute_fraction``,
        ``inference_cost_multiplier``), indexed by slug.
    median_ceg
        The rows' posterior median CEG (:func:`posterior_stats`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COST_COLUMNS`, one row per label of ``dim``:

        - ``finetune_compute_fraction``: ``f``, from the registry.
        - ``p_gt_1_plus_finetune``: P(CEG > 1 + f): the probability that the
          enhancement gains more effective compute than its fine-tuning
          costs, i.e. that it beats spending the same compute on more
          pre-training (Davidson et al.'s "fine-tuning typically < 1% of
          pre-training" as a probability). For ``f = 0`` it equals ``p_gt_1``.
        - ``inference_cost_multiplier``: ``m``, from the registry.
        - ``median_ceg_net_inference``: ``median_ceg / m``, the CEG per unit
          of extra inference compute: below 1, the enhancement multiplies
          the cost of each answer by more than it multiplies effective
          pre-training compute.

        Missing (NaN) where the registry does not give the cost (``m`` must
        be > 0 to count as given).
    """
    reg = registry.reindex(np.asarray(enhancements))
    return pd.DataFrame(cost_stats(_flat(log10_ceg, dim),
                                   reg["finetune_compute_fraction"].to_numpy(dtype=float),
                                   reg["inference_cost_multiplier"].to_numpy(dtype=float),
                                   median_ceg), index=log10_ceg.get_index(dim))


def cost_stats(log10_ceg: np.ndarray, finetune_fraction: np.ndarray,
               inference_multiplier: np.ndarray, median_ceg: np.ndarray
               ) -> dict[str, np.ndarray]:
    """Return the cost columns of :func:`cost_columns` from plain arrays.

    Parameters
    ----------
    log10_ceg
        Draws of log10 CEG, shape (rows, draws).
    finetune_fraction, inference_multiplier
        Each row's fine-tuning share ``f`` and inference-cost multiplier
        ``m`` (NaN where unknown).
    median_ceg
        Each row's median CEG.

    Returns
    -------
    dict of str to numpy.ndarray
        The arrays of :data:`COST_COLUMNS`, one value per row.
    """
    f = np.asarray(finetune_fraction, dtype=float)
    m = np.asarray(inference_multiplier, dtype=float)
    known = ~np.isnan(f)
    p = np.full(len(f), np.nan)
    p[known] = (log10_ceg[known] > np.log10(1.0 + f[known])[:, None]).mean(axis=1)
    m = np.where(m > 0, m, np.nan)
    return {"finetune_compute_fraction": f, "p_gt_1_plus_finetune": p,
            "inference_cost_multiplier": m,
            "median_ceg_net_inference": np.asarray(median_ceg, dtype=float) / m}


def _paper(fit: FitResult) -> pd.DataFrame:
    p = paper_ceg(fit.table)
    p.index = np.flatnonzero(fit.table["condition"].to_numpy() != BASE)
    return p


def summarise(fit: FitResult, by: By = "enhancement") -> pd.DataFrame:
    """Return the CEG summary of a fit.

    Parameters
    ----------
    fit
        A :class:`~ceg.fit.Fit`.
    by
        ``"enhancement"`` (at x_ref, averaged over benchmarks),
        ``"benchmark"`` (enhancement x benchmark at x_ref), ``"category"``
        (pooled mean and the predictive for a new enhancement), or
        ``"observation"`` (each enhanced row at its own compute).

    Returns
    -------
    pandas.DataFrame
        :func:`posterior_stats` columns plus ``category``,
        ``extrapolated_share`` and the paper's deterministic value
        (``paper_ceg``: median over the rows measuring that enhancement
        alone; per observation, the row's own value and ``paper_method``).
        By enhancement and by benchmark, also the cost columns
        :data:`COST_COLUMNS` (see :func:`cost_columns`): P(CEG > 1 +
        fine-tuning share) and the median CEG net of inference cost.
    """
    q, design, x_ref = fit.quantities, fit.design, fit.spec.x_ref
    cat = fit.registries.enhancements["category"]
    paper = _paper(fit)
    if by == "enhancement":
        out = posterior_stats(q["log10_ceg_enhancement"], "enhancement")
        out.insert(0, "category", cat.reindex(out.index).to_numpy())
        out["extrapolated_share"] = derived.extrapolated_share_enhancement(
            q["log10_ceg_enhancement"], design, x_ref).to_series()
        out["decades_outside_measured"] = derived.decades_outside_measured(
            design, x_ref).reindex(out.index)
        out["paper_ceg"] = paper.groupby("condition")["ceg"].median().reindex(out.index)
        costs = cost_columns(q["log10_ceg_enhancement"], "enhancement", out.index.to_numpy(),
                             fit.registries.enhancements, out["median_ceg"].to_numpy())
        out = out.join(costs)
        return out.sort_values(["category", "median_ceg"], ascending=[True, False])
    if by == "benchmark":
        eb = q["log10_ceg_enhancement_benchmark"]
        out = posterior_stats(eb, "enhancement_benchmark")
        out.insert(0, "benchmark", eb["pair_benchmark"].to_numpy())
        out.insert(0, "enhancement", eb["pair_enhancement"].to_numpy())
        out.insert(1, "category", cat.reindex(out["enhancement"]).to_numpy())
        out["extrapolated_share"] = derived.extrapolated_share_enhancement_benchmark(
            eb, design, x_ref).to_numpy()
        med = paper.groupby(["condition", "benchmark"])["ceg"].median()
        out["paper_ceg"] = [med.get((e, b), np.nan) for e, b in
                            zip(out["enhancement"], out["benchmark"], strict=True)]
        costs = cost_columns(eb, "enhancement_benchmark", out["enhancement"].to_numpy(),
                             fit.registries.enhancements, out["median_ceg"].to_numpy())
        out = out.join(costs)
        return out.reset_index(drop=True)
    if by == "category":
        pooled = posterior_stats(q["log10_ceg_category"], "category")
        new = posterior_stats(q["log10_ceg_new_enhancement"].rename(new_category="category"),
                              "category")
        pooled.insert(0, "quantity", "pooled mean")
        new.insert(0, "quantity", "new enhancement (predictive)")
        n_enh = cat.value_counts()
        out = pd.concat([pooled, new]).reset_index()
        out.insert(2, "n_enhancements", n_enh.reindex(out["category"]).fillna(0).astype(int)
                   .to_numpy())
        return out
    if by == "observation":
        obs = q["log10_ceg_observation"]
        out = posterior_stats(obs, "enhanced_observation")
        t = design.table.iloc[out.index]
        for col in ("score", "train_flop", "condition", "benchmark", "model", "family"):
            out.insert(0, col, t[col].to_numpy())
        out["extrapolated_share"] = derived.extrapolated_share_observation(
            obs, fit.posterior, design).to_numpy()
        out["paper_ceg"] = paper.loc[out.index, "ceg"].to_numpy()
        out["paper_method"] = paper.loc[out.index, "method"].to_numpy()
        out["source"] = t["source"].to_numpy()
        return out.rename_axis("observation")
    from ceg.errors import CegError

    raise CegError(f"unknown summary level {by!r}; use one of "
                   "['enhancement', 'benchmark', 'category', 'observation']")


def headline(fit: FitResult, roles: tuple[str, ...] = derived.HEADLINE_ROLES) -> pd.DataFrame:
    """Return the paper's headline claims restated as posterior probabilities.

    Davidson et al. (2023) say most enhancements exceed 5x and some exceed
    20x. For each threshold this gives the posterior of the share of the
    fitted enhancements whose CEG (at x_ref, averaged over benchmarks)
    exceeds it: its mean and 90% interval, P(share > 1/2) ("most") and
    P(share > 0) ("some"). The share is over a declared set: by default the
    standalone enhancements (registry ``role``), not increments measured
    only on top of another enhancement nor ablation controls; the set is
    stated in the ``enhancements`` column.

    Parameters
    ----------
    fit
        A fit.
    roles
        Roles of the enhancements counted (see :data:`ceg.registry.ROLES`).

    Returns
    -------
    pandas.DataFrame
        Indexed by threshold: ``mean_share``, ``share_low``, ``share_high``,
        ``p_most``, ``p_some``, ``n_enhancements`` and ``enhancements``
        (the set, comma-separated).
    """
    from ceg.errors import CegError

    ceg = fit.quantities["log10_ceg_enhancement"]
    chosen = derived.headline_set(ceg["enhancement"].to_numpy(),
                                  fit.registries.enhancements["role"], roles)
    if not chosen:
        raise CegError(f"no fitted enhancement has a role in {list(roles)}: the headline "
                       "needs at least one (see the registry's role column)")
    shares = derived.headline_shares(ceg.sel(enhancement=chosen))
    rows = []
    for t in shares["threshold"].to_numpy():
        s = shares.sel(threshold=t).to_numpy().ravel()
        rows.append({"threshold": float(t), "mean_share": s.mean(),
                     "share_low": np.quantile(s, 0.05), "share_high": np.quantile(s, 0.95),
                     "p_most": (s > 0.5).mean(), "p_some": (s > 0).mean(),
                     "n_enhancements": len(chosen), "enhancements": ", ".join(chosen)})
    return pd.DataFrame(rows).set_index("threshold")
