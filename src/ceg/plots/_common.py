"""What the plot modules share: colours, reference lines, panel grids, draws, selections."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from ceg.errors import CegError, did_you_mean
from ceg.registry import CATEGORIES
from ceg.summary import INTERVAL, THRESHOLDS

#: The CEG multipliers marked by reference lines (the summary's thresholds: 1x, 5x, 20x).
REFERENCE_CEGS: tuple[float, ...] = THRESHOLDS
#: Central intervals drawn as bands, narrow first (the summary's 90% and a 50%).
BANDS: tuple[float, ...] = (0.5, INTERVAL)
#: One colour per enhancement category, in the order of :data:`ceg.registry.CATEGORIES`.
CATEGORY_COLOURS: dict[str, str] = {c: f"C{i}" for i, c in enumerate(CATEGORIES)}


def flop_text(flop: float) -> str:
    """Return compute in FLOP as short text: ``1e23``, ``3.1e23``."""
    return f"{flop:.2g}".replace("e+", "e")


def band_quantiles() -> list[float]:
    """Return the quantiles of the bands, lowest first: 5%, 25%, 50%, 75%, 95%."""
    lows = [(1 - b) / 2 for b in reversed(BANDS)]
    return [*lows, 0.5, *(1 - q for q in reversed(lows))]


def samples(da: xr.DataArray, dim: str | None = None) -> np.ndarray:
    """Return draws as an array of shape (sample, ``dim``) or (sample,)."""
    stacked = da.stack(sample=("chain", "draw"))
    return (stacked.transpose("sample", dim) if dim else stacked).to_numpy()


def reference_lines(ax: Axes, axis: str = "x") -> None:
    """Draw the 1x, 5x and 20x reference lines (gid ``reference``), labelled at the edge."""
    for value in REFERENCE_CEGS:
        kw = dict(color="0.45", lw=0.9, ls="--" if value != 1 else "-", zorder=0,
                  gid="reference")
        if axis == "x":
            ax.axvline(value, **kw)
            ax.text(value, 1.0, f" {value:g}x", transform=ax.get_xaxis_transform(),
                    ha="left", va="bottom", fontsize=8, color="0.35")
        else:
            ax.axhline(value, **kw)
            ax.text(1.0, value, f" {value:g}x", transform=ax.get_yaxis_transform(),
                    ha="left", va="center", fontsize=8, color="0.35")


def ceg_axis(axis: Axis) -> None:
    """Label a logarithmic CEG axis with plain multipliers (``0.1x``, ``1x``, ``10x``)."""
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
    axis.set_minor_formatter(NullFormatter())


def panel_grid(n: int, ncols: int, size: tuple[float, float], *, legend_height: float = 0.0,
               pad: tuple[float, float, float, float] = (0.6, 0.2, 0.4, 0.5),
               ) -> tuple[Figure, list[Axes]]:
    """Return a figure with ``n`` panels on a grid of ``ncols`` columns (spare cells removed).

    The layout is fixed in inches (much faster than ``tight_layout`` on many
    panels): each panel's cell is ``size`` (width, height), of which ``pad``
    (left, right, top, bottom) surrounds the axes for tick labels, axis labels
    and the title; ``legend_height`` inches stay free at the bottom for a
    figure legend.
    """
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    w, h = size
    width, height = w * ncols, h * nrows + legend_height
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, figsize=(width, height))
    left, right, top, bottom = pad
    fig.subplots_adjust(left=left / width, right=1 - right / width, top=1 - top / height,
                        bottom=(legend_height + bottom) / height,
                        wspace=(left + right) / (w - left - right),
                        hspace=(top + bottom) / (h - top - bottom))
    flat = list(axes.ravel())
    for ax in flat[n:]:
        fig.delaxes(ax)
    return fig, flat[:n]


def choose(requested: Iterable[str] | None, known: Sequence[str], what: str) -> list[str]:
    """Return the requested labels (all known ones if ``None``), refusing unknown ones.

    Raises
    ------
    CegError
        Naming the unknown label, a close match, and the labels there are.
    """
    if requested is None:
        return list(known)
    chosen = list(dict.fromkeys(requested))
    for label in chosen:
        if label not in known:
            raise CegError(f"no {what} {label!r} in this fit.{did_you_mean(label, known)} "
                           f"The fit has: {', '.join(sorted(known))}")
    if not chosen:
        raise CegError(f"no {what} chosen: name at least one of {', '.join(sorted(known))}")
    return chosen
