"""How often a calibrated model's held-out coverage lands inside given bands.

Usage::

    python scripts/coverage_bands.py FIT SPEC DATA [--cutoff-flop 8.4e22]
        [--band90 0.85 0.95] [--band50 0.42 0.58]

FIT is a held-out training fit saved by ``ceg validate holdout --save-fit`` of SPEC on DATA.
The replicates are those of the report's "Coverage a calibrated model would show" (same
predictive draws and seed, ``ceg.validate.scores.replicate_coverage``): each takes one joint
predictive draw as the observed scores. Prints, for all rows, seen and new families, the
share of replicates whose 90% and 50% coverage fall inside the bands (by default the
acceptance bands of issue #12): how often a model that is calibrated by construction would
pass such a criterion on these rows.
"""

from __future__ import annotations

import argparse
import warnings


def main() -> None:
    """Print one line per group."""
    import numpy as np
    import pandas as pd

    from ceg.design import make_design
    from ceg.registry import load_registries
    from ceg.spec import ModelSpec
    from ceg.table import validate_table
    from ceg.validate.holdout import (
        CALIBRATION_REPLICATES,
        held_out_mask,
        predictive_counts,
        read_masked_fit,
        unseen_families,
    )
    from ceg.validate.scores import replicate_coverage

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fit")
    parser.add_argument("spec")
    parser.add_argument("data")
    parser.add_argument("--cutoff-flop", type=float, default=8.4e22)
    parser.add_argument("--band90", type=float, nargs=2, default=(0.85, 0.95))
    parser.add_argument("--band50", type=float, nargs=2, default=(0.42, 0.58))
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    reg = load_registries()
    table = validate_table(pd.read_csv(args.data), reg).reset_index(drop=True)
    mask = held_out_mask(table, args.cutoff_flop)
    spec = ModelSpec.load(args.spec)
    idata = read_masked_fit(args.fit, spec, table, mask)
    seed = int(idata.posterior.attrs["ceg_holdout_seed"])
    design = make_design(table, reg)
    counts = predictive_counts(idata, spec, design, seed, held_out=mask)[:, mask]
    new = table.loc[mask, "family"].isin(unseen_families(table, mask)).to_numpy()
    groups = {"all": np.ones(len(new), dtype=bool), "family in training": ~new,
              "new family": new}
    reps = replicate_coverage(counts, design.n_items[mask], groups,
                              n_replicates=CALIBRATION_REPLICATES, seed=seed)
    (lo90, hi90), (lo50, hi50) = args.band90, args.band50
    print(f"{len(reps)} replicates; bands 90%: {lo90}-{hi90}, 50%: {lo50}-{hi50}")
    for g in groups:
        c90, c50 = reps[(g, "coverage_90")], reps[(g, "coverage_50")]
        in90 = (c90 >= lo90) & (c90 <= hi90)
        in50 = (c50 >= lo50) & (c50 <= hi50)
        print(f"{g:20s} n {int(groups[g].sum()):5d}  in the 90% band {in90.mean():.2f}  "
              f"in the 50% band {in50.mean():.2f}  both {(in90 & in50).mean():.2f}")


if __name__ == "__main__":
    main()
