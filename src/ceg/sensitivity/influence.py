r"""What the CEGs rest on: the influence of each source, family, benchmark or model, no refit.

Leave one group of rows out by Pareto-smoothed importance sampling (PSIS;
Vehtari, Gelman & Gabry 2017, the method of ``arviz.loo``, applied to the
summed log likelihood of a group instead of one row). With
:math:`\ell_g(\theta) = \sum_{i \in g} \log p(y_i \mid \theta)`, the weights
:math:`w_s \propto 1 / p(y_g \mid \theta_s) = e^{-\ell_g(\theta_s)}` turn the
posterior draws into draws of the posterior *without* group :math:`g`. Each
quantity of :func:`ceg.sensitivity.power_scaling.fit_quantities` (every
enhancement's and category's log10 CEG, the new-enhancement predictive, the
headline) is re-estimated under those weights, so one saved fit says how far
each CEG would move if a source (GPT-3's Table H.1, say), a family or a
benchmark were dropped.

Reliability
    The Pareto :math:`\hat k` of each group's smoothed weights says whether the
    reweighted draws represent the leave-group-out posterior. Above
    :data:`MAX_PARETO_K` (0.7) they do not: the group is too influential for
    a local estimate, and the answer needs a refit without it (the sweep grid's
    ``drop_*`` variants: ``ceg sensitivity sweep``). Large groups (a source of
    hundreds of rows) usually exceed it; that is itself the answer "this
    group matters; refit to say how much".

The group's leave-out log predictive density (``elpd_loo``) is reported beside
it: how well the rest of the data predict the group (higher is better; a
group the rest predicts badly is one the model describes differently).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, get_args

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import logsumexp

from ceg.errors import CegError
from ceg.sensitivity.power_scaling import MAX_PARETO_K, fit_quantities

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ceg.fit import Fit

GroupBy = Literal["source", "family", "benchmark", "model"]
GROUP_BY: tuple[str, ...] = get_args(GroupBy)


def group_labels(table: pd.DataFrame, by: GroupBy) -> np.ndarray:
    """Return each row's group under ``by`` (sources keyed on their id, without notes).

    Parameters
    ----------
    table
        The fit's evaluation table, one row per observation.
    by
        ``"source"``, ``"family"``, ``"benchmark"`` or ``"model"``.

    Returns
    -------
    numpy.ndarray
        One string per row; ``"(none)"`` where the column is empty.

    Raises
    ------
    CegError
        If ``by`` is not one of :data:`GROUP_BY`.
    """
    if by not in GROUP_BY:
        raise CegError(f"cannot group by {by!r}: choose one of {', '.join(GROUP_BY)}")
    if by not in table.columns:
        return np.full(len(table), "(none)", dtype=object)
    values = table[by].astype(object).where(table[by].notna(), "(none)")
    if by == "source":
        from ceg.design import source_id

        values = values.map(lambda s: s if s == "(none)" else source_id(str(s)))
    return values.astype(str).to_numpy()


def group_log_likelihood(log_likelihood: xr.DataArray, labels: np.ndarray) -> xr.DataArray:
    """Return the log likelihood summed over each group's rows, per draw.

    Parameters
    ----------
    log_likelihood
        Pointwise log likelihood, dims (chain, draw, observation).
    labels
        The group of each observation, in the observation dim's order (the table's rows).

    Returns
    -------
    xarray.DataArray
        Dims (chain, draw, group); groups sorted.
    """
    obs_dim = [d for d in log_likelihood.dims if d not in ("chain", "draw")]
    if len(obs_dim) != 1 or log_likelihood.sizes[obs_dim[0]] != len(labels):
        raise CegError(f"the log likelihood has dims {log_likelihood.dims}; expected (chain, "
                       f"draw, observation) with {len(labels)} observations, one per table row")
    grouped = log_likelihood.assign_coords(group=(obs_dim[0], labels)).groupby("group").sum()
    return grouped.transpose("chain", "draw", "group")


def leave_group_out_weights(group_ll: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    """Return the PSIS log weights of leaving each group out, and their Pareto k.

    Parameters
    ----------
    group_ll
        Summed log likelihood per group, dims (chain, draw, group).

    Returns
    -------
    log_weights : numpy.ndarray
        Shape (sample, group), normalised over the samples (chain and draw stacked).
    pareto_k : numpy.ndarray
        One per group.
    """
    ll = group_ll.stack(__sample__=("chain", "draw")).transpose("group", "__sample__")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # k > 0.7 is reported per group instead
        lw, k = az.psislw(-ll.to_numpy(), reff=1.0)
    return np.asarray(lw).T, np.atleast_1d(np.asarray(k, dtype=float))


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """Return the median of ``values`` under normalised ``weights`` (the lower at a tie).

    Parameters
    ----------
    values, weights
        One-dimensional, the same length; weights non-negative, summing to 1.

    Returns
    -------
    float
        The smallest value whose cumulative weight reaches 1/2.
    """
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, 0.5 - 1e-12)])


def _estimates(draws: np.ndarray, weights: np.ndarray | None, var: str) -> float:
    """Return a quantity's estimate as reported: median CEG, or a probability / mean share."""
    w = np.full(draws.size, 1 / draws.size) if weights is None else weights
    if var.startswith("headline"):
        return float(np.sum(w * draws))
    return float(10 ** weighted_median(draws, w))


