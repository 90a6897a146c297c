"""Which source of predictive spread makes held-out intervals wide: switch each one off.

Usage::

    python scripts/width_sources.py FIT SPEC DATA [--cutoff-flop 8.4e22] [--thin 4]

FIT is a held-out training fit saved by ``ceg validate holdout --save-fit`` of SPEC on the
table DATA. For the held-out rows this recomputes the joint predictive (as ``ceg validate
holdout`` does) with every draw as fitted, then with one source set to zero in every draw:
the family effects of families with no training row (a new family's efficiency draw), their
family x benchmark profiles, and the held-out models' own effects; and prints the 50% and
90% coverage and mean 90% width of new and of seen families' rows under each. A diagnosis,
not a model: zeroing a source shows how much of the width it carries, not what its sd should
be. Both the free variable (``*_z``) and the stored deterministic are zeroed, because the
posterior predictive reuses deterministics found in the trace.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np


def main() -> None:
    """Print one line of coverages per source switched off."""
    import arviz as az
    import pandas as pd

    from ceg.design import make_design
    from ceg.registry import load_registries
    from ceg.spec import ModelSpec
    from ceg.table import validate_table
    from ceg.validate.holdout import held_out_mask, predictive_counts, unseen_families

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fit")
    parser.add_argument("spec")
    parser.add_argument("data")
    parser.add_argument("--cutoff-flop", type=float, default=8.4e22)
    parser.add_argument("--thin", type=int, default=4, help="keep every n-th draw")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    reg = load_registries()
    table = validate_table(pd.read_csv(args.data), reg).reset_index(drop=True)
    mask = held_out_mask(table, args.cutoff_flop)
    design = make_design(table, reg)
    spec = ModelSpec.load(args.spec)
    posterior = az.from_netcdf(args.fit).posterior.isel(draw=slice(None, None, args.thin))
    new = set(unseen_families(table, mask))
    new_row = table.loc[mask, "family"].isin(new).to_numpy()
    held_models = set(table.loc[mask, "model"])
    y = table.loc[mask, "score"].to_numpy(float)
    n_items = design.n_items[mask]

    def labels(dim: str) -> list[str]:
        return [str(v) for v in posterior[dim].values]

    new_family = np.array([f in new for f in labels("family")])
    new_pair = np.array([lab.rsplit("|", 1)[0] in new for lab in labels("family_benchmark")])
    held_model = np.array([lab.rsplit("|", 1)[-1] in held_models or lab in held_models
                           for lab in labels("model")])

    def zeroed(*pairs: tuple[str, np.ndarray | slice]):
        post = posterior.copy()
        for var, where in pairs:
            if var in post:
                values = post[var].values.copy()
                values[..., where] = 0.0
                post[var] = (post[var].dims, values)
        return post

    cases = {
        "as fitted": posterior,
        "new families' effect 0": zeroed(("family_effect_without_data_z", slice(None)),
                                          ("family_effect", new_family)),
        "new families' profile 0": zeroed(("family_benchmark_effect_z", new_pair),
                                           ("family_benchmark_effect", new_pair)),
        "held-out models' effect 0": zeroed(("model_effect_z", held_model),
                                             ("model_effect", held_model)),
    }
    print(f"{len(new)} new families ({int(new_row.sum())} rows), "
          f"{int((~new_row).sum())} rows of seen families; "
          f"{posterior.sizes['chain'] * posterior.sizes['draw']} draws")
    for label, post in cases.items():
        counts = predictive_counts(az.InferenceData(posterior=post), spec, design, 5,
                                   held_out=mask)[:, mask]
        s = counts / n_items[None, :]
        cells = []
        for level in (0.5, 0.9):
            lo, hi = np.quantile(s, [(1 - level) / 2, (1 + level) / 2], axis=0)
            inside = (y >= lo - 1e-12) & (y <= hi + 1e-12)
            cells.append(f"{round(level * 100)}%: new {inside[new_row].mean():.3f} "
                         f"seen {inside[~new_row].mean():.3f}")
        width = (hi - lo)
        print(f"{label:28s} {' | '.join(cells)} | 90% width: new {width[new_row].mean():.3f} "
              f"seen {width[~new_row].mean():.3f}", flush=True)


if __name__ == "__main__":
    main()
