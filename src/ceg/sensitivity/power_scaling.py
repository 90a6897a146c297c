r"""Power-scaling sensitivity of the CEGs and the headline to the priors and the likelihood.

Kallioinen et al. (2023), "Detecting and diagnosing prior and likelihood
sensitivity with power-scaling", the method of R's priorsense: raise the
prior (or the likelihood) to a power :math:`\alpha` near 1, reweight the
existing posterior draws by :math:`p^{\alpha - 1}` with Pareto-smoothed
importance sampling (no refit), and measure how far each quantity's
distribution moves: the derivative, in :math:`\log_2 \alpha`, of the
cumulative Jensen-Shannon distance (CJS) between the reweighted and the
original draws, at :math:`\alpha = 1/(1 + \delta)` and :math:`1 + \delta`.

What is scaled
    The prior: only the top-level hyperpriors (the spec's ``[priors]``: each is
    one random variable of that name in the model, and so one ``log_prior``
    variable; those the model's structure does not use are absent), not the
    standardised effects (``*_z``) nor the centred effects given their
    hyperparameters. Scaling the whole joint prior would mostly measure the
    hundreds of effects the data pin down, which is not the question a user
    asks ("does this rest on my choice of pooled mean and sd?"). The
    likelihood: all observations together.

A trap in the installed ArviZ (0.23.4)
    ``arviz.psens`` ignores ``coords`` and ``component_coords``: both are
    applied only when they are ``None`` (``if coords is None:
    dataset.sel(coords)``), i.e. never. ``component_var_names`` does work.
    So the subset is made here, in the data: :func:`sensitivity` is given (or
    :func:`power_scaling` builds) an InferenceData whose ``log_prior`` group
    holds only the hyperprior terms, and ``psens`` sums all of it.

Diagnosis (priorsense's rule, threshold 0.05 on the CJS-based value)
    prior >= threshold and likelihood >= threshold: ``"prior-data conflict"``;
    prior >= threshold and likelihood < threshold: ``"prior dominates (weak
    likelihood)"``; otherwise ``"fine"``. Low values of both are "fine" by this
    rule, although a quantity neither the prior nor the data inform reads the
    same way: this is a local check, not a replacement for the refit sweeps.

Reliability
    The importance weights are Pareto-smoothed (``arviz.psislw``, as
    ``psens`` does); a Pareto :math:`\hat k` above :data:`MAX_PARETO_K` (0.7)
    means the reweighted draws do not represent the power-scaled posterior
    and the local estimate is unreliable. :math:`\hat k` depends on the
    component only (the weights are the same for every quantity).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from ceg import derived
from ceg.errors import CegError, CegWarning

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ceg.fit import Fit

#: Sensitivity at or above which a component is said to matter (priorsense's default).
THRESHOLD = 0.05
#: Pareto k above which the importance-sampling estimate is unreliable.
MAX_PARETO_K = 0.7
#: Power-scaling step: alpha = 1 / (1 + delta) and 1 + delta (psens's and priorsense's default).
DELTA = 0.01
Component = Literal["prior", "likelihood"]
COMPONENTS: tuple[Component, ...] = ("prior", "likelihood")
Diagnosis = Literal["prior-data conflict", "prior dominates (weak likelihood)", "fine",
                    "undetermined"]

#: The quantities of a fit (variables of :func:`fit_quantities`), in table order, described.
QUANTITIES: dict[str, str] = {
    "ceg_enhancement": "enhancement CEG",
    "ceg_category": "category CEG (pooled mean)",
    "ceg_new_enhancement": "new-enhancement CEG (predictive)",
    "headline_share": "share of enhancements above",
    "headline_most": "P(most enhancements above)",
    "headline_some": "P(some enhancement above)",
}


def hyperprior_log_prior(log_prior: xr.Dataset, priors: Iterable[str]) -> xr.Dataset:
    """Return the ``log_prior`` terms of the top-level hyperpriors only.

    Parameters
    ----------
    log_prior
        A fit's ``log_prior`` group: one variable per free random variable
        (hyperpriors, standardised and centred effects, ...).
    priors
        Names of the hyperpriors: the spec's priors (``fit.spec.priors``).

    Returns
    -------
    xarray.Dataset
        The variables of ``log_prior`` named in ``priors``, in that order.

    Raises
    ------
    CegError
        If none of them is present.
    """
    priors = list(priors)
    names = [n for n in priors if n in log_prior.data_vars]
    if not names:
        raise CegError(f"the log_prior group holds none of the hyperpriors "
                       f"({', '.join(priors)}); it has "
                       f"{', '.join(map(str, log_prior.data_vars)) or 'no variables'}. "
                       "Refit with 'ceg fit' so that the fit stores them")
    return log_prior[names]


def diagnose(prior: float, likelihood: float, threshold: float = THRESHOLD) -> Diagnosis:
    """Return priorsense's diagnosis of a pair of sensitivities.

    Parameters
    ----------
    prior, likelihood
        Power-scaling sensitivities to the prior and to the likelihood.
    threshold
        Value at or above which a sensitivity counts.

    Returns
    -------
    str
        ``"prior-data conflict"`` (both count), ``"prior dominates (weak
        likelihood)"`` (the prior counts, the likelihood does not), ``"fine"``
        (the prior does not count) or ``"undetermined"`` (a value is missing).
    """
    if np.isnan(prior) or np.isnan(likelihood):
        return "undetermined"
    if prior >= threshold:
        return "prior-data conflict" if likelihood >= threshold else \
            "prior dominates (weak likelihood)"
    return "fine"


def power_scaling_weights(component_draws: xr.DataArray, delta: float = DELTA
                          ) -> tuple[list[xr.DataArray], float]:
    """Return the Pareto-smoothed weights of power-scaling a component, and their Pareto k.

    Parameters
    ----------
    component_draws
        The summed log prior (or log likelihood) of each draw, dims (chain, draw).
    delta
        Power-scaling step.

    Returns
    -------
    tuple
        The normalised weights at alpha = ``1/(1+delta)`` and ``1+delta`` (dim
        ``__sample__``: chain and draw stacked), from :func:`arviz.psislw` on
        the log weights ``(alpha - 1) * component_draws`` with relative
        efficiency 1 (as ``arviz.psens`` computes them); and the larger of the
        two Pareto k.
    """
    stacked = component_draws.stack(__sample__=("chain", "draw"))
    weights, ks = [], []
    for alpha in (1 / (1 + delta), 1 + delta):
        lw, k = az.psislw((alpha - 1) * stacked)
        weights.append(np.exp(lw))
        ks.append(float(k))
    return weights, max(ks)


def pareto_k(component_draws: xr.DataArray, delta: float = DELTA) -> float:
    """Return the larger Pareto k of the power-scaling weights at ``1/(1+delta)`` and ``1+delta``.

    Parameters
    ----------
    component_draws
        The summed log prior (or log likelihood) of each draw, dims (chain, draw).
    delta
        Power-scaling step.

    Returns
    -------
    float
        ``max(k_lower, k_upper)`` (see :func:`power_scaling_weights`).
    """
    return power_scaling_weights(component_draws, delta)[1]


def _mean_derivative(quantities: xr.Dataset, weights: list[xr.DataArray],
                     delta: float) -> xr.Dataset:
    """Return d E[q] / d log2(alpha) by the central difference of the weighted means."""
    q = quantities.stack(__sample__=("chain", "draw"))
    lower, upper = ((q * w).sum("__sample__") for w in weights)
    return (upper - lower) / (2 * np.log2(1 + delta))


def _summed(group: xr.Dataset) -> xr.DataArray:
    """Return the sum of every variable and element of a group, per (chain, draw)."""
    return sum(da.sum([d for d in da.dims if d not in ("chain", "draw")])
               for da in group.data_vars.values())


def _psens(idata: az.InferenceData, component: Component, delta: float) -> xr.Dataset:
    constant = idata.posterior.max(("chain", "draw")) == idata.posterior.min(("chain", "draw"))
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 0/0 of a constant quantity
        out = az.psens(idata, component=component, delta=delta)
    # Reweighting cannot move a quantity that has the same value in every draw.
    return out.where(~constant, 0.0)


class Sensitivity(NamedTuple):
    """Power-scaling results on plain draws, per component (``"prior"``, ``"likelihood"``)."""

    #: The CJS-based sensitivity of every quantity (psens's value).
    value: dict[Component, xr.Dataset]
    #: d E[quantity] / d log2(alpha): how far the posterior mean moves, in its own units.
    mean_derivative: dict[Component, xr.Dataset]
    #: The larger Pareto k of the two power-scalings' weights.
    pareto_k: dict[Component, float]


def sensitivity(quantities: xr.Dataset, log_prior: xr.Dataset, log_likelihood: xr.Dataset, *,
                delta: float = DELTA) -> Sensitivity:
    """Return the power-scaling sensitivity of every quantity, and the Pareto k of each component.

    This is the layer below :func:`power_scaling`, on plain draws: any
    posterior with exact ``log_prior`` and ``log_likelihood`` terms will do.

    Parameters
    ----------
    quantities
        Draws of the quantities to check, dims (chain, draw, ...).
    log_prior
        The prior terms to scale, per (chain, draw); all of them are summed
        (subset before, e.g. with :func:`hyperprior_log_prior`).
    log_likelihood
        Pointwise log likelihood; all of it is summed.
    delta
        Power-scaling step.

    Returns
    -------
    Sensitivity
        Per component: the sensitivities (the variables and dims of
        ``quantities`` without chain and draw; 0 for a quantity constant over
        the draws), the derivative of each quantity's posterior mean with
        respect to ``log2(alpha)`` (central difference of the same weights)
        and the Pareto k.

    Raises
    ------
    CegError
        If ``delta`` is not positive, or the groups' draws do not line up.
    """
    if not delta > 0:
        raise CegError(f"the power-scaling step delta must be positive (got {delta})")
    shapes = {name: (g.sizes.get("chain"), g.sizes.get("draw")) for name, g in
              (("quantities", quantities), ("log_prior", log_prior),
               ("log_likelihood", log_likelihood))}
    if len(set(shapes.values())) != 1:
        raise CegError(f"the draws do not line up: (chain, draw) sizes {shapes}")
    # A reduced InferenceData: psens scales every log_prior term it is given (see above).
    idata = az.InferenceData(posterior=quantities, log_prior=log_prior,
                             log_likelihood=log_likelihood)
    values = {c: _psens(idata, c, delta) for c in COMPONENTS}
    slopes, ks = {}, {}
    for c, group in (("prior", log_prior), ("likelihood", log_likelihood)):
        weights, ks[c] = power_scaling_weights(_summed(group), delta)
        slopes[c] = _mean_derivative(quantities, weights, delta)
    return Sensitivity(values, slopes, ks)


def fit_quantities(fit: Fit) -> xr.Dataset:
    """Return the draws whose sensitivity is reported, one variable per row group.

    Parameters
    ----------
    fit
        A fit.

    Returns
    -------
    xarray.Dataset
        ``ceg_enhancement`` (log10 CEG at x_ref, averaged over benchmarks),
        ``ceg_category`` (pooled mean), ``ceg_new_enhancement`` (the predictive of a
        new enhancement of each category, dim ``new_category``, the same draws
        as ``fit.quantities``), and per headline threshold ``headline_share``
        (share of enhancements above it), ``headline_most`` (1 where that share
        exceeds 1/2, else 0) and ``headline_some`` (1 where it exceeds 0): the
        means of the last two are ``fit.headline()``'s ``p_most`` and ``p_some``.
    """
    q = fit.quantities
    ceg = q["log10_ceg_enhancement"]
    # the headline's declared set (standalone enhancements), as fit.headline() counts it
    shares = derived.headline_shares(ceg.sel(enhancement=derived.headline_set(
        ceg["enhancement"].to_numpy(), fit.registries.enhancements["role"])))
    return xr.Dataset({
        "ceg_enhancement": q["log10_ceg_enhancement"].reset_coords(drop=True),
        "ceg_category": q["log10_ceg_category"].reset_coords(drop=True),
        "ceg_new_enhancement": q["log10_ceg_new_enhancement"].reset_coords(drop=True),
        "headline_share": shares,
        "headline_most": (shares > 0.5).astype(float),
        "headline_some": (shares > 0).astype(float),
    })


def _label(var: str, value: Any) -> str:
    if var.startswith("headline"):
        return f"{float(value):g}x"
    return str(value)


def _estimate(var: str, draws: np.ndarray) -> tuple[float, str]:
    if var.startswith("headline"):
        return float(draws.mean()), "probability" if var != "headline_share" else "mean share"
    return float(10 ** np.median(draws)), "median CEG"


def _note(draws: np.ndarray) -> str:
    """Return a caveat for a quantity whose CJS value needs one, else ``""``."""
    if draws.min() == draws.max():
        return "the same in every draw: no local sensitivity"
    if np.isin(draws, (0.0, 1.0)).all():
        rarer = int(min(draws.sum(), draws.size - draws.sum()))
        return (f"0/1, rarer outcome in {rarer}/{draws.size} draws: the CJS value reads its "
                "relative change; see dmean")
    return ""


def sensitivity_table(quantities: xr.Dataset, result: Sensitivity, threshold: float = THRESHOLD,
                      categories: pd.Series | None = None) -> pd.DataFrame:
    """Return one row per quantity: its estimate, both sensitivities, the diagnosis, Pareto k.

    Parameters
    ----------
    quantities
        Draws, as from :func:`fit_quantities` (variables of :data:`QUANTITIES`
        that are absent are skipped; others are listed after them).
    result
        The output of :func:`sensitivity` on ``quantities``.
    threshold
        Threshold of the diagnosis.
    categories
        Category of each enhancement (index: slug), to fill the ``category`` column.

    Returns
    -------
    pandas.DataFrame
        Columns ``quantity``, ``label``, ``category``, ``estimate``,
        ``estimate_kind``, ``prior``, ``likelihood`` (sensitivities),
        ``diagnosis``, ``threshold``, ``prior_dmean``, ``likelihood_dmean``
        (derivative of the posterior mean with respect to ``log2(alpha)``, in
        the quantity's units: log10 CEG, share or probability),
        ``prior_pareto_k``, ``likelihood_pareto_k``, ``reliable`` (both k <=
        0.7) and ``note`` (a caveat: constant quantities; 0/1 quantities,
        whose CJS value measures the relative change of the rarer outcome and
        so grows without bound as a probability nears 0 or 1).
    """
    order = [v for v in QUANTITIES if v in quantities] + [v for v in quantities.data_vars
                                                         if v not in QUANTITIES]
    rows = []
    ks = result.pareto_k
    reliable = all(k <= MAX_PARETO_K for k in ks.values())
    for var in order:
        da = quantities[var]
        desc = QUANTITIES.get(var, str(var))
        extra = [d for d in da.dims if d not in ("chain", "draw")]
        if len(extra) > 1:
            raise CegError(f"quantity {var!r} has dims {extra}; at most one besides chain "
                           "and draw is supported")
        labels = da[extra[0]].to_numpy() if extra else [None]
        for i, lab in enumerate(labels):
            sel = {extra[0]: i} if extra else {}
            draws = da.isel(sel).to_numpy()
            est, kind = _estimate(var, draws)
            p = float(result.value["prior"][var].isel(sel))
            lk = float(result.value["likelihood"][var].isel(sel))
            cat = (categories.get(lab) if categories is not None and var == "ceg_enhancement"
                   else lab if var in ("ceg_category", "ceg_new_enhancement") else None)
            rows.append({
                "quantity": desc, "label": var if lab is None else _label(var, lab),
                "category": cat, "estimate": est, "estimate_kind": kind,
                "prior": p, "likelihood": lk, "diagnosis": diagnose(p, lk, threshold),
                "threshold": threshold,
                "prior_dmean": float(result.mean_derivative["prior"][var].isel(sel)),
                "likelihood_dmean": float(result.mean_derivative["likelihood"][var].isel(sel)),
                "prior_pareto_k": ks["prior"],
                "likelihood_pareto_k": ks["likelihood"], "reliable": reliable,
                "note": _note(draws),
            })
    return pd.DataFrame(rows)


@dataclass
class PowerScalingResult:
    """Power-scaling sensitivity of a fit's CEGs and headline.

    Attributes
    ----------
    table
        One row per quantity (see :func:`sensitivity_table`).
    pareto_k
        The larger Pareto k of each component's power-scaling weights.
    prior_terms
        The ``log_prior`` variables that were scaled (the hyperpriors).
    threshold, delta
        Diagnosis threshold and power-scaling step.
    figures
        Named matplotlib figures (``"sensitivity"``: prior against likelihood
        sensitivity, one point per quantity) when asked for, else empty.
    """

    table: pd.DataFrame
    pareto_k: dict[Component, float]
    prior_terms: list[str]
    threshold: float = THRESHOLD
    delta: float = DELTA
    figures: dict[str, Figure] = field(default_factory=dict)

    @property
    def warnings(self) -> list[str]:
        """Messages about unreliable components (Pareto k above 0.7)."""
        return [f"the {c} power-scaling weights have Pareto k = {k:.2f} > {MAX_PARETO_K}: "
                f"the local {c} sensitivities are unreliable; check them with a refit "
                f"sweep" for c, k in self.pareto_k.items() if not k <= MAX_PARETO_K]

    def flagged(self) -> pd.DataFrame:
        """Return the rows whose diagnosis is not ``"fine"``."""
        return self.table[self.table["diagnosis"] != "fine"]

    def __str__(self) -> str:
        head = (f"Power-scaling sensitivity (alpha = 1/(1+{self.delta:g}), 1+{self.delta:g}; "
                f"threshold {self.threshold:g}); prior terms scaled: "
                f"{', '.join(self.prior_terms)}; Pareto k: "
                + ", ".join(f"{c} {k:.2f}" for c, k in self.pareto_k.items()))
        cols = ["quantity", "label", "estimate", "prior", "likelihood", "diagnosis"]
        body = self.table[cols].to_string(index=False, float_format=lambda v: f"{v:.3g}")
        return "\n".join([head, body, *(f"warning: {w}" for w in self.warnings)])


def sensitivity_figure(table: pd.DataFrame, threshold: float = THRESHOLD) -> Figure:
    """Return a scatter of prior against likelihood sensitivity, with the threshold lines.

    Parameters
    ----------
    table
        A table from :func:`sensitivity_table`.
    threshold
        Where the dashed lines are drawn.

    Returns
    -------
    matplotlib.figure.Figure
        One point per row, coloured by quantity.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4.5), layout="constrained")
    ax = fig.subplots()
    for name, rows in table.groupby("quantity", sort=False):
        ax.scatter(rows["likelihood"], rows["prior"], label=name, s=18)
    ax.axhline(threshold, ls="--", c="0.5", lw=0.8)
    ax.axvline(threshold, ls="--", c="0.5", lw=0.8)
    ax.set_xlabel("likelihood sensitivity")
    ax.set_ylabel("prior (hyperprior) sensitivity")
    ax.legend(fontsize=7, loc="best")
    return fig


