"""Where the gradient's time goes: the beta-binomial likelihood written three ways.

    python benchmarks/likelihood_cost.py [--dataset bundled] [--evals 2000]

Not part of the suite: evidence for a proposed change to ``ceg.model``. It builds
the default model on a dataset and times nutpie's compiled log density and
gradient (as the sampler calls it) with the likelihood term written as

``default``
    ``pm.BetaBinomial`` as ``build_model`` has it: per observation
    ``binomln(n, k) + betaln(k + a, n - k + b) - betaln(a, b)`` = 9 ``gammaln``,
    plus 6 ``digamma`` for the gradient. ``n`` and ``k`` are ``pm.Data`` (shared
    variables, so that a compiled model can take new counts), so the binomial
    coefficient, constant in the parameters, is recomputed at every evaluation;
``frozen``
    the same, compiled with ``freeze_model=True`` (data as constants: PyTensor folds
    the coefficient, but the compiled model can no longer swap in new counts);
``no_coefficient``
    ``betaln(k + a, n - k + b) - betaln(a, b)`` as a ``pm.Potential`` (same gradient,
    log density lower by a constant);
``kappa``
    the same using ``a + b = kappa`` (``a = p kappa``, ``b = (1 - p) kappa``):
    ``gammaln(k + a) + gammaln(n - k + b) - gammaln(n + kappa) - gammaln(a)
    - gammaln(b) + gammaln(kappa)``, the last per benchmark: 5 ``gammaln`` and 5
    ``digamma`` per observation instead of 9 and 6.

It checks that every variant's gradient equals the default's and that the log
densities differ by a constant, then prints microseconds per evaluation.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    _root = str(Path(__file__).resolve().parents[1])
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]
    sys.path.insert(0, _root)

import argparse  # noqa: E402
import contextlib  # noqa: E402
import ctypes  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from unittest import mock  # noqa: E402

import numpy as np  # noqa: E402

VARIANTS = ("default", "frozen", "no_coefficient", "kappa")


def _kappa_and_index(alpha):
    """Split ``alpha = p * kappa[b]`` (as ``build_model`` writes it) into ``kappa`` and ``b``."""
    from pytensor.tensor.subtensor import AdvancedSubtensor, AdvancedSubtensor1

    node = alpha.owner
    for inp in node.inputs if node is not None else ():
        owner = inp.owner
        while owner is not None and not isinstance(owner.op, (AdvancedSubtensor1,
                                                               AdvancedSubtensor)):
            owner = owner.inputs[0].owner if len(owner.inputs) == 1 else None
        if owner is not None:
            return owner.inputs[0], owner.inputs[1]
    raise RuntimeError("alpha is not p * kappa[b]: build_model changed; update this script")


def _likelihood(variant: str):
    """A stand-in for ``pm.BetaBinomial`` that adds the likelihood as a Potential."""
    import pymc as pm
    import pytensor.tensor as pt
    from pytensor.tensor.special import betaln

    def bb(name, n, alpha, beta, observed, dims=None, **_):
        k = pt.as_tensor_variable(observed)
        n = pt.as_tensor_variable(n)
        if variant == "no_coefficient":
            lp = betaln(k + alpha, n - k + beta) - betaln(alpha, beta)
        else:
            kappa, b = _kappa_and_index(alpha)
            lp = (pt.gammaln(k + alpha) + pt.gammaln(n - k + beta)
                  - pt.gammaln(n + kappa[b]) - pt.gammaln(alpha) - pt.gammaln(beta)
                  + pt.gammaln(kappa)[b])
        return pm.Potential(f"{name}_loglik", lp.sum())

    return bb


def build(variant: str, spec, design):
    """The default model, its likelihood written as ``variant``."""
    import pymc as pm

    from ceg.model import build_model

    patch = (mock.patch.object(pm, "BetaBinomial", _likelihood(variant))
             if variant in ("no_coefficient", "kappa") else contextlib.nullcontext())
    with patch:
        return build_model(spec, design)


def time_variant(variant: str, spec, design, x: np.ndarray, evals: int) -> dict:
    """Compile one variant with nutpie and time its log density and gradient at ``x``."""
    import nutpie

    model = build(variant, spec, design)
    t = time.time()
    compiled = nutpie.compile_pymc_model(model, freeze_model=variant == "frozen")
    compile_s = time.time() - t
    n = int(compiled.n_dim)
    if n != len(x):
        raise RuntimeError(f"{variant}: {n} parameters, expected {len(x)}")
    grad, logp = np.zeros(n), np.zeros(())
    dbl = ctypes.POINTER(ctypes.c_double)
    fn = compiled.compiled_logp_func.ctypes
    args = (ctypes.c_uint64(n), x.ctypes.data_as(dbl), grad.ctypes.data_as(dbl),
            logp.ctypes.data_as(dbl), ctypes.c_void_p(compiled.user_data.ctypes.data))
    if fn(*args) != 0:
        raise RuntimeError(f"{variant}: the log density failed at the test point")
    for _ in range(20):
        fn(*args)
    per = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(evals):
            fn(*args)
        per.append((time.perf_counter() - t) / evals * 1e6)
    return {"variant": variant, "compile_s": compile_s, "us_per_eval": float(np.median(per)),
            "logp": float(logp), "grad": grad.copy()}


def main(argv: list[str] | None = None) -> int:
    """Time every variant and print the table."""
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="bundled", help="bundled, slice, synthetic:<n>, ...")
    p.add_argument("--evals", type=int, default=2000)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    a = p.parse_args(argv)
    warnings.filterwarnings("ignore")
    import ceg
    from benchmarks.common import load_table
    from ceg.design import make_design
    from ceg.spec import ModelSpec

    table = load_table(a.dataset)
    spec = ModelSpec.load("default")
    design = make_design(table, ceg.load_registries())
    x = np.random.default_rng(1).normal(0.0, 0.3, int(sum(
        np.size(v) for v in build("default", spec, design).initial_point().values())))
    rows = [time_variant(v, spec, design, x, a.evals) for v in a.variants]
    ref = rows[0]
    print(f"{a.dataset}: {len(table)} observations, {len(x)} parameters; nutpie numba, "
          f"median of 5 x {a.evals} evaluations")
    print(f"{'variant':<16}{'compile s':>10}{'us/eval':>10}{'ns/obs':>9}{'vs first':>10}"
          f"{'logp - first':>16}{'max |grad diff|':>17}")
    for r in rows:
        print(f"{r['variant']:<16}{r['compile_s']:>10.1f}{r['us_per_eval']:>10.0f}"
              f"{r['us_per_eval'] * 1e3 / len(table):>9.0f}"
              f"{r['us_per_eval'] / ref['us_per_eval']:>10.2f}"
              f"{r['logp'] - ref['logp']:>16.6g}"
              f"{float(np.max(np.abs(r['grad'] - ref['grad']))):>17.2g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
