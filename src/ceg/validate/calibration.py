r"""Calibration maths: ranks, thinning, interval coverage and the ECDF uniformity test.

Plain numpy functions over arrays; no model, no sampler.

If the posterior is calibrated, the rank of a true value among :math:`L`
independent posterior draws is uniform on :math:`\{0, \dots, L\}` (Talts et
al. 2018). Ranks of different replications may use different :math:`L`
(the thinning depends on each fit's effective sample size), so they are put
on one scale as *fractional ranks*

.. math::

    u = \frac{r + v}{L + 1}, \qquad v \sim U(0, 1),

which are exactly Uniform(0, 1) under calibration (a randomised PIT). The
uniformity test is the ECDF test of Säilynoja, Bürkner & Vehtari (2022), as
recommended by Modrák et al. (2023): the statistic :math:`\gamma` is the
smallest two-sided binomial tail probability of the ECDF over a grid of
points, its null distribution is simulated, and the same simulation gives the
simultaneous band of the ECDF-difference plot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import stats

#: Central interval probabilities whose coverage every SBC report gives.
COVERAGE_LEVELS = (0.5, 0.8, 0.9)


def thinning_factor(n_draws: int, ess: float) -> int:
    """Return the step that thins ``n_draws`` correlated draws to about ``ess`` independent ones.

    Parameters
    ----------
    n_draws
        Draws per chain times chains.
    ess
        The smallest effective sample size over the quantities to rank.

    Returns
    -------
    int
        ``ceil(n_draws / ess)``, between 1 and ``n_draws`` (1 when the ESS is
        not finite: a constant quantity).
    """
    if not math.isfinite(ess):
        return 1
    return max(1, min(n_draws, math.ceil(n_draws / max(ess, 1.0))))


def thin(draws: np.ndarray, step: int) -> np.ndarray:
    """Keep every ``step``-th draw of each chain and stack the chains.

    Parameters
    ----------
    draws
        Array of shape (chain, draw, quantity).
    step
        Thinning step (from :func:`thinning_factor`).

    Returns
    -------
    numpy.ndarray
        Shape (kept draws, quantity), chain by chain.
    """
    if step < 1:
        raise ValueError(f"the thinning step must be at least 1, not {step}")
    kept = np.asarray(draws)[:, ::step]
    return kept.reshape(-1, kept.shape[-1])


def _check(draws: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d, t = np.asarray(draws), np.asarray(truth)
    if d.ndim != 2 or t.shape != (d.shape[1],):
        raise ValueError(f"draws must have shape (draw, quantity) and truth (quantity,); got "
                         f"{d.shape} and {t.shape}")
    return d, t[None, :]


def ranks(draws: np.ndarray, truth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return the rank of each true value among the draws: how many draws are below it.

    Ties (draws equal to the truth, for quantities that can be exactly equal)
    are broken at random, so that ranks stay uniform.

    Parameters
    ----------
    draws
        Shape (draw, quantity).
    truth
        Shape (quantity,).
    rng
        Generator for breaking ties.

    Returns
    -------
    numpy.ndarray
        Integer ranks in ``0 .. n_draws``, shape (quantity,).
    """
    d, t = _check(draws, truth)
    below = (d < t).sum(axis=0)
    equal = (d == t).sum(axis=0)
    return below + rng.integers(0, equal + 1)


