r"""The deterministic method of Davidson et al. (2023), reported beside the posterior.

For each enhanced row, the base (non-enhanced) models of the same family and
benchmark give a curve of score against log10 pre-training compute. The
compute-equivalent gain is read off that curve: the compute ``x'`` at which a
base model would score what the enhanced model scores, so that

.. math::

    \log_{10} \mathrm{CEG} = x' - x_E, \qquad \mathrm{CEG} = C' / C,

where ``x_E`` is the log10 compute of the enhanced model. No noise, no
pooling across families: this is the paper's point estimate, to compare with
the Bayesian posterior.

How ``x'`` is found (the ``method`` column, one of :data:`METHODS`):

``interpolated``
    The enhanced score lies within the range of the base scores (with at least
    two base sizes): ``x'`` is where the piecewise-linear curve through the
    base points (score against log10 compute) first reaches the score. If the
    curve is not monotone and reaches the score several times, the smallest
    such ``x'`` is taken: the least compute at which a base model is seen to
    do as well, hence the smaller (conservative) CEG.
``extrapolated``
    The enhanced score lies above every base score (below every base score)
    and the two largest (smallest) base points have scores that increase with
    compute: ``x'`` is on the straight line through those two points. Flagged
    because it leaves the measured range.
``lower_bound``
    The enhanced score lies above every base score, no extrapolation is
    possible, and a base model larger than the enhanced one exists: the
    enhanced model beats that larger base model, so the CEG is at least the
    compute ratio between them (the paper's lower bound). ``log10_ceg`` is the
    bound.
``undefined``
    None of the above; ``log10_ceg`` is NaN.

The lower bound (``lower_bound_log10``) is reported whenever the enhanced score
lies above every base score and a larger base model exists, including when
the row is extrapolated; the extrapolation is then never below the bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import pandas as pd

from ceg.errors import DataError, Problem
from ceg.table import BASE

#: How a row's CEG was obtained.
Method = Literal["interpolated", "lower_bound", "extrapolated", "undefined"]
#: The values of :data:`Method`, in order of preference.
METHODS: tuple[str, ...] = get_args(Method)
#: Which base rows a row was compared with.
Comparator = Literal["same source", "any source"]
COMPARATORS: tuple[str, ...] = get_args(Comparator)

#: Columns :func:`paper_ceg` needs in its input.
INPUT_COLUMNS = ("family", "model", "train_flop", "benchmark", "condition", "score", "source")
#: Columns of the frame :func:`paper_ceg` returns, in order.
RESULT_COLUMNS = (
    "family", "model", "benchmark", "condition", "source", "train_flop", "score",
    "base_sizes", "comparator", "method", "log10_ceg", "lower_bound_log10", "ceg",
)


@dataclass(frozen=True)
class PaperEstimate:
    """The paper-method estimate for one enhanced score against one base curve.

    Parameters
    ----------
    method
        How the estimate was obtained (one of :data:`METHODS`).
    log10_ceg
        Estimated log10 CEG; NaN when ``method`` is ``"undefined"``.
    lower_bound_log10
        The paper's lower bound on log10 CEG, or NaN when there is none.
    """

    method: Method
    log10_ceg: float
    lower_bound_log10: float


def base_curve(log10_flop: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return base points sorted by compute, with scores at a shared compute averaged.

    Parameters
    ----------
    log10_flop
        log10 pre-training compute of each base row.
    score
        Score of each base row.

    Returns
    -------
    tuple of numpy.ndarray
        Distinct log10 computes in increasing order, and the mean score at each.
    """
    x = np.asarray(log10_flop, dtype=float)
    y = np.asarray(score, dtype=float)
    xs, inverse = np.unique(x, return_inverse=True)
    ys = np.bincount(inverse, weights=y) / np.bincount(inverse)
    return xs, ys


