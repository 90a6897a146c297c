"""Where the gradient's time goes: the beta-binomial likelihood written two ways.

    python benchmarks/likelihood_cost.py [--dataset bundled] [--evals 2000] [--spec default]

Not part of the suite: the evidence for ``ceg.likelihood``. It builds a model on a
dataset and times nutpie's compiled log density and gradient (as the sampler calls
it) with the likelihood term written as

``pymc``
    ``pm.BetaBinomial``, as ``build_model`` had it until session 44: per observation
    ``binomln(n, k) + betaln(k + a, n - k + b) - betaln(a, b)`` = 9 ``gammaln``,
    plus 6 ``digamma`` for the gradient. ``n`` and ``k`` are ``pm.Data`` (shared
    variables, so that a compiled model can take new counts), so the binomial
    coefficient, constant in the parameters, is recomputed at every evaluation;
``frozen``
    the same, compiled with ``freeze_model=True`` (data as constants: PyTensor folds
    the coefficient, but the compiled model can no longer swap in new counts);
``ceg``
    ``ceg.likelihood.beta_binomial``, as ``build_model`` has it now: ``a + b = kappa``
    (``a = p kappa``, ``b = (1 - p) kappa``), ``gammaln(k + a) + gammaln(n - k + b)
    - gammaln(n + kappa) - gammaln(a) - gammaln(b) + gammaln(kappa)`` with the last per
    benchmark and the binomial coefficient as data: 5 ``gammaln`` and 5 ``digamma``
    per observation;
``ceg_numba_psi``
    ``ceg`` with ``ceg.numba_kernels.register()`` called first: the digamma function in
    plain numba (inlinable) instead of scipy's through a Cython function pointer. The
    registration is process-wide, so this variant is compiled after the others.

It checks that every variant's log density and gradient equal the first's, then prints
microseconds per evaluation: the minimum and the median over interleaved rounds (the
minimum is the cost without interference; the median shows how much there was).
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

VARIANTS = ("pymc", "frozen", "ceg", "ceg_numba_psi")


def _pymc_beta_binomial(name, n_items, p, concentration, benchmark, log_coefficient,
                        observed, dims):
    """``ceg.likelihood.beta_binomial``'s signature, PyMC's own beta-binomial inside."""
    import pymc as pm

    kappa = concentration[benchmark]
    return pm.BetaBinomial(name, n=n_items, alpha=p * kappa, beta=(1 - p) * kappa,
                           observed=observed, dims=dims)


def build(variant: str, spec, design):
    """The model of ``spec``, its beta-binomial written as ``variant``."""
    from ceg import likelihood
    from ceg.model import build_model

    patch = (mock.patch.object(likelihood, "beta_binomial", _pymc_beta_binomial)
             if variant in ("pymc", "frozen") else contextlib.nullcontext())
    with patch:
        return build_model(spec, design)


def compile_variant(variant: str, spec, design, x: np.ndarray) -> dict:
    """Compile one variant with nutpie and evaluate its log density and gradient at ``x``."""
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
    return {"variant": variant, "compile_s": compile_s, "logp": float(logp),
            "grad": grad.copy(), "call": (compiled, fn, args), "us": []}


def time_rounds(rows: list[dict], evals: int, rounds: int) -> None:
    """Time ``evals`` calls of each variant in turn, ``rounds`` times (adds ``us``).

    Interleaved, so that a slow spell of the machine (the VMs we measure on vary by a
    factor of two from minute to minute) falls on every variant alike.
    """
    for r in rows:
        _, fn, args = r["call"]
        for _ in range(20):
            fn(*args)
    for _ in range(rounds):
        for r in rows:
            _, fn, args = r["call"]
            t = time.perf_counter()
            for _ in range(evals):
                fn(*args)
            r["us"].append((time.perf_counter() - t) / evals * 1e6)


def main(argv: list[str] | None = None) -> int:
    """Time every variant and print the table."""
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="bundled", help="bundled, slice, synthetic:<n>, ...")
    p.add_argument("--evals", type=int, default=300, help="evaluations per round")
    p.add_argument("--rounds", type=int, default=12)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    p.add_argument("--spec", default="default", help="model spec name or path")
    a = p.parse_args(argv)
    warnings.filterwarnings("ignore")
    import ceg
    from benchmarks.common import load_table
    from ceg.design import make_design
    from ceg.spec import ModelSpec

    table = load_table(a.dataset)
    spec = ModelSpec.load(a.spec)
    design = make_design(table, ceg.load_registries())
    x = np.random.default_rng(1).normal(0.0, 0.3, int(sum(
        np.size(v) for v in build("ceg", spec, design).initial_point().values())))
    order = sorted(a.variants, key=lambda v: v == "ceg_numba_psi")  # it registers for all
    rows = []
    for v in order:
        if v == "ceg_numba_psi":
            from ceg import numba_kernels

            numba_kernels.register()
        rows.append(compile_variant(v, spec, design, x))
    time_rounds(rows, a.evals, a.rounds)
    ref = rows[0]
    print(f"{a.dataset}, spec {spec.name}: {len(table)} observations, {len(x)} parameters; "
          f"nutpie numba, {a.rounds} interleaved rounds of {a.evals} evaluations")
    print(f"{'variant':<10}{'compile s':>10}{'min us':>8}{'median us':>11}{'ns/obs':>8}"
          f"{'min vs first':>14}{'logp - first':>15}{'max |grad diff|':>17}")
    for r in rows:
        lo, mid = min(r["us"]), float(np.median(r["us"]))
        print(f"{r['variant']:<10}{r['compile_s']:>10.1f}{lo:>8.0f}{mid:>11.0f}"
              f"{lo * 1e3 / len(table):>8.0f}{lo / min(ref['us']):>14.2f}"
              f"{r['logp'] - ref['logp']:>15.3g}"
              f"{float(np.max(np.abs(r['grad'] - ref['grad']))):>17.2g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
