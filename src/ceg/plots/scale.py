"""CEG against base compute: how an enhancement's gain changes with the model's scale."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ceg.engine import enhancement_log10_ceg
from ceg.errors import CegError
from ceg.plots._common import (
    BANDS,
    CATEGORY_COLOURS,
    REFERENCE_CEGS,
    band_quantiles,
    ceg_axis,
    choose,
    panel_grid,
)
from ceg.predictive import thin
from ceg.table import enhancements_of

if TYPE_CHECKING:
    from ceg.fit import Fit

#: Decades of compute drawn beyond the measured range on each side.
MARGIN = 0.5


def measured_sizes(fit: Fit) -> dict[str, int]:
    """Return, per enhancement, how many distinct model sizes (train_flop) it was measured at.

    A row counts for every enhancement of its condition (stacks included).
    """
    t = fit.design.table
    sizes: dict[str, set[float]] = {e: set() for e in fit.design.coords["enhancement"]}
    for cond, flop in zip(t["condition"], t["train_flop"], strict=True):
        for e in enhancements_of(cond):
            sizes[e].add(float(flop))
    return {e: len(s) for e, s in sizes.items()}


def ceg_vs_compute(fit: Fit, enhancements: Iterable[str] | None = None, *, min_sizes: int = 2,
                   max_draws: int = 400, ncols: int = 3, points: int = 60) -> Figure:
    """Plot each enhancement's CEG against the base model's compute (its scale dependence).

    One panel per enhancement: the benchmark-averaged CEG
    ``10 ** (a_e + gamma_e (x - x_ref))`` against training FLOP ``10 ** x``
    (posterior median, 50% and 90% bands;
    :func:`ceg.engine.enhancement_log10_ceg`), over the compute range at which the enhancement
    was measured (shaded) plus a margin; the rows measuring the enhancement
    alone at their own compute (posterior median and 90% interval, which
    include the benchmark's deviation and so scatter around the curve) and
    their paper-method values (black crosses; open triangles at the edge for
    values off the scale, which is set by the posterior); ``x_ref`` (dotted); reference
    lines at 1x, 5x and 20x. Both axes are logarithmic.

    Parameters
    ----------
    fit
        A fit (fresh or loaded).
    enhancements
        Which to show; by default every enhancement measured at
        ``min_sizes`` or more model sizes.
    min_sizes
        Least number of distinct model sizes for the default selection.
    max_draws
        Posterior draws used for the bands (evenly thinned).
    ncols
        Panels per row.
    points
        Compute values at which the curve is evaluated.

    Returns
    -------
    matplotlib.figure.Figure
        Artists carry gids: ``band50``, ``band90``, ``median``,
        ``observation``, ``paper`` (crosses), ``paper_off_scale`` (paper
        values beyond the axis, as open triangles at its edge), ``x_ref``,
        ``reference``.

    Raises
    ------
    CegError
        If an enhancement is not in the fit, or none was measured at
        ``min_sizes`` sizes.
    """
    design = fit.design
    sizes = measured_sizes(fit)
    if enhancements is None:
        chosen = [e for e in design.coords["enhancement"] if sizes[e] >= min_sizes]
        if not chosen:
            raise CegError(f"no enhancement of this fit was measured at {min_sizes} or more "
                           "model sizes; name enhancements to plot, or lower min_sizes")
    else:
        chosen = choose(enhancements, design.coords["enhancement"], "enhancement")
    post = thin(fit.posterior, max_draws)
    x_ref = fit.spec.x_ref
    obs = fit.summary("observation")
    cat = fit.registries.enhancements["category"]
    t = design.table
    fig, axes = panel_grid(len(chosen), ncols, (3.9, 3.0), legend_height=0.6,
                           pad=(0.7, 0.45, 0.35, 0.5))
    for ax, e in zip(axes, chosen, strict=True):
        rows = [c for c in t["condition"] if e in enhancements_of(c)]
        measured = np.log10(t.loc[t["condition"].isin(rows), "train_flop"].to_numpy())
        lo, hi = measured.min(), measured.max()
        grid = xr.DataArray(np.linspace(lo - MARGIN, hi + MARGIN, points), dims="log10_flop")
        log10_ceg = enhancement_log10_ceg(post, x_ref, grid).sel(enhancement=e, drop=True)
        q = 10 ** log10_ceg.quantile(band_quantiles(), dim=("chain", "draw")).to_numpy()
        colour = CATEGORY_COLOURS.get(str(cat.get(e, "")), "0.3")
        flop = 10 ** grid.to_numpy()
        nb = len(BANDS)
        ax.axvspan(10 ** lo, 10 ** hi, color="0.93", zorder=0, gid="measured")
        for k, band in reversed(list(enumerate(BANDS))):
            ax.fill_between(flop, q[nb - 1 - k], q[nb + 1 + k], color=colour,
                            alpha=0.18 if band > 0.5 else 0.3, lw=0, gid=f"band{band * 100:.0f}")
        ax.plot(flop, q[nb], color=colour, lw=1.5, gid="median")
        alone = obs[obs["condition"] == e]
        low, high = q[0].min(), q[-1].max()
        if len(alone):
            fx = alone["train_flop"].to_numpy(dtype=float)
            med, lo_, hi_ = (alone[c].to_numpy(dtype=float)
                             for c in ("median_ceg", "ceg_low", "ceg_high"))
            ax.errorbar(fx, med, yerr=[med - lo_, hi_ - med], fmt="o", ms=3.5, color="0.25",
                        lw=0.8, gid="observation")
            low = min(low, alone["ceg_low"].min())
            high = max(high, alone["ceg_high"].max())
        ylim = (low / 1.5, high * 1.5)
        if len(alone):
            _paper_markers(ax, fx, alone["paper_ceg"].to_numpy(dtype=float), ylim)
        ax.set_ylim(*ylim)
        ax.axvline(10 ** x_ref, color="0.3", ls=":", lw=1, gid="x_ref")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ceg_axis(ax.yaxis)
        _reference_lines_inside(ax, ylim)
        ax.set_title(f"{e} ({cat.get(e, '?')})", fontsize=9)
        ax.set_xlabel("training FLOP of the base model", fontsize=8)
        ax.set_ylabel("CEG (× compute)", fontsize=8)
        ax.tick_params(labelsize=7)
    handles = [Line2D([], [], color="0.3", lw=1.5, label="benchmark-averaged CEG (median)"),
               Patch(color="0.3", alpha=0.45, label="50% band"),
               Patch(color="0.3", alpha=0.18, label="90% band"),
               Patch(color="0.93", label="measured compute"),
               Line2D([], [], color="0.25", marker="o", ms=3.5, label="row alone (90%)"),
               Line2D([], [], color="black", marker="x", ls="", label="paper method"),
               Line2D([], [], color="black", marker="^", ls="", mfc="none",
                      label="paper method, off scale"),
               Line2D([], [], color="0.3", ls=":", label="x_ref")]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False)
    return fig


def _reference_lines_inside(ax: Axes, ylim: tuple[float, float]) -> None:
    """Draw the 1x, 5x and 20x lines (gid ``reference``), labelled inside the panel.

    A label sits just above its line at the panel's right edge, and only if
    the line is on the panel's scale: next to other panels, a label outside
    the axes lands on the neighbour (or floats above the panel).
    """
    for value in REFERENCE_CEGS:
        ax.axhline(value, color="0.45", lw=0.9, ls="--" if value != 1 else "-", zorder=0,
                   gid="reference")
        if ylim[0] <= value <= ylim[1]:
            ax.text(0.98, value, f"{value:g}x", transform=ax.get_yaxis_transform(),
                    ha="right", va="bottom", fontsize=7, color="0.35", clip_on=True,
                    gid="reference_label")


def _paper_markers(ax: Axes, flop: np.ndarray, paper: np.ndarray,
                   ylim: tuple[float, float]) -> None:
    """Draw paper-method CEGs as crosses; those beyond ``ylim`` as open triangles at the edge."""
    ok = np.isfinite(paper) & (paper > 0)
    inside = ok & (paper >= ylim[0]) & (paper <= ylim[1])
    if inside.any():
        ax.plot(flop[inside] * 1.06, paper[inside], "x", color="black", ms=5, mew=1.2,
                gid="paper")
    for sel, edge, marker in ((ok & (paper > ylim[1]), ylim[1], "^"),
                              (ok & (paper < ylim[0]), ylim[0], "v")):
        if sel.any():
            ax.plot(flop[sel] * 1.06, np.full(sel.sum(), edge), marker, color="black",
                    mfc="none", ms=5, clip_on=False, gid="paper_off_scale")