def first_crossing(xs: np.ndarray, ys: np.ndarray, y: float) -> float:
    """Return the smallest x where the piecewise-linear curve through the points reaches y.

    Parameters
    ----------
    xs
        Strictly increasing x values (at least one).
    ys
        Curve values at ``xs``.
    y
        Level to reach.

    Returns
    -------
    float
        The smallest ``x`` in ``[xs[0], xs[-1]]`` with curve value ``y``, or
        NaN if the curve never reaches ``y``. On a flat segment at level ``y``
        the segment's left end is returned.
    """
    for i in range(len(xs) - 1):
        y0, y1 = ys[i], ys[i + 1]
        if min(y0, y1) <= y <= max(y0, y1):
            if y0 == y1:
                return float(xs[i])
            return float(xs[i] + (y - y0) / (y1 - y0) * (xs[i + 1] - xs[i]))
    if len(xs) and ys[-1] == y:
        return float(xs[-1])
    return float("nan")


def _line_at(x0: float, y0: float, x1: float, y1: float, y: float) -> float:
    """Return x where the line through (x0, y0) and (x1, y1), y1 > y0, reaches y."""
    return x0 + (y - y0) / (y1 - y0) * (x1 - x0)


def estimate(xs: np.ndarray, ys: np.ndarray, x_e: float, y_e: float) -> PaperEstimate:
    """Apply the paper's method to one enhanced point and one base curve.

    Parameters
    ----------
    xs
        Distinct base log10 computes, increasing (see :func:`base_curve`).
    ys
        Base scores at ``xs``.
    x_e
        log10 compute of the enhanced model.
    y_e
        Score of the enhanced model.

    Returns
    -------
    PaperEstimate
        Method, log10 CEG and lower bound (see the module docstring).
    """
    nan = float("nan")
    if len(xs) == 0:
        return PaperEstimate("undefined", nan, nan)
    multi = len(xs) >= 2
    if y_e > ys.max():
        # The enhanced model beats every base model, in particular the largest one.
        bound = float(xs[-1] - x_e) if xs[-1] > x_e else nan
        if multi and ys[-1] > ys[-2]:
            x_prime = _line_at(xs[-2], ys[-2], xs[-1], ys[-1], y_e)
            return PaperEstimate("extrapolated", float(x_prime - x_e), bound)
        if not np.isnan(bound):
            return PaperEstimate("lower_bound", bound, bound)
        return PaperEstimate("undefined", nan, nan)
    if not multi:
        return PaperEstimate("undefined", nan, nan)
    if y_e < ys.min():
        if ys[1] > ys[0]:
            x_prime = _line_at(xs[0], ys[0], xs[1], ys[1], y_e)
            return PaperEstimate("extrapolated", float(x_prime - x_e), nan)
        return PaperEstimate("undefined", nan, nan)
    return PaperEstimate("interpolated", first_crossing(xs, ys, y_e) - x_e, nan)


