"""Time one evaluation of the log density and its gradient, per model spec.

Usage::

    python scripts/gradient_cost.py SPEC [SPEC ...] [--evals 1000]

A fit's wall time is (leapfrog steps per draw) x (draws + tuning) x chains x (this cost) /
cores. This builds each spec's model on the bundled data, compiles PyMC's
``logp_dlogp_function`` (PyTensor's default C backend; nutpie samples a numba compile of the
same graph, so absolute times differ from a fit's, ratios between specs much less), and
times ``--evals`` calls on one core at a point near the initial point. Where a spec
integrates its residuals out (``structure.residual_integration = "quadrature"``, commit
ab98282, reverted), the sampler's form is timed (``build_model(..., marginal=True)``).
Run it on an idle machine: it measures wall time.
"""

from __future__ import annotations

import argparse
import inspect
import time
import warnings

import numpy as np


def main() -> None:
    """Time each spec given on the command line and print one line per spec."""
    import ceg
    from ceg.design import make_design
    from ceg.model import build_model
    from ceg.spec import ModelSpec

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs", nargs="+", help="model spec names or paths")
    parser.add_argument("--evals", type=int, default=1000)
    parser.add_argument("--mode", default=None,
                        help="PyTensor mode, e.g. NUMBA (what nutpie compiles); default C")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    design = make_design(ceg.load_dataset(), ceg.load_registries())
    can_integrate = "marginal" in inspect.signature(build_model).parameters
    for name in args.specs:
        spec = ModelSpec.load(name)
        integrate = getattr(spec.structure, "residual_integration", "sampled") == "quadrature"
        kwargs = {"marginal": True} if integrate and can_integrate else {}
        model = build_model(spec, design, **kwargs)
        start = time.perf_counter()
        fn = model.logp_dlogp_function(ravel_inputs=True, mode=args.mode)
        fn.set_extra_values({})
        point = model.initial_point()
        x = np.concatenate([np.ravel(point[v.name]) for v in model.continuous_value_vars])
        x = x + np.random.default_rng(0).normal(0.0, 0.1, x.size)
        compile_s = time.perf_counter() - start
        for _ in range(50):
            fn(x)
        start = time.perf_counter()
        for _ in range(args.evals):
            fn(x)
        per_eval = (time.perf_counter() - start) / args.evals
        print(f"{spec.name}: {x.size} free parameters, compile {compile_s:.0f} s, "
              f"{1000 * per_eval:.3f} ms per log density and gradient", flush=True)


if __name__ == "__main__":
    main()
