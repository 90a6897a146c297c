r"""Integrate the (model, benchmark) ability residuals out of the likelihood.

With ``structure.residual_integration = "quadrature"`` each (model, benchmark) unit
:math:`u` has one residual :math:`r_u \sim N(0, \sigma_r)` on the logit scale, shared by the
unit's rows (every condition of that model on that benchmark). Given everything else, the
unit's rows depend on :math:`r_u` alone, so its likelihood is a one-dimensional integral

.. math::

    L_u = \int \prod_{i \in u} f(k_i \mid p_i(r))\, N(r; 0, \sigma_r)\, dr ,

which adaptive Gauss--Hermite quadrature computes to high accuracy: the nodes are centred on
the integrand's mode :math:`c_u` and scaled by its curvature :math:`s_u` (a Laplace
approximation found by a few Fisher-scoring steps from 0), so a unit whose items pin its
residual down to a few hundredths of a logit is resolved as well as one its rows barely see.
The sampler then moves in the other parameters only (on the bundled data 605 fewer
dimensions), and the residuals are drawn afterwards from their exact conditional posterior
given each draw (:func:`draw_residuals`), so the stored fit holds joint posterior draws, as if
they had been sampled.

The centre and scale only choose where the quadrature looks; their gradients are cut
(``disconnected_grad``), so the sampler's gradient is that of the quadrature sum at fixed
nodes, which differs from the exact integral's by the quadrature error.

Everything about the curve (link, floor, clip) comes from :mod:`ceg.engine` through the
``probability`` callable the builder passes in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import disconnected_grad

#: Gauss--Hermite nodes per unit. Measured against a 2,001-point trapezoid on the bundled
#: design at prior draws (tests/test_quadrature.py): with the Laplace centring, 9 nodes
#: agree to better than 1e-6 per unit.
NODES = 9
#: Fisher-scoring steps from r = 0 to the integrand's mode, each at most MAX_STEP logits
#: (far from the data the information is small and an undamped step overshoots).
SCORING_STEPS = 10
MAX_STEP = 2.0
#: The grid the residuals are drawn from after sampling, in units of each unit's Laplace
#: scale around its centre: 49 cells of 0.25 scale over +-6 (the cell's width adds a
#: variance of 0.005 scale^2 to a draw, against the conditional posterior's ~1 scale^2).
DRAW_GRID = np.linspace(-6.0, 6.0, 49)

ProbabilityFn = Callable[[Any], Any]
RowLogpFn = Callable[[Any], Any]


def _unit_sum(values: Any, unit: np.ndarray, n_unit: int) -> Any:
    """Sum row values (rows on axis 0) into their units."""
    shape = (n_unit,) if values.ndim == 1 else (n_unit, values.shape[1])
    return pt.zeros(shape)[unit].inc(values)


def laplace_approximation(probability: ProbabilityFn, row_logp: RowLogpFn, unit: np.ndarray,
                          n_unit: int, sd: Any, n_items: Any,
                          effective_items: Any) -> tuple[Any, Any]:
    r"""Return each unit's residual mode and Laplace scale (gradients cut).

    Newton-like steps from 0 on the unit's log integrand: the exact score (the
    derivative of the rows' log likelihood and of the prior), preconditioned by
    the binomial Fisher information of the rows with the over-dispersion's
    effective items, which is positive everywhere (the beta-binomial's own
    curvature is not), so each step is well defined; at the fixed point the
    score is 0, so the centre is the exact mode. Each step is at most
    :data:`MAX_STEP` logits.

    Parameters
    ----------
    probability
        Maps a residual per row, shape (row, 1), to the success probability
        of the likelihood (:func:`ceg.engine.probability` with the row's other
        terms), same shape.
    row_logp
        Maps a residual per row, shape (row, node), to each row's log
        likelihood at it, same shape.
    unit
        The unit of each row (index into ``n_unit`` units).
    n_unit
        Number of units.
    sd
        :math:`\sigma_r`, logits.
    n_items
        Per row.
    effective_items
        Per row, the items' worth of information under the likelihood's
        over-dispersion (:math:`n(\kappa+1)/(\kappa+n)` for a beta-binomial,
        :math:`n` for a binomial).

    Returns
    -------
    (tensor, tensor)
        Centre and scale per unit, logits.
    """
    prec0 = 1.0 / sd**2
    centre = pt.zeros(n_unit)

    def info_and_score(c: Any) -> tuple[Any, Any]:
        r_row = c[unit][:, None]
        p = probability(r_row)
        dp = pt.grad(p.sum(), r_row)[:, 0]
        dll = pt.grad(row_logp(r_row).sum(), r_row)[:, 0]
        v = pt.maximum(p[:, 0] * (1.0 - p[:, 0]), 1e-12)
        info = _unit_sum(effective_items * dp**2 / v, unit, n_unit)
        return info, _unit_sum(dll, unit, n_unit)

    for _ in range(SCORING_STEPS):
        info, score = info_and_score(centre)
        step = (score - centre * prec0) / (info + prec0)
        centre = centre + pt.clip(step, -MAX_STEP, MAX_STEP)
    # The scale from the exact curvature at the mode (where it is concave there; the
    # Fisher information overstates it when a unit's rows disagree beyond their binomial
    # noise), the prior's where it is not.
    r_row = centre[unit][:, None]
    dll = pt.grad(row_logp(r_row).sum(), r_row)
    curvature = _unit_sum(-pt.grad(dll.sum(), r_row)[:, 0], unit, n_unit)
    scale = 1.0 / pt.sqrt(pt.maximum(curvature, 0.0) + prec0)
    return disconnected_grad(centre), disconnected_grad(scale)


def _normal_logpdf(x: Any, sd: Any) -> Any:
    return -0.5 * (x / sd) ** 2 - pt.log(sd) - 0.5 * np.log(2.0 * np.pi)


def marginal_log_likelihood(row_logp: RowLogpFn, unit: np.ndarray, n_unit: int, sd: Any,
                            centre: Any, scale: Any, nodes: int = NODES) -> Any:
    r"""Return each unit's log likelihood with its residual integrated out.

    Parameters
    ----------
    row_logp
        Maps a residual per row, shape (row, node), to each row's log
        likelihood at it, same shape.
    unit, n_unit, sd
        As in :func:`laplace_approximation`.
    centre, scale
        From :func:`laplace_approximation`.
    nodes
        Gauss--Hermite nodes.

    Returns
    -------
    tensor
        Shape (unit,): :math:`\\log L_u` (0 for a unit without rows).
    """
    t, w = np.polynomial.hermite.hermgauss(nodes)
    r = centre[:, None] + np.sqrt(2.0) * scale[:, None] * t[None, :]
    per_node = _unit_sum(row_logp(r[unit]), unit, n_unit)
    log_weight = (np.log(w) + t**2)[None, :] + pt.log(np.sqrt(2.0) * scale)[:, None]
    return pt.logsumexp(log_weight + _normal_logpdf(r, sd) + per_node, axis=1)


def grid_log_density(row_logp: RowLogpFn, unit: np.ndarray, n_unit: int, sd: Any,
                     centre: Any, scale: Any) -> Any:
    """Return each unit's unnormalised conditional log density of its residual on a grid.

    The grid is ``centre + scale * DRAW_GRID``; :func:`draw_residuals` samples from it.

    Returns
    -------
    tensor
        Shape (unit, len(DRAW_GRID)).
    """
    r = centre[:, None] + scale[:, None] * DRAW_GRID[None, :]
    return _unit_sum(row_logp(r[unit]), unit, n_unit) + _normal_logpdf(r, sd)


def draw_residuals(centre: np.ndarray, scale: np.ndarray, log_density: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:
    """Draw one residual per unit from its gridded conditional density.

    A grid point is chosen with probability proportional to its density, then the
    draw is spread uniformly over that point's cell (piecewise-constant density).

    Parameters
    ----------
    centre, scale
        Shape (..., unit).
    log_density
        Shape (..., unit, grid), from :func:`grid_log_density`.
    rng
        Random generator.

    Returns
    -------
    numpy.ndarray
        Shape (..., unit), logits.
    """
    logd = log_density - log_density.max(axis=-1, keepdims=True)
    cdf = np.cumsum(np.exp(logd), axis=-1)
    u = rng.random(centre.shape)[..., None] * cdf[..., -1:]
    idx = np.minimum((cdf < u).sum(axis=-1), len(DRAW_GRID) - 1)
    step = DRAW_GRID[1] - DRAW_GRID[0]
    offset = DRAW_GRID[idx] + (rng.random(centre.shape) - 0.5) * step
    return centre + scale * offset


__all__ = ["DRAW_GRID", "NODES", "SCORING_STEPS", "draw_residuals", "grid_log_density",
           "laplace_approximation", "marginal_log_likelihood"]
