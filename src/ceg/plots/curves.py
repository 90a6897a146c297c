"""Scaling curves: score against training compute, per benchmark and family, with the CEGs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import NullFormatter

from ceg.derived import base_success_probability
from ceg.errors import CegError
from ceg.plots._common import BANDS, band_quantiles, choose, panel_grid
from ceg.predictive import thin
from ceg.table import BASE

if TYPE_CHECKING:
    from ceg.fit import Fit

#: Decades of compute drawn beyond the panel's data on each side.
MARGIN = 0.4
#: Least span of a panel's compute axis, in decades (a one-size family gets a readable axis).
MIN_SPAN = 2.0


def condition_colours(conditions: Iterable[str]) -> dict[str, tuple[float, ...] | str]:
    """Return a colour per enhanced condition, sorted by name.

    Neither blue (the curve) nor grey (the base points); the same condition
    gets the same colour in every figure of one fit when given all its conditions.
    """
    names = sorted(set(conditions))
    palette: list = [f"C{i}" for i in range(10) if i not in (0, 7)]
    if len(names) > len(palette):
        tab20 = plt.get_cmap("tab20").colors
        palette = [c for i, c in enumerate(tab20) if i not in (0, 1, 14, 15)]
    return {c: palette[i % len(palette)] for i, c in enumerate(names)}


def _panel_protocol(fit: Fit, rows: np.ndarray, base: np.ndarray) -> int:
    """Return the protocol index (0 = reference) of most of the panel's base rows (else rows).

    On a tie the smallest index wins, so the benchmark's reference source first.
    """
    codes = fit.design.obs_protocol[rows[base] if base.any() else rows]
    values, counts = np.unique(codes, return_counts=True)
    return int(values[np.argmax(counts)])


def scaling_curves(fit: Fit, benchmarks: Iterable[str] | None = None,
                   families: Iterable[str] | None = None, *, max_draws: int = 400,
                   ncols: int = 4, points: int = 100) -> Figure:
    """Plot score against training FLOP per benchmark x family, with each CEG as an arrow.

    One panel per (benchmark, family) pair that has rows in the fitted table,
    among those chosen. Each panel shows the family's base curve on the
    benchmark (posterior median, 50% and 90% bands), the observed base
    scores, each enhanced score at the model's own compute (square) and at
    its effective compute (diamond), joined by an arrow whose length in
    decades is the posterior median log10 CEG of that row, and the chance
    level (dotted). The curve is that of the protocol (source) of most of the
    panel's base rows (on a tie, the benchmark's reference source); rows of
    another source are drawn hollow, as the curve does not include their
    protocol offset. Compute on the x axis is the
    stated ``train_flop`` (latent compute is not shown).

    Parameters
    ----------
    fit
        A fit (fresh or loaded).
    benchmarks, families
        Which to show; all of the fit's by default.
    max_draws
        Posterior draws used for the bands (evenly thinned).
    ncols
        Panels per row.
    points
        Compute values at which the curve is evaluated.

    Returns
    -------
    matplotlib.figure.Figure
        Artists carry gids for inspection: ``band50``, ``band90``, ``median``,
        ``base``, ``enhanced_own``, ``enhanced_effective``, ``ceg_arrow``,
        ``chance``.

    Raises
    ------
    CegError
        If a benchmark or family is not in the fit, or no pair has rows.
    """
    design = fit.design
    table = design.table
    chosen_b = choose(benchmarks, design.coords["benchmark"], "benchmark")
    chosen_f = choose(families, design.coords["family"], "family")
    pairs = [(b, f) for b in chosen_b for f in chosen_f
             if ((table["benchmark"] == b) & (table["family"] == f)).any()]
    if not pairs:
        raise CegError(f"no rows of families {chosen_f} on benchmarks {chosen_b}: choose "
                       "families measured on those benchmarks ('ceg data show' lists them)")
    post = thin(fit.posterior, max_draws)
    obs = fit.quantities["log10_ceg_observation"]
    median_ceg = dict(zip(obs["enhanced_observation"].to_numpy(),
                          obs.median(("chain", "draw")).to_numpy(), strict=True))
    colours = condition_colours(table.loc[table["condition"] != BASE, "condition"])
    shown = table[table["benchmark"].isin(chosen_b) & table["family"].isin(chosen_f)]

    handles = _legend_handles({c: v for c, v in colours.items()
                               if c in set(shown["condition"])})
    legend_cols = min(4, len(handles))
    legend_height = 0.22 * np.ceil(len(handles) / legend_cols) + 0.15
    fig, axes = panel_grid(len(pairs), ncols, (3.6, 2.9), legend_height=legend_height,
                           pad=(0.55, 0.15, 0.35, 0.5))
    for ax, (b, f) in zip(axes, pairs, strict=True):
        rows = np.flatnonzero(((table["benchmark"] == b) & (table["family"] == f)).to_numpy())
        is_base = (table["condition"].to_numpy()[rows] == BASE)
        proto = _panel_protocol(fit, rows, is_base)
        x = np.log10(table["train_flop"].to_numpy()[rows])
        score = table["score"].to_numpy()[rows]
        own_proto = design.obs_protocol[rows] == proto
        effective = np.array([x[i] + median_ceg[r] if not is_base[i] else np.nan
                              for i, r in enumerate(rows)])
        span = np.concatenate([x, effective[np.isfinite(effective)]])
        lo, hi = span.min() - MARGIN, span.max() + MARGIN
        widen = max(0.0, MIN_SPAN - (hi - lo)) / 2
        grid = np.linspace(lo - widen, hi + widen, points)
        p = base_success_probability(
            post, design, b, f, grid, structure=fit.spec.structure,
            protocol=None if proto == 0 else design.coords["protocol"][proto - 1])
        q = p.quantile(band_quantiles(), dim=("chain", "draw")).to_numpy()
        flop = 10 ** grid
        nb = len(BANDS)
        for k, band in reversed(list(enumerate(BANDS))):
            ax.fill_between(flop, q[nb - 1 - k], q[nb + 1 + k], color="C0",
                            alpha=0.18 if band > 0.5 else 0.3, lw=0, gid=f"band{band * 100:.0f}")
        ax.plot(flop, q[nb], color="C0", lw=1.5, gid="median")
        chance = design.benchmark_chance[design.coords["benchmark"].index(b)]
        ax.axhline(chance, color="0.3", ls=":", lw=1, gid="chance")
        base_x, base_y, base_own = x[is_base], score[is_base], own_proto[is_base]
        ax.scatter(10 ** base_x, base_y, s=22, c=["0.2" if o else "none" for o in base_own],
                   edgecolors="0.2", zorder=3, gid="base")
        enh = ~is_base
        cols = [colours[c] for c in table["condition"].to_numpy()[rows][enh]]
        ax.scatter(10 ** x[enh], score[enh], marker="s", s=26, zorder=4, gid="enhanced_own",
                   c=[c if o else "none" for c, o in zip(cols, own_proto[enh], strict=True)],
                   edgecolors=cols)
        ax.scatter(10 ** effective[enh], score[enh], marker="D", s=22, zorder=4, c=cols,
                   edgecolors="white", linewidths=0.5, gid="enhanced_effective")
        for x0, x1, y, c in zip(x[enh], effective[enh], score[enh], cols, strict=True):
            ax.annotate("", xy=(10 ** x1, y), xytext=(10 ** x0, y), gid="ceg_arrow",
                        arrowprops=dict(arrowstyle="->", color=c, lw=1.0, shrinkA=3, shrinkB=3))
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"{b} · {f}", fontsize=9)
        ax.set_xlabel("training FLOP", fontsize=8)
        ax.set_ylabel("score", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.legend(handles=handles, loc="lower center", ncol=legend_cols, fontsize=8,
               frameon=False)
    return fig


def _legend_handles(colours: dict) -> list:
    handles = [Line2D([], [], color="C0", lw=1.5, label="base curve (median)"),
               Patch(color="C0", alpha=0.45, label="50% band"),
               Patch(color="C0", alpha=0.18, label="90% band"),
               Line2D([], [], color="0.3", ls=":", label="chance"),
               Line2D([], [], ls="", marker="o", color="0.2", label="base (observed)"),
               Line2D([], [], ls="", marker="o", mfc="none", color="0.2",
                      label="other source (no offset)"),
               Line2D([], [], ls="", marker="s", color="0.4", label="enhanced, own compute"),
               Line2D([], [], ls="", marker="D", color="0.4",
                      label="at effective compute (arrow: log10 CEG)")]
    return handles + [Line2D([], [], ls="", marker="s", color=c, label=cond)
                      for cond, c in colours.items()]