def influence_table(quantities: xr.Dataset, group_ll: xr.DataArray, n_rows: pd.Series,
                    by: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the groups' reliability table and the quantities with and without each group.

    Parameters
    ----------
    quantities
        Draws of the reported quantities, dims (chain, draw, ...) (from
        :func:`ceg.sensitivity.power_scaling.fit_quantities`).
    group_ll
        Summed log likelihood per group, dims (chain, draw, group).
    n_rows
        Rows per group, indexed by group.
    by
        What the groups are (a column name), for the tables' first column.

    Returns
    -------
    groups : pandas.DataFrame
        One row per group: ``n_rows``, ``pareto_k``, ``reliable`` (k at most 0.7),
        ``elpd_loo`` (the group's leave-out log predictive density).
    shifts : pandas.DataFrame
        One row per (group, quantity, label): ``estimate`` (all data),
        ``without`` (group left out, by PSIS), ``log10_ratio`` (for CEGs:
        log10 of without / estimate; for the headline: the difference), ``reliable``.
    """
    lw, k = leave_group_out_weights(group_ll)
    ll = group_ll.stack(__sample__=("chain", "draw")).transpose("__sample__", "group").to_numpy()
    names = [str(g) for g in group_ll["group"].to_numpy()]
    elpd = logsumexp(lw + ll, axis=0)  # log of the weighted mean of p(y_g | theta)
    groups = pd.DataFrame({by: names, "n_rows": n_rows.reindex(names).to_numpy(),
                           "pareto_k": k, "reliable": k <= MAX_PARETO_K, "elpd_loo": elpd})
    weights = np.exp(lw)
    rows = []
    q = quantities.stack(__sample__=("chain", "draw"))
    for var, da in q.data_vars.items():
        other = [d for d in da.dims if d != "__sample__"]
        flat = da.transpose(*other, "__sample__")
        labels = (flat[other[0]].to_numpy() if other else [None])
        values = flat.to_numpy().reshape(len(labels), -1)
        for label, draws in zip(labels, values, strict=True):
            full = _estimates(draws, None, var)
            for j, g in enumerate(names):
                without = _estimates(draws, weights[:, j], var)
                change = (without - full if var.startswith("headline")
                          else float(np.log10(without / full)))
                rows.append({by: g, "quantity": var,
                             "label": f"{float(label):g}x" if var.startswith("headline")
                             else str(label), "estimate": full, "without": without,
                             "change": change, "reliable": bool(k[j] <= MAX_PARETO_K)})
    return groups, pd.DataFrame(rows)


@dataclass
class InfluenceResult:
    """Leave-one-group-out influence of a fit's groups on its CEGs and headline.

    Attributes
    ----------
    by
        What the groups are.
    groups
        One row per group: rows, Pareto k, reliable, leave-out elpd.
    shifts
        One row per (group, quantity, label): the estimate with all data,
        without the group, and the change (log10 of the CEG ratio; the
        difference for headline probabilities and shares).
    figures
        ``"influence"``: :func:`influence_figure`, when asked for.
    """

    by: str
    groups: pd.DataFrame
    shifts: pd.DataFrame
    figures: dict[str, Figure] = field(default_factory=dict)

    @property
    def table(self) -> pd.DataFrame:
        """The shifts, largest absolute change first (reliable groups before the others)."""
        order = self.shifts.assign(size=self.shifts["change"].abs())
        return order.sort_values(["reliable", "size"], ascending=[False, False]).drop(
            columns="size").reset_index(drop=True)

    def unreliable(self) -> list[str]:
        """Return the groups whose Pareto k exceeds 0.7 (refit without them to know)."""
        return self.groups.loc[~self.groups["reliable"], self.by].tolist()

    def __str__(self) -> str:
        head = (f"Leave-one-{self.by}-out influence (PSIS, no refit); {len(self.groups)} "
                f"groups; Pareto k > {MAX_PARETO_K} (refit to know): "
                + (", ".join(self.unreliable()) or "none"))
        groups = self.groups.to_string(index=False, float_format=lambda v: f"{v:.3g}")
        ceg = self.table[self.table["quantity"] == "ceg_enhancement"]
        return "\n".join([head, groups, "", "Largest moves of an enhancement's median CEG "
                          "(change = log10 of without / with):",
                          ceg.head(15).to_string(index=False,
                                                 float_format=lambda v: f"{v:.3g}")])


def influence_figure(result: InfluenceResult) -> Figure:
    """Return a heat map of each enhancement's CEG change without each group.

    Parameters
    ----------
    result
        A leave-one-group-out result.

    Returns
    -------
    matplotlib.figure.Figure
        Rows: groups; columns: enhancements; colour: log10 of the median CEG
        without the group over the median with it. Groups whose Pareto k
        exceeds 0.7 are hatched and marked "refit": their colour is not to be
        trusted.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    rows = result.shifts[result.shifts["quantity"] == "ceg_enhancement"]
    grid = rows.pivot(index=result.by, columns="label", values="change")
    reliable = result.groups.set_index(result.by)["reliable"]
    labels = [(g if len(g) <= 40 else g[:39] + "…")
              + ("" if reliable.get(g, True) else f" (k > {MAX_PARETO_K}: refit)")
              for g in grid.index]
    label_width = 0.065 * max(len(x) for x in labels)  # inches of 7-point text
    fig = Figure(figsize=(2.0 + label_width + 0.4 * grid.shape[1],
                          2.2 + 0.22 * grid.shape[0]), layout="constrained")
    ax = fig.subplots()
    bound = max(float(np.nanmax(np.abs(grid.to_numpy()))), 1e-3)
    image = ax.imshow(grid.to_numpy(), cmap="RdBu_r", vmin=-bound, vmax=bound, aspect="auto")
    for i, g in enumerate(grid.index):
        if not reliable.get(g, True):
            ax.add_patch(Rectangle((-0.5, i - 0.5), grid.shape[1], 1, fill=False, hatch="//",
                                   lw=0))
    ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(grid.shape[0]), labels, fontsize=7)
    fig.colorbar(image, ax=ax, label="log10 CEG: without the group - with it")
    ax.set_title(f"Median CEG without each {result.by} (PSIS, no refit)", fontsize=9)
    return fig


def group_influence(fit: Fit, by: GroupBy = "source", figures: bool = False
                    ) -> InfluenceResult:
    """Return how far each CEG and the headline would move without each group of rows.

    Parameters
    ----------
    fit
        A fit with a ``log_likelihood`` group (``ceg fit`` stores it).
    by
        Group the rows by ``"source"`` (the default: which paper a number rests
        on), ``"family"``, ``"benchmark"`` or ``"model"``.
    figures
        Also draw :func:`influence_figure`.

    Returns
    -------
    InfluenceResult
        The groups (rows, Pareto k, reliability, leave-out elpd) and each
        quantity's estimate with and without each group.

    Raises
    ------
    CegError
        If the fit has no log likelihood or ``by`` is unknown.

    Notes
    -----
    With a (model, benchmark) residual on the ability scale (the
    ``ability_residual`` switch), rows of one model on one benchmark share a
    parameter; groups that contain all of a (model, benchmark)'s rows (by
    model, family, benchmark) stay valid leave-out units, while a source
    that splits such a pair leaves part of it in.
    """
    if "log_likelihood" not in fit.idata.groups():
        raise CegError("the fit has no log_likelihood group, which leave-group-out needs; "
                       "refit it with 'ceg fit' (it stores one)")
    labels = group_labels(fit.table.reset_index(drop=True), by)
    ll_group = fit.idata.log_likelihood
    da = ll_group[next(iter(ll_group.data_vars))]
    grouped = group_log_likelihood(da, labels)
    n_rows = pd.Series(labels).value_counts()
    groups, shifts = influence_table(fit_quantities(fit), grouped, n_rows, by)
    result = InfluenceResult(by=by, groups=groups, shifts=shifts)
    if figures:
        result.figures["influence"] = influence_figure(result)
    return result


__all__ = ["GROUP_BY", "GroupBy", "InfluenceResult", "group_influence", "group_labels",
           "group_log_likelihood", "influence_figure", "influence_table", "leave_group_out_weights",
           "weighted_median"]