def pit(draws: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Return the share of draws below each true value (ties count half).

    The truth lies inside the central interval of probability ``q`` of the
    draws when this share lies in ``[(1 - q) / 2, (1 + q) / 2]``, so one
    number per quantity gives its coverage at every level
    (:func:`inside_interval`).

    Parameters
    ----------
    draws
        Shape (draw, quantity).
    truth
        Shape (quantity,).

    Returns
    -------
    numpy.ndarray
        Values in [0, 1], shape (quantity,).
    """
    d, t = _check(draws, truth)
    return ((d < t).sum(axis=0) + 0.5 * (d == t).sum(axis=0)) / d.shape[0]


def inside_interval(pit_values: np.ndarray, level: float) -> np.ndarray:
    """Return whether each truth lies inside its central posterior interval of ``level``.

    Parameters
    ----------
    pit_values
        Shares of draws below the truth (:func:`pit`).
    level
        Central interval probability, in (0, 1).

    Returns
    -------
    numpy.ndarray
        Booleans, the shape of ``pit_values``.
    """
    if not 0 < level < 1:
        raise ValueError(f"an interval probability lies in (0, 1), not {level}")
    p = np.asarray(pit_values, dtype=float)
    return (p >= (1 - level) / 2) & (p <= (1 + level) / 2)


def fractional_ranks(rank: np.ndarray, n_draws: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
    """Return randomised fractional ranks ``(r + v) / (L + 1)``, ``v ~ U(0, 1)``.

    Parameters
    ----------
    rank
        Integer ranks (any shape).
    n_draws
        The number of draws each rank was taken among (broadcast to ``rank``).
    rng
        Generator of ``v``.

    Returns
    -------
    numpy.ndarray
        Values in (0, 1); Uniform(0, 1) when the ranks are uniform.
    """
    r = np.asarray(rank, dtype=float)
    n = np.broadcast_to(np.asarray(n_draws, dtype=float), r.shape)
    if np.any(r < 0) or np.any(r > n):
        raise ValueError("every rank must lie between 0 and its number of draws")
    return (r + rng.uniform(size=r.shape)) / (n + 1)


def _grid(n: int) -> np.ndarray:
    # at least one interior point: one replication is a smoke run, not an error
    k = min(max(n, 2), 100)
    return np.arange(1, k) / k


def gamma_statistic(u: np.ndarray) -> float:
    """Return the ECDF uniformity statistic gamma of Säilynoja et al. (2022).

    The smallest, over a grid of points ``z``, of the two-sided binomial tail
    probability of the count of values at most ``z`` under Uniform(0, 1).
    Small values mean the ECDF strays far from the uniform CDF somewhere.

    Parameters
    ----------
    u
        Values in [0, 1] (fractional ranks), 1-D.

    Returns
    -------
    float
        gamma in [0, 1].
    """
    u = np.sort(np.asarray(u, dtype=float).ravel())
    n = len(u)
    if n == 0:
        return float("nan")
    z = _grid(n)
    count = np.searchsorted(u, z, side="right")
    lower = stats.binom.cdf(count, n, z)
    upper = stats.binom.sf(count - 1, n, z)
    return float(np.min(2 * np.minimum(lower, upper)).clip(max=1.0))


@lru_cache(maxsize=16)
def _null_gammas(n: int, n_sim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.sort([gamma_statistic(rng.uniform(size=n)) for _ in range(n_sim)])


def uniformity_pvalue(u: np.ndarray, n_sim: int = 2000, seed: int = 0) -> float:
    """Return the p-value of the ECDF (gamma) test that ``u`` is Uniform(0, 1).

    The null distribution of gamma for ``len(u)`` values is simulated
    (``n_sim`` times, seeded, cached per size), so the p-value is resolved to
    about ``1 / n_sim``.

    Parameters
    ----------
    u
        Values in [0, 1] (fractional ranks), 1-D.
    n_sim
        Simulated uniform samples for the null distribution.
    seed
        Seed of that simulation.

    Returns
    -------
    float
        P(gamma under uniformity <= observed gamma).
    """
    u = np.asarray(u, dtype=float).ravel()
    if len(u) == 0:
        return float("nan")
    null = _null_gammas(len(u), n_sim, seed)
    g = gamma_statistic(u)
    return float((np.searchsorted(null, g, side="right") + 1) / (n_sim + 1))


@dataclass(frozen=True)
class EcdfBand:
    """A simultaneous band for the ECDF difference ``F(z) - z`` of ``n`` uniform values.

    Attributes
    ----------
    z
        Grid points in (0, 1).
    lower, upper
        Band limits of ``F(z) - z`` at each point.
    level
        Simultaneous coverage probability of the band.
    """

    z: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float


def ecdf_band(n: int, level: float = 0.95, n_sim: int = 2000, seed: int = 0) -> EcdfBand:
    """Return the simultaneous ECDF-difference band for ``n`` uniform values.

    The whole ECDF difference of ``n`` independent Uniform(0, 1) values stays
    inside the band with probability ``level`` (by simulation of gamma, the
    "simulated" method of Säilynoja et al. 2022).

    Parameters
    ----------
    n
        Number of values (replications).
    level
        Simultaneous coverage probability.
    n_sim, seed
        Size and seed of the simulation.

    Returns
    -------
    EcdfBand
        The band on the grid of :func:`gamma_statistic`.
    """
    null = _null_gammas(n, n_sim, seed)
    g = float(np.quantile(null, 1 - level))
    z = _grid(n)
    # the counts k whose two-sided tail probability (the quantity gamma minimises) is at
    # least g: an ECDF stays inside the band at every z exactly when its gamma >= g
    k = np.arange(n + 1)[:, None]
    tail = 2 * np.minimum(stats.binom.cdf(k, n, z), stats.binom.sf(k - 1, n, z))
    ok = tail >= g * (1 - 1e-9)  # the simulated g is one of these tails: keep ties inside
    lower = np.argmax(ok, axis=0) / n - z
    upper = (n - np.argmax(ok[::-1], axis=0)) / n - z
    return EcdfBand(z=z, lower=lower, upper=upper, level=level)


def ecdf_difference(u: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Return ``F(z) - z``, the ECDF of ``u`` minus the uniform CDF, at points ``z``."""
    u = np.sort(np.asarray(u, dtype=float).ravel())
    return np.searchsorted(u, z, side="right") / len(u) - z


def coverage_interval(inside: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Return the Clopper-Pearson interval of a coverage ``inside / n``.

    Parameters
    ----------
    inside, n
        Successes and trials.
    level
        Confidence level.

    Returns
    -------
    tuple of float
        Lower and upper limits.
    """
    if n == 0:
        return (float("nan"), float("nan"))
    a = (1 - level) / 2
    lo = stats.beta.ppf(a, inside, n - inside + 1) if inside > 0 else 0.0
    hi = stats.beta.isf(a, inside + 1, n - inside) if inside < n else 1.0
    return (float(lo), float(hi))


__all__ = ["COVERAGE_LEVELS", "EcdfBand", "coverage_interval", "ecdf_band", "ecdf_difference",
           "fractional_ranks", "gamma_statistic", "inside_interval", "pit", "ranks", "thin",
           "thinning_factor", "uniformity_pvalue"]