def _require(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError([Problem(f"required column is missing; {what} needs {list(columns)}",
                                 column=c) for c in missing], source=what)


def paper_ceg(table: pd.DataFrame) -> pd.DataFrame:
    """Return the paper's deterministic CEG estimate for every enhanced row of a table.

    Each enhanced row (``condition != "base"``) is compared with the base rows
    of the same family, benchmark and source (same paper, same protocol). If
    that source has no base rows for the family and benchmark, the base rows of
    the family and benchmark from every source are used instead, and the
    ``comparator`` column says ``"any source"``. Base rows sharing a compute
    are averaged. See the module docstring for the four methods.

    Parameters
    ----------
    table
        A validated evaluation table (see :func:`ceg.table.validate_table`).
        It is not modified.

    Returns
    -------
    pandas.DataFrame
        One row per enhanced row, in table order, with the columns of
        :data:`RESULT_COLUMNS`: the row's family, model, benchmark, condition,
        source, train_flop and score; ``base_sizes`` (distinct base computes
        compared with); ``comparator`` (one of :data:`COMPARATORS`);
        ``method`` (one of :data:`METHODS`); ``log10_ceg`` (NaN if
        undefined); ``lower_bound_log10`` (NaN if none); ``ceg`` =
        ``10 ** log10_ceg``.

    Raises
    ------
    DataError
        If a column of :data:`INPUT_COLUMNS` is missing.
    """
    _require(table, INPUT_COLUMNS, "paper_ceg")
    frame = table.loc[:, list(INPUT_COLUMNS)].copy()
    frame["log10_flop"] = np.log10(frame["train_flop"].astype(float))
    is_base = frame["condition"] == BASE
    base = frame[is_base]
    curves_source = {key: base_curve(g["log10_flop"].to_numpy(), g["score"].to_numpy())
                     for key, g in base.groupby(["family", "benchmark", "source"], sort=False)}
    curves_any = {key: base_curve(g["log10_flop"].to_numpy(), g["score"].to_numpy())
                  for key, g in base.groupby(["family", "benchmark"], sort=False)}

    records = []
    empty = (np.empty(0), np.empty(0))
    for r in frame[~is_base].itertuples(index=False):
        key = (r.family, r.benchmark, r.source)
        if key in curves_source:
            comparator, (xs, ys) = "same source", curves_source[key]
        else:
            comparator, (xs, ys) = "any source", curves_any.get((r.family, r.benchmark), empty)
        est = estimate(xs, ys, r.log10_flop, float(r.score))
        records.append({
            "family": r.family, "model": r.model, "benchmark": r.benchmark,
            "condition": r.condition, "source": r.source,
            "train_flop": float(r.train_flop), "score": float(r.score),
            "base_sizes": len(xs), "comparator": comparator, "method": est.method,
            "log10_ceg": est.log10_ceg, "lower_bound_log10": est.lower_bound_log10,
        })
    out = pd.DataFrame.from_records(records, columns=list(RESULT_COLUMNS))
    out["base_sizes"] = out["base_sizes"].astype(int)
    for col in ("train_flop", "score", "log10_ceg", "lower_bound_log10"):
        out[col] = out[col].astype(float)
    with np.errstate(over="ignore"):  # a near-flat extrapolation can exceed float range: inf
        out["ceg"] = np.power(10.0, out["log10_ceg"].to_numpy())
    return out


def paper_ceg_by_enhancement(result: pd.DataFrame) -> pd.DataFrame:
    """Summarise :func:`paper_ceg` per condition, like the paper's per-enhancement tables.

    Parameters
    ----------
    result
        The output of :func:`paper_ceg`.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``condition`` (sorted), with ``n_rows``; ``n_with_value``
        (rows whose ``log10_ceg`` is not NaN); ``median_log10_ceg`` over those
        rows (NaN if none) and ``median_ceg`` = ``10 ** median_log10_ceg``;
        and ``n_interpolated``, ``n_lower_bound``, ``n_extrapolated``,
        ``n_undefined``: the rows per method. The median mixes interpolated,
        extrapolated and lower-bound values, as the paper's summaries do;
        the counts say how much of it rests on each.

    Raises
    ------
    DataError
        If a column the summary needs is missing.
    """
    _require(result, ("condition", "method", "log10_ceg"), "paper_ceg_by_enhancement")
    unknown = sorted(set(result["method"]) - set(METHODS))
    if unknown:
        raise DataError(f"unknown method(s) {unknown}; the methods are {list(METHODS)}",
                        source="paper_ceg_by_enhancement")
    grouped = result.groupby("condition", sort=True)
    summary = pd.DataFrame({
        "n_rows": grouped.size(),
        "n_with_value": grouped["log10_ceg"].count(),
        "median_log10_ceg": grouped["log10_ceg"].median(),
    })
    with np.errstate(over="ignore"):
        summary["median_ceg"] = np.power(10.0, summary["median_log10_ceg"])
    counts = (pd.crosstab(result["condition"], result["method"])
              .reindex(index=summary.index, columns=list(METHODS), fill_value=0))
    for m in METHODS:
        summary[f"n_{m}"] = counts[m].astype(int)
    summary.index.name = "condition"
    return summary