def power_scaling(fit: Fit, *, delta: float = DELTA, threshold: float = THRESHOLD,
                  figures: bool = False) -> PowerScalingResult:
    """Return the power-scaling prior and likelihood sensitivity of a fit, without refitting.

    The prior scaled is the product of the top-level hyperpriors (see the
    module's docstring); the likelihood is all observations.

    Parameters
    ----------
    fit
        A fit with ``log_prior`` and ``log_likelihood`` groups (``ceg fit``
        stores both).
    delta
        Power-scaling step: alpha = 1 / (1 + delta) and 1 + delta.
    threshold
        Sensitivity at or above which a component counts in the diagnosis.
    figures
        Also draw :func:`sensitivity_figure`.

    Returns
    -------
    PowerScalingResult
        The table (every enhancement and category CEG, the new-enhancement
        predictive of each category, the headline quantities), the Pareto k
        of each component and the prior terms scaled.

    Raises
    ------
    CegError
        If the fit lacks ``log_prior`` or ``log_likelihood``, its
        ``log_prior`` holds no hyperprior, or ``delta`` or ``threshold`` is
        not positive.

    Warns
    -----
    CegWarning
        If a component's Pareto k exceeds 0.7 (its sensitivities are unreliable).
    """
    if not threshold > 0:
        raise CegError(f"the sensitivity threshold must be positive (got {threshold})")
    groups = fit.idata.groups()
    missing = [g for g in ("log_prior", "log_likelihood") if g not in groups]
    if missing:
        raise CegError(f"the fit has no {' or '.join(missing)} group, which power-scaling "
                       "needs; refit it with 'ceg fit' (it stores both)")
    log_prior = hyperprior_log_prior(fit.idata.log_prior, fit.spec.priors)
    quantities = fit_quantities(fit)
    sens = sensitivity(quantities, log_prior, fit.idata.log_likelihood, delta=delta)
    cats = fit.registries.enhancements["category"]
    table = sensitivity_table(quantities, sens, threshold, cats)
    result = PowerScalingResult(table=table, pareto_k=sens.pareto_k,
                                prior_terms=list(log_prior.data_vars), threshold=threshold,
                                delta=delta)
    if figures:
        result.figures["sensitivity"] = sensitivity_figure(table, threshold)
    for message in result.warnings:
        warnings.warn(message, CegWarning, stacklevel=2)
    return result


__all__ = [
    "COMPONENTS", "DELTA", "MAX_PARETO_K", "QUANTITIES", "THRESHOLD", "PowerScalingResult",
    "Sensitivity", "diagnose", "fit_quantities", "hyperprior_log_prior", "pareto_k",
    "power_scaling", "power_scaling_weights",
    "sensitivity", "sensitivity_figure", "sensitivity_table",
]
