"""Relate each SBC replication's trouble (divergences, R-hat) to its true pooled sds.

Usage::

    python scripts/sbc_trouble.py RECORDS SPEC [--benchmark B ...] [--data TABLE]

RECORDS is a records folder of ``ceg validate sbc`` (``sbc_records.jsonl`` or ``.gz``),
SPEC the spec it ran, ``--benchmark`` the slice it ran on (the records' design digest is
checked). Each replication's truth is drawn again from its stored simulation seed
(``ceg.simulate.simulate_design``, a few seconds each). Prints the Spearman correlations
of divergences and max R-hat with the true pooled sds, and their medians by thirds of the
sds that correlate most: whether fits fail where a population sd is small (a funnel of the
centred effects under it) or everywhere.
"""

from __future__ import annotations

import argparse
import warnings

#: Pooled sds whose size may decide whether a replication's fit funnels.
SDS = ("log_concentration_sd", "log_slope_sd", "logit_ref_sd", "family_sd", "protocol_sd",
       "category_sd", "enhancement_sd", "benchmark_shift_sd")


def main() -> None:
    """Print the correlations and the medians by thirds."""
    import pandas as pd

    from ceg.dataset import load_dataset
    from ceg.design import make_design
    from ceg.registry import load_registries
    from ceg.sampling import design_structure_digest
    from ceg.simulate import simulate_design
    from ceg.spec import ModelSpec
    from ceg.validate.records import read_records

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("records")
    ap.add_argument("spec")
    ap.add_argument("--benchmark", "-b", action="append", default=[])
    ap.add_argument("--data", default=None)
    a = ap.parse_args()
    warnings.filterwarnings("ignore")
    spec = ModelSpec.load(a.spec)
    reg = load_registries()
    table = load_dataset(reg) if a.data is None else pd.read_csv(a.data)
    if a.benchmark:
        table = table[table["benchmark"].isin(a.benchmark)]
    design = make_design(table, reg)
    run = read_records(a.records)
    if run.header["design_digest"] != design_structure_digest(design):
        raise SystemExit("the records were made on another design: give the same --benchmark")
    rows = []
    for r in run.records:
        if r["status"] == "failed":
            continue
        truth = simulate_design(spec, design, r["sim_seed"]).truth
        rows.append({"divergences": r["divergences"], "max_rhat": r["max_rhat"],
                     **{k: float(truth[k]) for k in SDS if k in truth}})
    d = pd.DataFrame(rows)
    corr = d.corr(method="spearman").loc[[c for c in d if c in SDS],
                                          ["divergences", "max_rhat"]]
    print(f"{len(d)} replications; Spearman correlation with the true sds:")
    print(corr.round(2).to_string())
    for k in corr["divergences"].abs().sort_values(ascending=False).index[:3]:
        third = pd.qcut(d[k], 3, labels=["low", "mid", "high"])
        med = d.groupby(third, observed=True)[["divergences", "max_rhat"]].median()
        print(f"\nmedians by thirds of {k}:\n{med.round(3).to_string()}")


if __name__ == "__main__":
    main()
