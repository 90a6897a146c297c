"""Print how far each headline quantity and each CEG moves over a sweep's converged variants.

The numbers the README's "How robust" paragraph quotes, from a sweep report's
``table.csv`` (``ceg sensitivity report DIR --out OUT`` writes it):

    python scripts/sweep_robustness.py docs/sensitivity/sweep/table.csv

For each headline quantity: the range over the converged variants that have it,
the variants at the ends, the default's value and the prior-only range. For
each enhancement's and category's median CEG at 1e23 FLOP: the range of the
medians and its ratio to the default's, the variant furthest from the default.
Variants that did not converge are listed, not used.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from ceg.sensitivity.sweep_report import HEADLINE, ceg_columns


def main(path: str) -> None:
    """Print the ranges of the headline and the CEGs in a sweep report's ``table.csv``."""
    table = pd.read_csv(path, index_col="variant")
    ok = table[table["status"] == "ok"]
    left = sorted(set(table.index) - set(ok.index))
    print(f"{len(table)} variants recorded, {len(ok)} converged; not converged (not used): "
          f"{', '.join(left) or 'none'}")
    ref = table.loc["default"] if "default" in table.index else None
    print("\nheadline over the converged variants that have it")
    for col in HEADLINE.values():
        have = ok[col].dropna()
        if have.empty:
            continue
        prior = ok[f"prior {col}"].dropna()
        at_ref = "" if ref is None or pd.isna(ref[col]) else f"; default {ref[col]:.3f}"
        print(f"  {col}: {have.min():.3f} ({have.idxmin()}) to {have.max():.3f} "
              f"({have.idxmax()}), n = {len(have)}{at_ref}; prior alone "
              f"{prior.min():.3f} to {prior.max():.3f}")
    bases = ceg_columns(table)
    if ref is None:
        return
    note = "" if ref["status"] == "ok" else f" (the default itself: {ref['status']})"
    print(f"\nmedian CEG at 1e23 over the converged variants (x of the default's median{note})")
    for b in bases:
        have = ok[b].dropna()
        ratio = np.log10(have / ref[b])
        far = ratio.abs().idxmax()
        print(f"  {b}: default {ref[b]:.2f}; {have.min():.2f} to {have.max():.2f} "
              f"({10 ** ratio.min():.2f}-{10 ** ratio.max():.2f}x); furthest: {far} "
              f"{have[far]:.2f}; n = {len(have)}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/sensitivity/sweep/table.csv")
