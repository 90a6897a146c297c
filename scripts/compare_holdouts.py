"""Print a markdown table comparing held-out reports (``holdout.json`` of ``ceg validate holdout``).

Usage::

    python scripts/compare_holdouts.py NAME=DIR [NAME=DIR ...]

One row per report and group (overall, seen families, new families, each condition):
coverage of the 50% and 90% intervals, MAE (and the sigmoid baseline's), CRPS, log
predictive density per row, and whether the training fit met the convergence gate.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

GROUPS = ("all", "all: family in training", "all: new family", "base", "chain_of_thought",
          "chain_of_thought+self_consistency", "zero_shot_chain_of_thought")


def main(argv: list[str]) -> int:
    """Print the table for ``NAME=DIR`` arguments; return the exit status."""
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    print("| variant | group | n | cov. 50% | cov. 90% | MAE | baseline MAE | CRPS | "
          "lpd / row | training fit converged |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for arg in argv:
        name, _, folder = arg.partition("=")
        report = json.loads((Path(folder) / "holdout.json").read_text(encoding="utf-8"))
        rows = {r.get("group", r.get("condition")): r for r in report["summary"]}
        conv = report["settings"].get("converged")
        for g in GROUPS:
            r = rows.get(g)
            if r is None:
                continue

            def f(key: str, r: dict = r) -> str:
                v = r.get(key)
                return "–" if v is None else f"{v:.3g}"

            print(f"| {name} | {g} | {r['n']} | {f('coverage_50')} | {f('coverage_90')} | "
                  f"{f('mae')} | {f('baseline_mae')} | {f('crps')} | {f('lpd_mean')} | {conv} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
