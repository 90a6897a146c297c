"""Count the leapfrog steps a fit spends in tuning and in draws (nutpie, bundled data).

Usage::

    python scripts/tuning_cost.py SPEC --seed 1 [--tune 1000] [--draws 1000] --out FILE.json

``ceg fit`` keeps no warm-up statistics; this samples the spec's compiled model on the
bundled data with nutpie directly, as ``ceg.sampling`` does (same compile, seed, chains,
target acceptance and mass matrix) but with ``save_warmup=True``, and writes (and prints) the
gradient evaluations per chain in tuning and in draws, tuning's by blocks of 100 iterations,
the draws' steps per draw, divergences and the spec's convergence gate over the calibrated
quantities of ``ceg validate sbc`` (hyperparameters included, so stricter than ``ceg fit``'s).
Step counts do not depend on the machine's load; the wall time it reports does.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings


def main() -> None:
    """Sample once and write the step counts."""
    import nutpie

    import ceg
    from ceg.design import make_design
    from ceg.diagnostics import diagnose
    from ceg.likelihood import count_data
    from ceg.sampling import compiled_model
    from ceg.spec import ModelSpec
    from ceg.validate.sbc import calibrated_quantities

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tune", type=int, default=None, help="default: the spec's")
    parser.add_argument("--draws", type=int, default=None, help="default: the spec's")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    spec = ModelSpec.load(args.spec)
    s = spec.sampler.override(draws=args.draws, tune=args.tune, seed=args.seed)
    design = make_design(ceg.load_dataset(), ceg.load_registries())
    runner = compiled_model(spec, design, "nutpie")
    compiled = runner._nutpie.with_data(**count_data(design.n_items, design.n_correct))
    start = time.perf_counter()
    idata = nutpie.sample(compiled, draws=s.draws, tune=s.tune, chains=s.chains, seed=s.seed,
                          target_accept=s.target_accept, progress_bar=False, cores=2,
                          low_rank_modified_mass_matrix=s.mass_matrix == "low_rank",
                          save_warmup=True)
    seconds = time.perf_counter() - start
    warm = idata.warmup_sample_stats["n_steps"].to_numpy()
    kept = idata.sample_stats["n_steps"].to_numpy()
    diag = diagnose(calibrated_quantities(idata.posterior, design, spec.x_ref, spec.structure),
                    idata.sample_stats, spec.convergence)
    result = {
        "spec": spec.name, "seed": s.seed, "tune": s.tune, "draws": s.draws,
        "seconds": round(seconds, 1),
        "tune_steps_per_chain": warm.sum(1).tolist(),
        "draw_steps_per_chain": kept.sum(1).tolist(),
        "tune_share_of_steps": round(float(warm.sum() / (warm.sum() + kept.sum())), 3),
        "tune_steps_by_100": [int(warm[:, i:i + 100].sum()) for i in range(0, warm.shape[1], 100)],
        "draw_steps_per_draw": kept.mean(1).round(1).tolist(),
        "divergences": int(idata.sample_stats["diverging"].sum()),
        "diagnostics": str(diag), "converged": bool(diag.converged),
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
