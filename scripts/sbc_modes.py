"""Refit one SBC replication with four chains and print where each chain settles.

Usage::

    python scripts/sbc_modes.py [--rep 5] [--out /tmp/rep5.nc]

Replication ``rep`` of the non-centred default on the 7-benchmark slice (base seed
20231212, the seeds ``ceg validate sbc`` derives), 4 chains x 300 draws after 600. Prints the
chain means of the few-/one-shot CEGs and, for the parameters whose chain means differ most
(in posterior sds), the truth beside them (docs/validation/README.md, "Settings tried for the
convergence gate").
"""

from __future__ import annotations

import argparse
import warnings

SLICE = ["ASDiv", "GSM8K", "SVAMP", "HumanEval", "MATH", "ANLI R1", "TriviaQA"]
SPEC = "docs/validation/sbc_gate_pilots/default_noncentred.toml"
PARAMS = ["logit_at_ref", "midpoint", "slope", "shift_scale_slope", "log10_flop",
          "family_effect"]


def main() -> None:
    """Refit and print."""
    import numpy as np

    from ceg.dataset import load_dataset
    from ceg.design import make_design
    from ceg.registry import load_registries
    from ceg.sampling import compiled_model
    from ceg.simulate import simulate_design
    from ceg.spec import ModelSpec
    from ceg.validate.sbc import calibrated_quantities, replication_seeds

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rep", type=int, default=5)
    ap.add_argument("--out", default="/tmp/rep5.nc")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    reg = load_registries()
    table = load_dataset(reg)
    design = make_design(table[table.benchmark.isin(SLICE)], reg)
    spec = ModelSpec.load(SPEC)
    sim_seed, fit_seed = replication_seeds(20231212, args.rep)
    sim = simulate_design(spec, design, sim_seed)
    idata = compiled_model(spec, design, "nutpie").sample(
        sim.design.n_correct, draws=300, tune=600, chains=4, seed=fit_seed, cores=1)
    idata.to_netcdf(args.out)
    post, truth = idata.posterior, sim.truth
    q = calibrated_quantities(post, design, spec.x_ref, spec.structure)
    ceg = q["log10_ceg_enhancement_benchmark"]
    for key in ["few_shot|ANLI R1", "few_shot|TriviaQA", "one_shot|ANLI R1"]:
        print(key, "chain means", np.round(ceg.sel(enhancement_benchmark=key)
                                           .mean("draw").values, 2))
    for name in PARAMS:
        x = post[name]
        dim = next(d for d in x.dims if d not in ("chain", "draw"))
        means = x.mean("draw")
        spread = ((means.max("chain") - means.min("chain")) / x.std(("chain", "draw")))
        top = spread.to_series().sort_values(ascending=False).head(2)
        for key, value in top.items():
            true_value = float(truth[name].sel({dim: key}))
            print(f"{name}[{key}] spread/sd {value:.2f} truth {true_value:.2f} "
                  f"chain means {np.round(means.sel({dim: key}).values, 2)}")


if __name__ == "__main__":
    main()
