r"""The count likelihood: a beta-binomial written for the gradient's cost.

Observation :math:`i` on benchmark :math:`b` has

.. math::

    k_i \sim \operatorname{BetaBinomial}(n_i,\ p_i\kappa_b,\ (1 - p_i)\kappa_b),

whose log mass is

.. math::

    \log\binom{n_i}{k_i} + \log\Gamma(k_i + a_i) + \log\Gamma(n_i - k_i + b_i)
    - \log\Gamma(n_i + \kappa_b) - \log\Gamma(a_i) - \log\Gamma(b_i) + \log\Gamma(\kappa_b)

with :math:`a_i = p_i\kappa_b`, :math:`b_i = (1 - p_i)\kappa_b`. ``pm.BetaBinomial``
evaluates the same mass as ``binomln(n, k) + betaln(k + a, n - k + b) - betaln(a, b)``: nine
log-gamma functions per observation at every evaluation of the log density (the
binomial coefficient too, since the counts are shared data that a compiled model
swaps) and six digamma functions in its gradient. Here :math:`a + b = \kappa_b` is
used, the coefficient is data (:func:`count_data`, computed once per set of counts)
and :math:`\log\Gamma(\kappa_b)` is evaluated per benchmark: five log-gamma and five
digamma functions per observation. The mass, and so the stored pointwise
log-likelihood that LOO reads, is the same to rounding
(``tests/test_likelihood.py``); ``benchmarks/likelihood_cost.py`` measures the cost.

The counts and their coefficient must change together: set them with
:func:`count_data`, never ``n_correct_data`` alone.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from scipy import stats
from scipy.special import gammaln

#: Name of the correct counts' data variable in every model.
COUNTS = "n_correct_data"
#: Name of the data variable holding :math:`\log\binom{n_i}{k_i}` per observation.
LOG_COEFFICIENT = "log_binomial_coefficient"


def log_binomial_coefficient(n_items: np.ndarray, n_correct: np.ndarray) -> np.ndarray:
    r"""Return :math:`\log\binom{n}{k}` per observation.

    Parameters
    ----------
    n_items, n_correct
        Integer arrays of one shape, ``0 <= n_correct <= n_items``.

    Returns
    -------
    numpy.ndarray
        Floats, the shape of the inputs.
    """
    n = np.asarray(n_items, dtype=float)
    k = np.asarray(n_correct, dtype=float)
    return gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0)


def count_data(n_items: np.ndarray, n_correct: np.ndarray) -> dict[str, np.ndarray]:
    """Return every data variable of a model that depends on the correct counts.

    Pass the result to ``pm.set_data``, ``Model.set_data`` (one key at a time) or
    nutpie's ``CompiledPyMCModel.with_data(**...)`` to swap the counts of a built
    model: the counts and their binomial coefficients move together.

    Parameters
    ----------
    n_items, n_correct
        Per observation, as in :class:`ceg.design.Design`.

    Returns
    -------
    dict
        ``{COUNTS: n_correct (int64), LOG_COEFFICIENT: log binomial coefficients}``.
    """
    k = np.asarray(n_correct, dtype=np.int64)
    return {COUNTS: k, LOG_COEFFICIENT: log_binomial_coefficient(n_items, k)}


def _logp(value, n, a, b, kappa, log_gamma_kappa, log_coefficient):
    """Log mass of the beta-binomial in the kappa form (``a + b = kappa``)."""
    k = pt.cast(value, "float64")
    return (log_coefficient + pt.gammaln(k + a) + pt.gammaln(n - k + b)
            - pt.gammaln(n + kappa) - pt.gammaln(a) - pt.gammaln(b) + log_gamma_kappa)


def _random(n, a, b, kappa, log_gamma_kappa, log_coefficient, rng=None, size=None):
    """Draw counts exactly as ``pm.BetaBinomial`` does (scipy, the same generator)."""
    return stats.betabinom.rvs(n, a, b, size=size, random_state=rng)


def beta_binomial(name: str, n_items: pt.TensorLike, p: pt.TensorLike,
                  concentration: pt.TensorLike, benchmark: np.ndarray,
                  log_coefficient: pt.TensorLike, observed: pt.TensorLike,
                  dims: str) -> pt.TensorVariable:
    r"""Add the observed beta-binomial counts to the model in context.

    Parameters
    ----------
    name
        Name of the observed variable (``"n_correct"``).
    n_items
        Items per observation.
    p
        Success probability per observation, strictly inside (0, 1).
    concentration
        :math:`\kappa_b` per benchmark, positive.
    benchmark
        Benchmark index of each observation into ``concentration``.
    log_coefficient
        :math:`\log\binom{n_i}{k_i}` per observation, from :func:`count_data` for the
        same counts as ``observed``.
    observed
        Correct counts per observation.
    dims
        Dimension name of the observations.

    Returns
    -------
    pytensor.tensor.TensorVariable
        The observed variable: a ``pm.CustomDist`` with this module's log mass and
        ``pm.BetaBinomial``'s draws.
    """
    kappa = concentration[benchmark]
    return pm.CustomDist(name, n_items, p * kappa, (1.0 - p) * kappa, kappa,
                         pt.gammaln(concentration)[benchmark], log_coefficient,
                         logp=_logp, random=_random, dtype="int64", observed=observed,
                         dims=dims)


__all__ = ["COUNTS", "LOG_COEFFICIENT", "beta_binomial", "count_data",
           "log_binomial_coefficient"]
