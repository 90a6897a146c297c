"""Prior against posterior for the pooled parameters (the spec's ``[priors]``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from scipy import stats

from ceg.errors import CegError
from ceg.plots._common import choose, panel_grid, samples
from ceg.spec import PRIOR_NAMES, Prior

if TYPE_CHECKING:
    from ceg.fit import Fit


def _frozen(prior: Prior) -> Any:
    """Return the scipy distribution of a spec prior."""
    if prior.dist == "HalfNormal":
        return stats.halfnorm(scale=prior.sigma)
    if prior.dist == "HalfStudentT":
        return _HalfT(prior.nu, prior.sigma)
    if prior.dist == "StudentT":
        return stats.t(df=prior.nu, loc=prior.mu, scale=prior.sigma)
    return stats.norm(loc=prior.mu, scale=prior.sigma)


class _HalfT:
    """The half-Student-t (twice the t density on x >= 0): its pdf and ppf."""

    def __init__(self, nu: float | None, sigma: float) -> None:
        self.t = stats.t(df=nu, scale=sigma)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        return np.where(np.asarray(x) >= 0, 2 * self.t.pdf(x), 0.0)

    def ppf(self, q: Any) -> Any:
        return self.t.ppf(0.5 + np.asarray(q) / 2)


def prior_density(prior: Prior, x: np.ndarray) -> np.ndarray:
    """Return the density of a spec prior (any :data:`ceg.spec.PriorDist`) at ``x``."""
    return _frozen(prior).pdf(x)


def _prior_range(prior: Prior) -> tuple[float, float]:
    if prior.dist in ("HalfNormal", "HalfStudentT"):
        return 0.0, float(_frozen(prior).ppf(0.995))
    lo, hi = _frozen(prior).ppf([0.005, 0.995])
    return float(lo), float(hi)


def pooled_parameters(fit: Fit) -> list[str]:
    """Return the spec's prior names that are variables of the fit's posterior.

    A prior the model does not use (e.g. ``family_sd`` when family effects
    are off) has no posterior and is left out. Order: :data:`ceg.spec.PRIOR_NAMES`.
    """
    return [n for n in PRIOR_NAMES if n in fit.spec.priors and n in fit.posterior]


def prior_posterior(fit: Fit, names: Iterable[str] | None = None, *, ncols: int = 4,
                    bins: int = 40) -> Figure:
    """Plot the prior density and the posterior of each pooled parameter, one panel each.

    The prior is the spec's (``Normal`` or ``HalfNormal``, drawn exactly from
    its density; these parameters are the roots of the model, so this is
    their prior in the model too); the posterior is a histogram of its
    draws (density scale). A posterior that looks like its prior means the
    data say little about that parameter (see "Known limitations" in
    ``docs/model.md``).

    Parameters
    ----------
    fit
        A fit (fresh or loaded).
    names
        Parameters to show; every one of :func:`pooled_parameters` by default.
    ncols
        Panels per row.
    bins
        Histogram bins of the posterior.

    Returns
    -------
    matplotlib.figure.Figure
        Artists carry gids: ``prior`` (line), ``posterior`` (bars).

    Raises
    ------
    CegError
        If a name is not a pooled parameter of the fit.
    """
    available = pooled_parameters(fit)
    if not available:
        raise CegError("the fit's posterior holds none of the spec's pooled parameters "
                       f"({', '.join(fit.spec.priors)}); use a fit made by 'ceg fit'")
    chosen = choose(names, available, "pooled parameter")
    fig, axes = panel_grid(len(chosen), ncols, (2.9, 2.2), legend_height=0.35,
                           pad=(0.15, 0.15, 0.3, 0.5))
    for ax, name in zip(axes, chosen, strict=True):
        prior = fit.spec.priors[name]
        draws = samples(fit.posterior[name])
        lo, hi = _prior_range(prior)
        lo, hi = min(lo, float(draws.min())), max(hi, float(draws.max()))
        ax.hist(draws, bins=bins, range=(lo, hi), density=True, color="C0", alpha=0.55,
                gid="posterior")
        x = np.linspace(lo, hi, 300)
        ax.plot(x, prior_density(prior, x), color="0.15", lw=1.3, gid="prior")
        ax.set_title(name, fontsize=9)
        mu = f"{prior.mu:g}, " if prior.dist == "Normal" else ""
        ax.set_xlabel(f"prior {prior.dist}({mu}{prior.sigma:g})", fontsize=7)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
    handles = [Line2D([], [], color="0.15", lw=1.3, label="prior (spec)"),
               Patch(color="C0", alpha=0.55, label="posterior draws")]
    fig.legend(handles=handles, loc="lower center", ncol=2, fontsize=8, frameon=False)
    return fig
