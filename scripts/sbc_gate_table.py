"""Tabulate how SBC runs' replications fared against the convergence gates.

Usage::

    python scripts/sbc_gate_table.py RECORDS [RECORDS ...]

Each RECORDS is a records folder of ``ceg validate sbc`` (``sbc_records.jsonl`` or
``.gz``). Prints one markdown row per run: the spec and sampler settings, replications,
how many met SBC's gate (every ranked quantity, pooled parameters included) and ``ceg
fit``'s (the CEG quantities; "–" for records made before it was recorded), how many had
divergences, a stuck chain (max R-hat > 1.1) or R-hat > 1.01, the median max R-hat,
leapfrog steps per draw and seconds per replication.
"""

from __future__ import annotations

import argparse


def main() -> None:
    """Print the table."""
    import pandas as pd

    from ceg.validate.records import read_records

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("records", nargs="+")
    args = ap.parse_args()
    head = ("| run | spec | chains × draws after tuning | replications | met SBC's gate | met "
            "`ceg fit`'s gate | with divergences | max R-hat > 1.1 | max R-hat > 1.01 | "
            "median max R-hat | leapfrog steps per draw | s per replication |")
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for folder in args.records:
        run = read_records(folder)
        s = run.header["settings"]
        d = pd.DataFrame([r for r in run.records if r["status"] != "failed"])
        fit = d["fit_gate"] if "fit_gate" in d else pd.Series(dtype=object)
        fit_ok = f"{int((fit == 'ok').sum())}" if fit.notna().all() and len(fit) else "–"
        print(f"| {folder} | {run.header['spec_name']} | {s['chains']} × {s['draws']} after "
              f"{s['tune']} | {len(run.records)} | {int((d.status == 'ok').sum())} | {fit_ok} | "
              f"{int((d.divergences > 0).sum())} | {int((d.max_rhat > 1.1).sum())} | "
              f"{int((d.max_rhat > 1.01).sum())} | {d.max_rhat.median():.3f} | "
              f"{d.mean_n_steps.median():.0f} | {d.seconds.median():.0f} |")


if __name__ == "__main__":
    main()
