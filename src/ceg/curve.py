r"""The scaling curve and the CEG algebra, as plain functions of arrays.

The same functions serve numpy (summaries, simulation, tests) and PyTensor
(the model graph): they only use arithmetic and the ``exp``/``sigmoid`` of the
array library they are given.

.. math::

    p = g + (1 - g)\,\operatorname{logistic}(\alpha\,(\theta - \beta))

    s_{e,b}(x) = a_e + u_{e,b} + \gamma_e\,(x - x_{ref}),\qquad
    \mathrm{CEG} = 10^{\sum_{e \in c} s_{e,b}(x)}
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
from scipy import special


def _sigmoid(z: Any, lib: ModuleType) -> Any:
    if lib is np:
        return special.expit(z)
    return lib.sigmoid(z)


def inverse_link(z: Any, link: str = "logistic", lib: ModuleType = np) -> Any:
    """Return the above-floor share at linear predictor ``z`` under ``link``.

    Parameters
    ----------
    z
        ``slope * (theta - midpoint) + logit_offset``.
    link
        ``"logistic"``: ``1 / (1 + exp(-z))``; ``"loglog"``: ``exp(-exp(-z))``
        (the Gumbel distribution function: 0.37 at ``z = 0``, a thinner lower
        tail and a longer upper one than the logistic).
    lib
        ``numpy`` or ``pytensor.tensor``.

    Returns
    -------
    array
        In (0, 1).

    Raises
    ------
    ValueError
        For a link this function does not know.
    """
    if link == "logistic":
        return _sigmoid(z, lib)
    if link == "loglog":
        return lib.exp(-lib.exp(-z))
    raise ValueError(f"unknown link {link!r}: 'logistic' or 'loglog'")


def success_probability(theta: Any, midpoint: Any, slope: Any, floor: Any,
                        lib: ModuleType = np, logit_offset: Any = 0.0,
                        link: str = "logistic") -> Any:
    """Return the probability of a correct answer at effective compute ``theta``.

    Parameters
    ----------
    theta
        Effective compute, log10 FLOP (or decades from ``x_ref``, if
        ``midpoint`` is in the same units).
    midpoint
        Compute at which the above-floor part is half-way, same units.
    slope
        Logits per decade of compute (> 0).
    floor
        Chance level in [0, 1).
    lib
        ``numpy`` or ``pytensor.tensor``.
    logit_offset
        Added on the logit (ability) scale, after the slope: a family's
        benchmark profile or a (model, benchmark) residual. 0 by default.
    link
        The curve's shape (:func:`inverse_link`); logistic by default.

    Returns
    -------
    array
        ``floor + (1 - floor) * logistic(slope * (theta - midpoint) + logit_offset)``
        (or the ``loglog`` shape).
    """
    return floor + (1 - floor) * inverse_link(slope * (theta - midpoint) + logit_offset, link,
                                              lib)


def effective_compute(score: Any, midpoint: Any, slope: Any, floor: Any) -> Any:
    """Invert the curve: the effective compute at which the curve reaches ``score``.

    Parameters
    ----------
    score
        Score in (floor, 1).
    midpoint, slope, floor
        Curve parameters as in :func:`success_probability`.

    Returns
    -------
    numpy.ndarray
        ``midpoint + logit((score - floor) / (1 - floor)) / slope``; NaN where
        the score is at or below the floor or at 1.
    """
    q = (np.asarray(score, dtype=float) - floor) / (1 - np.asarray(floor, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = midpoint + special.logit(q) / slope
    return np.where((q > 0) & (q < 1), out, np.nan)


def shift(intercept: Any, benchmark_deviation: Any, scale_slope: Any, x: Any,
          x_ref: float) -> Any:
    """Return an enhancement's shift in effective compute (log10 FLOP) at compute ``x``.

    Parameters
    ----------
    intercept
        ``a_e``: the shift at ``x_ref`` averaged over benchmarks.
    benchmark_deviation
        ``u_{e,b}``: the benchmark's deviation from ``a_e``.
    scale_slope
        ``gamma_e``: change of the shift per decade of compute.
    x
        The model's log10 pre-training compute.
    x_ref
        Reference compute, log10 FLOP.

    Returns
    -------
    array
        ``a_e + u_{e,b} + gamma_e * (x - x_ref)``, which is ``log10 CEG``.
    """
    return intercept + benchmark_deviation + scale_slope * (x - x_ref)


def ceg_from_log10(log10_ceg: Any) -> Any:
    """Return the CEG multiplier ``10 ** log10_ceg``."""
    return np.power(10.0, log10_ceg)
