"""Numba kernels that keep the compiled model cacheable on disk (issue #17).

PyTensor's numba backend caches a compiled function on disk only when every
operation in it has a cache key. Scalar operations that PyTensor takes from
``scipy.special`` through Cython function pointers have none ("functions that
call a function pointer can't be cached"), so a single such operation makes
the whole log-density uncacheable, and every new process compiles it again.
In the beta-binomial's gradient that operation is the digamma function
(``Psi``). :func:`register` replaces PyTensor's numba implementation of ``Psi``
with :func:`digamma`, plain Python compiled by numba, equal to
``scipy.special.psi`` within 1e-13 (relative) on the positive reals, and with a
cache key. The registration is process-wide: any PyTensor graph compiled to
numba in this process afterwards uses it.
"""

from __future__ import annotations

import math

#: Below this the recurrence psi(x) = psi(x + 1) - 1/x moves x up; above, the series.
_SERIES_FROM = 10.0
_registered = False


def digamma(x: float) -> float:
    """Return the digamma function psi(x) = d/dx log Gamma(x), as ``scipy.special.psi``.

    Recurrence to x >= 10, then the asymptotic series with Bernoulli terms to
    x^-14 (truncation error below 1e-17 there); the reflection formula for
    x < 0 (no recursion: numba compiles it). At 0: -inf; at negative integers:
    nan (scipy's conventions).

    Parameters
    ----------
    x
        A real number.

    Returns
    -------
    float
        psi(x).
    """
    if math.isnan(x):
        return x
    shift = 0.0
    if x <= 0.0:
        if x == math.floor(x):
            return -math.inf if x == 0.0 else math.nan
        shift = -math.pi / math.tan(math.pi * x)  # reflection: psi(1 - x) - pi / tan(pi x)
        x = 1.0 - x
    while x < _SERIES_FROM:
        shift -= 1.0 / x
        x += 1.0
    inv2 = 1.0 / (x * x)
    tail = inv2 * (1.0 / 12 - inv2 * (1.0 / 120 - inv2 * (1.0 / 252 - inv2 * (
        1.0 / 240 - inv2 * (1.0 / 132 - inv2 * (691.0 / 32760 - inv2 / 12.0))))))
    return shift + math.log(x) - 0.5 / x - tail


def register() -> None:
    """Make PyTensor's numba backend compile ``Psi`` with :func:`digamma` (once per process)."""
    global _registered
    if _registered:
        return
    from pytensor.link.numba.dispatch import basic as numba_basic
    from pytensor.link.numba.dispatch.scalar import scalar_op_cache_key
    from pytensor.scalar.math import Psi

    kernel = numba_basic.numba_njit(digamma)

    @numba_basic.register_funcify_and_cache_key(Psi)
    def _numba_funcify_psi(op, node=None, **kwargs):
        return kernel, scalar_op_cache_key(op, kernel="ceg.numba_kernels.digamma-1")

    _registered = True


__all__ = ["digamma", "register"]
