"""Forest plot of CEGs: every enhancement, grouped by category, with the pooled quantities."""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ceg.plots._common import (
    BANDS,
    CATEGORY_COLOURS,
    band_quantiles,
    ceg_axis,
    flop_text,
    reference_lines,
    samples,
)

if TYPE_CHECKING:
    from ceg.fit import Fit

#: Row labels of the two category-level rows.
POOLED_LABEL = "{category}: pooled mean"
NEW_LABEL = "{category}: new enhancement"


def forest_rows(fit: Fit, extrapolated_at: float = 0.5) -> list[dict]:
    """Return the rows of :func:`ceg_forest`, top to bottom.

    Per category (in the order of the fit's categories): its enhancements
    by decreasing median CEG, then the pooled mean, then the predictive for
    a new enhancement.

    Parameters
    ----------
    fit
        A fit.
    extrapolated_at
        An enhancement is marked extrapolated when its ``extrapolated_share``
        is at least this.

    Returns
    -------
    list of dict
        Keys ``label``, ``kind`` (``"enhancement"``, ``"pooled"``, ``"new"``),
        ``category``, ``q`` (log10 CEG at the 5, 25, 50, 75, 95% quantiles),
        ``paper_ceg`` (NaN if none) and ``extrapolated`` (bool).
    """
    q = fit.quantities
    summary = fit.summary("enhancement")
    probs = band_quantiles()
    enh = np.quantile(samples(q["log10_ceg_enhancement"], "enhancement"), probs, axis=0)
    cat = np.quantile(samples(q["log10_ceg_category"], "category"), probs, axis=0)
    new = np.quantile(samples(q["log10_ceg_new_enhancement"], "new_category"), probs, axis=0)
    enh_labels = list(q["enhancement"].to_numpy())
    categories = list(q["category"].to_numpy())
    new_labels = list(q["new_category"].to_numpy())
    rows = []
    for c in categories:
        members = [e for e in enh_labels if summary.loc[e, "category"] == c]
        members.sort(key=lambda e: -enh[2, enh_labels.index(e)])
        for e in members:
            rows.append({"label": e, "kind": "enhancement", "category": c,
                         "q": enh[:, enh_labels.index(e)],
                         "paper_ceg": float(summary.loc[e, "paper_ceg"]),
                         "extrapolated": bool(summary.loc[e, "extrapolated_share"]
                                              >= extrapolated_at)})
        rows.append({"label": POOLED_LABEL.format(category=c), "kind": "pooled", "category": c,
                     "q": cat[:, categories.index(c)], "paper_ceg": np.nan,
                     "extrapolated": False})
        rows.append({"label": NEW_LABEL.format(category=c), "kind": "new", "category": c,
                     "q": new[:, new_labels.index(c)], "paper_ceg": np.nan,
                     "extrapolated": False})
    return rows


def ceg_forest(fit: Fit, *, extrapolated_at: float = 0.5, ax: Axes | None = None) -> Figure:
    """Plot every enhancement's CEG at ``x_ref``, grouped and coloured by category.

    Per row: the posterior median (marker) with the 50% (thick) and 90%
    (thin) intervals, on a log axis with reference lines at 1x, 5x and 20x.
    Each category ends with its pooled mean (diamond) and the predictive for
    a new enhancement of the category (dashed, open circle). The paper's
    deterministic value (median over the rows measuring the enhancement
    alone; :mod:`ceg.paper_method`) is a black cross. An enhancement whose
    CEG is read off an extrapolated curve in at least ``extrapolated_at`` of
    the draws has a hollow marker, a dotted interval and a dagger after its
    name.

    Parameters
    ----------
    fit
        A fit (fresh or loaded).
    extrapolated_at
        Share of draws from which a CEG counts as extrapolated.
    ax
        Axes to draw on; a new figure if ``None``.

    Returns
    -------
    matplotlib.figure.Figure
        Artists carry gids: ``interval50``, ``interval90``, ``median``,
        ``paper``, ``reference``.
    """
    rows = forest_rows(fit, extrapolated_at)
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 1.2 + 0.3 * len(rows)))
    fig = ax.figure
    y = np.arange(len(rows))[::-1]
    nb = len(BANDS)
    for yi, r in zip(y, rows, strict=True):
        colour = CATEGORY_COLOURS.get(r["category"], "0.3")
        v = 10 ** r["q"]
        dashed = r["kind"] == "new"
        style = ":" if r["extrapolated"] else ("--" if dashed else "-")
        ax.plot([v[0], v[-1]], [yi, yi], color=colour, lw=1.2, ls=style, gid="interval90")
        ax.plot([v[nb - 1], v[nb + 1]], [yi, yi], color=colour, lw=3.5,
                ls=":" if r["extrapolated"] else "-", alpha=0.5 if dashed else 1.0,
                solid_capstyle="butt", gid="interval50")
        marker = {"enhancement": "o", "pooled": "D", "new": "o"}[r["kind"]]
        hollow = r["extrapolated"] or dashed
        ax.plot([v[nb]], [yi], marker=marker, ms=6.5, color=colour,
                mfc="white" if hollow else colour, mew=1.5, ls="", gid="median", zorder=3)
        if np.isfinite(r["paper_ceg"]) and r["paper_ceg"] > 0:
            ax.plot([r["paper_ceg"]], [yi], marker="x", ms=7, mew=1.6, color="black", ls="",
                    gid="paper", zorder=4)
    labels = [r["label"] + (" †" if r["extrapolated"] else "") for r in rows]
    ax.set_yticks(y, labels, fontsize=8)
    for tick, r in zip(ax.get_yticklabels(), rows, strict=True):
        tick.set_color(CATEGORY_COLOURS.get(r["category"], "0.3"))
        if r["kind"] != "enhancement":
            tick.set_fontstyle("italic")
    ends = [i for i, r in enumerate(rows) if r["kind"] == "new"][:-1]
    for i in ends:
        ax.axhline(y[i] - 0.5, color="0.8", lw=0.8)
    ax.set_xscale("log")
    ceg_axis(ax.xaxis)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    reference_lines(ax, "x")
    x_ref = flop_text(fit.spec.structure.x_ref_flop)
    ax.set_xlabel(f"CEG at {x_ref} FLOP (x pre-training compute), averaged over benchmarks",
                  fontsize=9)
    handles = [Line2D([], [], color="0.3", marker="o", lw=3.5, label="median, 50% interval"),
               Line2D([], [], color="0.3", lw=1.2, label="90% interval"),
               Line2D([], [], color="0.3", marker="D", ls="", label="category pooled mean"),
               Line2D([], [], color="0.3", marker="o", mfc="white", ls="--",
                      label="new enhancement (predictive)"),
               Line2D([], [], color="black", marker="x", ls="", label="paper method"),
               Line2D([], [], color="0.3", marker="o", mfc="white", ls=":",
                      label=f"† extrapolated (share ≥ {extrapolated_at:g})")]
    ax.legend(handles=handles, fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.1),
              ncol=2, frameon=False)
    fig.tight_layout()
    return fig
