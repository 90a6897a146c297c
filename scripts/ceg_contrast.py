"""Why two fits disagree on an enhancement's CEG: its gain in logits against the curves' slopes.

Usage::

    python scripts/ceg_contrast.py FIT_A FIT_B ENHANCEMENT [--family FAMILY]

At the reference compute a shift of ``s`` decades on a benchmark whose curve rises ``k``
logits per decade moves the above-floor logit by ``s * k``. So a lower log10 CEG in one fit
comes either from a smaller gain in logits (the enhanced rows read as less of an
improvement) or from steeper curves (the same gain costs fewer decades). For each benchmark
of ENHANCEMENT this prints, in both fits, the posterior median of the log10 CEG (read by
``ceg.derived.log10_ceg_enhancement_benchmark``, the engine's), of the benchmark's slope
(``slope``, logits per decade) and of their product per draw, then the medians over
benchmarks of the ratios B / A. With ``--family`` it also prints that family's model
effects in each fit that has them (decades of effective compute). A reading of two fits,
not a test of which term causes the difference: for that, refit with one term changed
(``ceg sensitivity sweep``).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ceg.fit import Fit


def per_benchmark(fit: Fit, path: str, enhancement: str) -> pd.DataFrame:
    """Return the medians of log10 CEG, slope and logit gain per benchmark of one fit."""
    from ceg.derived import log10_ceg_enhancement_benchmark

    log10_ceg = log10_ceg_enhancement_benchmark(fit.idata.posterior, fit.design)
    pairs = log10_ceg.where(log10_ceg.pair_enhancement == enhancement, drop=True)
    if pairs.sizes["enhancement_benchmark"] == 0:
        raise SystemExit(f"{path}: no benchmark of enhancement {enhancement!r}")
    benchmarks = pairs.pair_benchmark.values
    slope = fit.idata.posterior["slope"].sel(benchmark=benchmarks).rename(
        benchmark="enhancement_benchmark")
    slope = slope.assign_coords(enhancement_benchmark=pairs.enhancement_benchmark.values)
    draws = ("chain", "draw")
    return pd.DataFrame({"log10_ceg": pairs.median(draws).values,
                         "slope": slope.median(draws).values,
                         "logit_gain": (pairs * slope).median(draws).values},
                        index=[str(b) for b in benchmarks])


def model_effects(fit: Fit, family: str) -> pd.Series | None:
    """Return the posterior medians of one family's model effects, or None without them."""
    posterior = fit.idata.posterior
    if not fit.spec.structure.model_effects or "model_effect" not in posterior:
        return None
    design = fit.design
    in_family = np.asarray(design.coords["family"])[design.model_family] == family
    effect = posterior["model_effect"].median(("chain", "draw")).to_series()
    return effect[in_family]


def main() -> None:
    """Print the per-benchmark table and the median ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fit_a")
    parser.add_argument("fit_b")
    parser.add_argument("enhancement")
    parser.add_argument("--family", default=None)
    args = parser.parse_args()

    from ceg.fit import load_fit

    fits = {"A": load_fit(args.fit_a), "B": load_fit(args.fit_b)}
    a = per_benchmark(fits["A"], args.fit_a, args.enhancement)
    b = per_benchmark(fits["B"], args.fit_b, args.enhancement)
    both = a.add_suffix("_a").join(b.add_suffix("_b"), how="inner")
    pd.set_option("display.width", 160)
    print(f"A = {args.fit_a}, B = {args.fit_b}; {args.enhancement}, "
          f"{len(both)} benchmarks; posterior medians")
    print(both.round(3).to_string())
    ratio = pd.Series({
        "CEG in decades (log10 CEG)": np.median(both.log10_ceg_b / both.log10_ceg_a),
        "slope": np.median(both.slope_b / both.slope_a),
        "logit gain": np.median(both.logit_gain_b / both.logit_gain_a),
    })
    lower = int((both.log10_ceg_b < both.log10_ceg_a).sum())
    print(f"\nmedian over benchmarks of B / A (log10 CEG lower in B on {lower} of {len(both)}):")
    print(ratio.round(2).to_string())
    if args.family:
        for name, fit in fits.items():
            effect = model_effects(fit, args.family)
            print(f"\n{name}: model effects of {args.family}, decades (posterior medians): "
                  + ("none in this fit" if effect is None
                     else ", ".join(f"{m.split('|')[1]} {v:+.2f}" for m, v in effect.items())))


if __name__ == "__main__":
    main()
