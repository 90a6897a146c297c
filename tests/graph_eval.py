"""Evaluate a model's graph at a point without compiling C.

The checks that a model builds with a finite log density and gradient, or that two
parameterisations are the same model, need a value at a few points, not a fast function.
PyTensor's default mode rewrites the graph fully and compiles every fused op to C; on
the bundled default model that took 70 s for the log density and its gradient, against
13 s with :data:`QUICK_MODE` (Python implementations of each op, few rewrites), with the
same values (log density within 2e-9 absolute, 1e-13 relative; gradient within
2.2e-7). Measured under load with ``python /tmp/fc2.py local_sum_make_vector`` in
session 34 (a throwaway script: the two compiles of ``[logp, dlogp]`` of
``models/default.toml`` on the bundled data).

PyMC adds the terms of ``model.logp()`` in one ``Add`` node with an input per term, and
PyTensor's Python implementation of an elementwise op fails beyond 32 inputs (numpy's
operand limit). :func:`log_density` therefore adds the terms as a stacked sum, and
:data:`QUICK_MODE` leaves out the rewrite that would turn that back into one ``Add``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
from pytensor.compile.mode import get_mode

#: Python op implementations and the ``fast_compile`` rewrites, keeping stacked sums.
QUICK_MODE = get_mode("FAST_COMPILE").excluding("local_sum_make_vector")


def quick_compile() -> dict:
    """``compile_kwargs`` for PyMC's own functions (``compute_log_likelihood``,
    ``compute_log_prior``, ``sample_prior_predictive``) in :data:`QUICK_MODE`.

    A new dict at every call: PyMC adds keys to the ``compile_kwargs`` it is given, so a
    shared one would carry them into the next call (``allow_input_downcast`` twice).
    """
    return {"mode": QUICK_MODE}


Point = dict[str, np.ndarray]


def summed_log_density(model: pm.Model, vars: Sequence | None = None) -> pt.TensorVariable:
    """The log density of ``vars`` (default all) as one graph, its terms added as a stacked sum."""
    terms = model.logp(vars=vars, sum=False)
    return pt.sum(pt.stack([pt.sum(t) for t in terms]))


def at_values(model: pm.Model, outputs: Sequence, **kwargs) -> Callable[[Point], list]:
    """Return a function of a point of the value variables giving ``outputs`` there.

    Random variables among ``outputs`` are replaced by their value variables, so the
    function evaluates deterministics at the point, not at random draws.
    """
    outs = model.replace_rvs_by_values(list(outputs))
    return model.compile_fn(outs, inputs=model.value_vars, on_unused_input="ignore",
                            mode=QUICK_MODE, **kwargs)


def log_density(model: pm.Model, vars: Sequence | None = None) -> Callable[[Point], float]:
    """Return the summed log density (of ``vars``, default all) as a function of a point.

    Includes the Jacobians of the transforms, as ``model.compile_logp()`` does.
    """
    fn = model.compile_fn(summed_log_density(model, vars), inputs=model.value_vars,
                          on_unused_input="ignore", mode=QUICK_MODE)
    return lambda point: float(fn(point))


def log_density_terms(model: pm.Model, vars: Sequence) -> Callable[[Point], list]:
    """Return the unsummed log density of each of ``vars`` as a function of a point."""
    return model.compile_fn(model.logp(vars=list(vars), sum=False),
                            inputs=model.value_vars, on_unused_input="ignore",
                            mode=QUICK_MODE)


def log_density_and_gradient(
        model: pm.Model) -> Callable[[Point], tuple[float, np.ndarray]]:
    """Return the log density and its gradient (flattened as ``model.dlogp()``) at a point."""
    total = summed_log_density(model)
    value_vars = model.continuous_value_vars
    grads = pytensor.grad(total, value_vars)
    flat = pt.concatenate([g.ravel() for g in grads])
    fn = model.compile_fn([total, flat], inputs=model.value_vars,
                          on_unused_input="ignore", mode=QUICK_MODE)

    def evaluate(point: Point) -> tuple[float, np.ndarray]:
        lp, grad = fn(point)
        return float(lp), np.asarray(grad)

    return evaluate
