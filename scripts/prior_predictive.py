"""Prior predictive check of a model spec on the bundled dataset.

Builds the model of a spec (``default`` unless told otherwise) on the design
of ``ceg.load_dataset()``, draws from its prior and prior predictive, prints a
few numbers (how many simulated scores sit at the floor or the ceiling, and
the prior of the CEGs) and writes a figure, ``docs/figures/prior_predictive.png``:

1. simulated vs observed scores, as the above-floor share
   ``(score - chance) / (1 - chance)`` (comparable across benchmarks);
2. prior draws of log10 CEG at x_ref per enhancement (``shift_intercept``),
   with the 1x, 5x and 20x lines;
3. prior draws of log10 CEG per enhanced observation at its own compute.

Run from the repository root::

    python scripts/prior_predictive.py [--spec default] [--draws 200] [--seed 20231212]
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pymc as pm  # noqa: E402

import ceg  # noqa: E402
from ceg import derived  # noqa: E402
from ceg.design import make_design  # noqa: E402
from ceg.model import build_model  # noqa: E402
from ceg.spec import ModelSpec  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "figures" / "prior_predictive.png"
#: A score counts as "at the floor" / "at the ceiling" within this margin of the
#: above-floor share 0 / 1 (i.e. within 2% of the range between chance and 1).
EDGE = 0.02
THRESHOLDS = (1.0, 5.0, 20.0)


def above_floor(score: np.ndarray, chance: np.ndarray) -> np.ndarray:
    """Return ``(score - chance) / (1 - chance)``: 0 at chance, 1 at a perfect score."""
    return (score - chance) / (1 - chance)


def edge_shares(q: np.ndarray) -> tuple[float, float]:
    """Return the shares of above-floor scores within ``EDGE`` of 0 (or below) and of 1."""
    return float(np.mean(q <= EDGE)), float(np.mean(q >= 1 - EDGE))


def interval(x: np.ndarray) -> str:
    """Return 'median [5%, 95%]' of CEG draws given in log10 units, as multipliers."""
    lo, med, hi = 10 ** np.quantile(x, [0.05, 0.5, 0.95])
    return f"{med:.3g}x [{lo:.3g}x, {hi:.3g}x]"


def main() -> None:
    """Draw the prior predictive, print the check's numbers and write the figure."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", default="default", help="spec name in models/ or a .toml path")
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--seed", type=int, default=20231212)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()

    spec = ModelSpec.load(args.spec)
    registries = ceg.load_registries()
    table = ceg.load_dataset(registries)
    design = make_design(table, registries)
    model = build_model(spec, design)
    with model, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        idata = pm.sample_prior_predictive(draws=args.draws, random_seed=args.seed)
    prior = idata.prior

    chance = design.benchmark_chance[design.obs_benchmark]
    sim = idata.prior_predictive["n_correct"].to_numpy().reshape(args.draws, -1) / design.n_items
    obs = design.n_correct / design.n_items
    q_sim, q_obs = above_floor(sim, chance), above_floor(obs, chance)
    floor_sim, ceil_sim = edge_shares(q_sim)
    floor_obs, ceil_obs = edge_shares(q_obs)
    # Per draw: how much of the table sits at an edge (a draw-level view of the same).
    per_draw_edge = np.mean((q_sim <= EDGE) | (q_sim >= 1 - EDGE), axis=1)

    a = derived.log10_ceg_enhancement(prior).to_numpy().reshape(args.draws, -1)
    obs_ceg = derived.log10_ceg_observation(prior, design, spec.x_ref).to_numpy().reshape(
        args.draws, -1)
    new = derived.log10_ceg_new_enhancement(prior, args.seed).to_numpy().ravel()
    kappa = prior["concentration"].to_numpy().ravel()
    slope = prior["slope"].to_numpy().ravel()

    print(f"spec {spec.source}: {design.n_obs} observations, {args.draws} prior draws, "
          f"seed {args.seed}")
    print(f"at the floor (above-floor share <= {EDGE}): simulated {floor_sim:.1%}, "
          f"observed {floor_obs:.1%}")
    print(f"at the ceiling (above-floor share >= {1 - EDGE}): simulated {ceil_sim:.1%}, "
          f"observed {ceil_obs:.1%}")
    print(f"share of a draw's table at either edge: median {np.median(per_draw_edge):.1%}, "
          f"90% of draws in [{np.quantile(per_draw_edge, 0.05):.1%}, "
          f"{np.quantile(per_draw_edge, 0.95):.1%}]")
    print(f"mean simulated score {sim.mean():.3f} (observed {obs.mean():.3f}); "
          f"simulated score sd within a row, median over rows "
          f"{np.median(sim.std(axis=0)):.3f}")
    print(f"prior CEG at x_ref per enhancement (shift_intercept): {interval(a.ravel())}; "
          + ", ".join(f"P(>{t:g}x) = {np.mean(a > np.log10(t)):.2f}" for t in THRESHOLDS))
    print(f"prior CEG per enhanced observation at its own compute: {interval(obs_ceg.ravel())}; "
          + ", ".join(f"P(>{t:g}x) = {np.mean(obs_ceg > np.log10(t)):.2f}"
                      for t in THRESHOLDS))
    print(f"prior CEG of a new enhancement (any category): {interval(new)}")
    print(f"prior slope (logits per decade): median {np.median(slope):.2f}, 90% "
          f"[{np.quantile(slope, 0.05):.2f}, {np.quantile(slope, 0.95):.2f}]; "
          f"concentration: median {np.median(kappa):.0f}, 90% "
          f"[{np.quantile(kappa, 0.05):.1f}, {np.quantile(kappa, 0.95):.0f}]")

    fig, ax = plt.subplots(1, 3, figsize=(16, 4.8), constrained_layout=True)
    bins = np.linspace(-0.5, 1.0, 61)
    ax[0].hist(np.clip(q_sim.ravel(), bins[0], bins[-1]), bins=bins, density=True,
               alpha=0.55, color="tab:blue", label=f"prior predictive ({args.draws} draws)")
    ax[0].hist(np.clip(q_obs, bins[0], bins[-1]), bins=bins, density=True, histtype="step",
               lw=2, color="black", label="observed")
    ax[0].set_xlabel("above-floor share  (score - chance) / (1 - chance)")
    ax[0].set_ylabel("density")
    ax[0].set_title(f"Scores: at floor {floor_sim:.0%} sim / {floor_obs:.0%} obs; "
                    f"at ceiling {ceil_sim:.0%} / {ceil_obs:.0%}", fontsize=10)
    ax[0].legend(fontsize=9)

    names = list(prior["enhancement"].to_numpy())
    ax[1].violinplot([a[:, j] for j in range(a.shape[1])], orientation="horizontal",
                     showmedians=True)
    ax[1].set_yticks(range(1, len(names) + 1), names, fontsize=8)
    ax[1].set_xlabel("log10 CEG at x_ref (shift_intercept), prior")
    ax[1].set_title(f"Enhancement CEG at x_ref: {interval(a.ravel())}", fontsize=10)

    ax[2].hist(obs_ceg.ravel(), bins=80, density=True, color="tab:green", alpha=0.6,
               label="per enhanced observation, own compute")
    ax[2].hist(a.ravel(), bins=80, density=True, histtype="step", lw=2, color="tab:blue",
               label="per enhancement at x_ref")
    ax[2].set_xlabel("log10 CEG, prior")
    ax[2].set_title("Prior of log10 CEG", fontsize=10)
    for axis in ax[1:]:
        for t, style in zip(THRESHOLDS, ("-", "--", ":"), strict=True):
            axis.axvline(np.log10(t), color="grey", ls=style, lw=1, label=f"{t:g}x")
    ax[2].legend(fontsize=8, loc="upper left")
    fig.suptitle(f"Prior predictive check: spec '{spec.name}' on the bundled dataset "
                 f"({design.n_obs} rows)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")


if __name__ == "__main__":
    main()
