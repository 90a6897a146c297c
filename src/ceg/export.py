"""A fit's CEG posteriors in the forms risk and takeoff models take.

Every export starts from the same draws (:func:`ceg_draws`): each CEG
quantity of the fit, at the spec's reference compute ``x_ref``, on the joint
posterior index (chain, draw), so that a draw of one quantity goes with the
same draw of every other. The quantities (:data:`QUANTITIES`):

- ``enhancement``: an enhancement's CEG averaged over benchmarks;
- ``enhancement_benchmark``: an enhancement's CEG on one benchmark;
- ``category_mean``: the pooled mean CEG of a category;
- ``new_enhancement``: the predictive CEG of a new enhancement of a category
  (the next prompting method, the next scaffold).

The forms (:data:`EXPORT_FORMATS`):

- ``draws`` (:func:`tidy_draws`): one row per quantity and posterior draw.
  Pivot on ``name`` over (chain, draw) to get one column per quantity with
  the correlations between them intact.
- ``quantiles`` (:func:`quantile_table`): CEG quantiles at chosen levels.
- ``lognormal`` (:func:`lognormal_table`): the best-fitting lognormal's mu
  and sigma (ln and log10 units) with two measures of how well it fits.
- ``triple`` (5/50/95 percentiles, what compute-centric takeoff models take)
  and ``interval80`` (10/90 percentiles, the 80% intervals of timeline
  models): :func:`quantile_table` at fixed levels.
- ``squigglepy`` (:func:`squigglepy_snippet`): Python text that builds each
  quantity's fitted lognormal with squigglepy (an optional extra,
  ``pip install ceg[squiggle]``).

Every table carries the compute at which the CEGs hold (``at_flop``) and the
costs of :func:`ceg.summary.cost_columns`; the draws carry each draw's CEG
net of inference cost. :func:`write_export` writes any of them atomically,
as CSV, JSON or Parquet by the file's suffix.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

import numpy as np
import pandas as pd

from ceg.design import SEP
from ceg.errors import CegError, did_you_mean
from ceg.files import write_atomic, write_text_atomic
from ceg.summary import cost_stats

if TYPE_CHECKING:
    import xarray as xr

    from ceg.fit import Fit

#: The export forms, one declaration (the command line's ``--format`` choices).
ExportFormat = Literal["draws", "quantiles", "lognormal", "triple", "interval80", "squigglepy"]
EXPORT_FORMATS: tuple[str, ...] = get_args(ExportFormat)
#: The CEG quantities every export covers, in the order of its rows.
Quantity = Literal["enhancement", "enhancement_benchmark", "category_mean", "new_enhancement"]
QUANTITIES: tuple[str, ...] = get_args(Quantity)
#: Default quantile levels (``quantiles``; also where ``lognormal`` measures its fit).
DEFAULT_LEVELS = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)
#: The 5/50/95 triple of compute-centric takeoff models.
TRIPLE_LEVELS = (0.05, 0.5, 0.95)
#: The 80% interval of timeline models.
INTERVAL80_LEVELS = (0.1, 0.9)
#: ``benchmark`` of the quantities averaged over benchmarks.
ALL_BENCHMARKS = "all"
#: Columns that name a quantity, first in every table.
KEY_COLUMNS = ("name", "quantity", "enhancement", "category", "benchmark")
#: Columns of :func:`tidy_draws`, in order.
DRAW_COLUMNS = ("chain", "draw", *KEY_COLUMNS, "at_flop", "log10_ceg", "ceg",
                "ceg_net_inference")
#: Suffixes :func:`write_export` writes a table to.
TABLE_SUFFIXES = {".csv": "CSV", ".json": "JSON records", ".parquet": "Parquet"}
#: Suffixes of the ``draws`` form: a table, or every CEG quantity of the fit as NetCDF.
DRAWS_SUFFIXES = {**TABLE_SUFFIXES,
                  ".nc": "every CEG quantity of the fit as an xarray Dataset (NetCDF)"}


@dataclass(frozen=True)
class CegDraws:
    """Draws of every CEG quantity of a fit on one joint posterior index.

    Attributes
    ----------
    keys
        One row per quantity: :data:`KEY_COLUMNS`, plus the enhancement's
        ``finetune_compute_fraction`` and ``inference_cost_multiplier`` (NaN
        for category quantities and unknown costs).
    log10_ceg
        Array of shape (quantities, samples): row ``i`` holds the draws of
        ``keys.iloc[i]``.
    chain, draw
        The posterior (chain, draw) of each sample: the same for every row.
    at_flop
        The compute at which the CEGs hold (the spec's ``x_ref``), FLOP.
    """

    keys: pd.DataFrame
    log10_ceg: np.ndarray
    chain: np.ndarray
    draw: np.ndarray
    at_flop: float

    @property
    def n_quantities(self) -> int:
        """Number of quantities (rows of :attr:`log10_ceg`)."""
        return int(self.log10_ceg.shape[0])

    @property
    def n_samples(self) -> int:
        """Number of posterior draws per quantity (chains x draws)."""
        return int(self.log10_ceg.shape[1])

    @property
    def ceg(self) -> np.ndarray:
        """The draws as CEG multiples, ``10 ** log10_ceg``."""
        return np.power(10.0, self.log10_ceg)


def _rows(da: xr.DataArray, dim: str) -> np.ndarray:
    """Return draws of dims (chain, draw, ``dim``) as an array (``dim``, chain x draw)."""
    arr = da.transpose(dim, "chain", "draw").to_numpy()
    return arr.reshape(arr.shape[0], -1)


def ceg_draws(fit: Fit) -> CegDraws:
    """Return the draws of every CEG quantity of a fit, at ``x_ref``, on one index.

    Parameters
    ----------
    fit
        A :class:`~ceg.fit.Fit`.

    Returns
    -------
    CegDraws
        Quantities in :data:`QUANTITIES` order; within each, in the fit's
        label order (enhancements, enhancement x benchmark pairs, categories).

    Raises
    ------
    CegError
        If a benchmark is named ``"all"`` (:data:`ALL_BENCHMARKS`), which
        marks the quantities averaged over benchmarks.
    """
    q = fit.quantities
    reg = fit.registries.enhancements
    enh = q["log10_ceg_enhancement"]
    eb = q["log10_ceg_enhancement_benchmark"]
    pair_bench = eb["pair_benchmark"].to_numpy().astype(object)
    if ALL_BENCHMARKS in set(pair_bench):
        raise CegError(f"a benchmark is named '{ALL_BENCHMARKS}', which the exports use for "
                       "the CEGs averaged over benchmarks: rename the benchmark and refit")
    cat_mean = q["log10_ceg_category"]
    new = q["log10_ceg_new_enhancement"]
    slugs = enh["enhancement"].to_numpy().astype(object)
    pair_enh = eb["pair_enhancement"].to_numpy().astype(object)
    cats = cat_mean["category"].to_numpy().astype(object)
    new_cats = new["new_category"].to_numpy().astype(object)

    def keys(kind: str, names: list[str], enhancements: np.ndarray | None,
             categories: np.ndarray, benchmarks: np.ndarray | None) -> pd.DataFrame:
        n = len(names)
        costs = reg.reindex(enhancements if enhancements is not None else [""] * n)
        return pd.DataFrame({
            "name": np.asarray(names, dtype=object), "quantity": kind,
            "enhancement": enhancements if enhancements is not None
            else np.full(n, None, dtype=object),
            "category": np.asarray(categories, dtype=object),
            "benchmark": benchmarks if benchmarks is not None
            else np.full(n, ALL_BENCHMARKS, dtype=object),
            "finetune_compute_fraction": costs["finetune_compute_fraction"].to_numpy(float),
            "inference_cost_multiplier": costs["inference_cost_multiplier"].to_numpy(float),
        })

    frames = [
        keys("enhancement", list(slugs), slugs, reg["category"].reindex(slugs).to_numpy(),
             None),
        keys("enhancement_benchmark", [f"{e}{SEP}{b}" for e, b in
                                       zip(pair_enh, pair_bench, strict=True)],
             pair_enh, reg["category"].reindex(pair_enh).to_numpy(), pair_bench),
        keys("category_mean", [f"category_mean:{c}" for c in cats], None, cats, None),
        keys("new_enhancement", [f"new_enhancement:{c}" for c in new_cats], None, new_cats,
             None),
    ]
    values = [_rows(enh, "enhancement"), _rows(eb, "enhancement_benchmark"),
              _rows(cat_mean, "category"), _rows(new, "new_category")]
    n_chain, n_draw = enh.sizes["chain"], enh.sizes["draw"]
    return CegDraws(
        keys=pd.concat(frames, ignore_index=True),
        log10_ceg=np.concatenate(values, axis=0).astype(float),
        chain=np.repeat(enh["chain"].to_numpy(), n_draw).astype(np.int64),
        draw=np.tile(enh["draw"].to_numpy(), n_chain).astype(np.int64),
        at_flop=float(fit.spec.structure.x_ref_flop))


def _draws_of(source: Fit | CegDraws) -> CegDraws:
    return source if isinstance(source, CegDraws) else ceg_draws(source)


def tidy_draws(source: Fit | CegDraws) -> pd.DataFrame:
    """Return the tidy draws of every CEG quantity: one row per quantity and draw.

    Parameters
    ----------
    source
        A fit, or its :func:`ceg_draws`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`DRAW_COLUMNS`. Rows run over quantities (in
        :func:`ceg_draws` order), then chains, then draws. ``name`` is unique
        per quantity (an enhancement's slug; ``slug|benchmark``;
        ``category_mean:K``; ``new_enhancement:K``); ``enhancement`` is empty
        for the category quantities; ``benchmark`` is ``"all"`` for the
        quantities averaged over benchmarks. ``at_flop`` is the compute
        (FLOP) at which the CEGs hold; ``ceg_net_inference`` is the draw's CEG
        divided by the enhancement's inference-cost multiplier (empty where
        it is unknown).
    """
    d = _draws_of(source)
    n, per = d.n_quantities, d.n_samples
    log10 = d.log10_ceg.reshape(n * per)
    ceg = np.power(10.0, log10)
    m = d.keys["inference_cost_multiplier"].to_numpy(dtype=float)
    m = np.where(m > 0, m, np.nan)
    out = pd.DataFrame({
        "chain": np.tile(d.chain, n), "draw": np.tile(d.draw, n),
        **{c: np.repeat(d.keys[c].to_numpy(dtype=object), per) for c in KEY_COLUMNS},
        "at_flop": d.at_flop,
        "log10_ceg": log10, "ceg": ceg,
        "ceg_net_inference": ceg / np.repeat(m, per),
    })
    return out[list(DRAW_COLUMNS)]


def check_levels(levels: tuple[float, ...] | list[float]) -> tuple[float, ...]:
    """Return quantile levels sorted, or raise if one is not strictly between 0 and 1.

    Parameters
    ----------
    levels
        Probabilities, e.g. ``(0.05, 0.5, 0.95)``.

    Returns
    -------
    tuple of float
        The distinct levels, ascending.

    Raises
    ------
    CegError
        If there are none, or one is not a number in (0, 1).
    """
    bad = [x for x in levels if not (isinstance(x, int | float) and 0 < x < 1)]
    if bad or not levels:
        raise CegError(f"quantile levels must be numbers strictly between 0 and 1, e.g. 0.05, "
                       f"0.5, 0.95; got {list(levels) if not bad else bad}")
    return tuple(sorted({float(x) for x in levels}))


def level_column(level: float) -> str:
    """Return the column name of a quantile level: ``ceg_p5`` for 0.05, ``ceg_p2.5`` for 0.025."""
    return f"ceg_p{round(100 * level, 10):g}"


def _head(d: CegDraws) -> pd.DataFrame:
    out = d.keys[list(KEY_COLUMNS)].copy()
    out["at_flop"] = d.at_flop
    out["n_draws"] = d.n_samples
    return out


def _costs(d: CegDraws, median_ceg: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(cost_stats(d.log10_ceg, d.keys["finetune_compute_fraction"].to_numpy(),
                                   d.keys["inference_cost_multiplier"].to_numpy(), median_ceg))


def quantile_table(source: Fit | CegDraws,
                   levels: tuple[float, ...] | list[float] = DEFAULT_LEVELS) -> pd.DataFrame:
    """Return CEG quantiles of every quantity.

    Parameters
    ----------
    source
        A fit, or its :func:`ceg_draws`.
    levels
        Quantile levels in (0, 1); :data:`DEFAULT_LEVELS` by default,
        :data:`TRIPLE_LEVELS` for the 5/50/95 triple,
        :data:`INTERVAL80_LEVELS` for the 80% interval.

    Returns
    -------
    pandas.DataFrame
        One row per quantity: :data:`KEY_COLUMNS`, ``at_flop`` (FLOP),
        ``n_draws``, one column per level (:func:`level_column`) holding
        ``numpy.quantile`` of the CEG draws (linear interpolation), and the
        cost columns :data:`ceg.summary.COST_COLUMNS`, with the median CEG
        net of inference cost taken as the 0.5 quantile over the multiplier.
    """
    d = _draws_of(source)
    levels = check_levels(levels)
    ceg = d.ceg
    q = np.quantile(ceg, levels, axis=1)
    out = _head(d)
    for i, level in enumerate(levels):
        out[level_column(level)] = q[i]
    return pd.concat([out, _costs(d, np.quantile(ceg, 0.5, axis=1))], axis=1)


def lognormal_table(source: Fit | CegDraws,
                    levels: tuple[float, ...] | list[float] = DEFAULT_LEVELS) -> pd.DataFrame:
    """Return the best-fitting lognormal of every quantity, and how well it fits.

    The maximum-likelihood lognormal of draws ``c`` has ``mu`` and ``sigma``
    the mean and standard deviation (``ddof=0``) of ``ln c``.

    Parameters
    ----------
    source
        A fit, or its :func:`ceg_draws`.
    levels
        Levels at which the fit is measured (``quantile_error_log10``).

    Returns
    -------
    pandas.DataFrame
        One row per quantity: :data:`KEY_COLUMNS`, ``at_flop``, ``n_draws``,
        ``mu_ln``, ``sigma_ln`` (of ln CEG), ``mu_log10``, ``sigma_log10``
        (of log10 CEG), ``median_ceg`` of the lognormal (``exp(mu_ln)``),
        and two measures of fit:

        - ``quantile_error_log10``: the largest absolute difference, over
          ``levels``, between a quantile of the log10 CEG draws and the same
          quantile of the fitted lognormal, in log10 units: 0.05 means some
          quantile is off by a factor ``10**0.05 = 1.12``;
        - ``ks_distance``: the Kolmogorov-Smirnov distance between the draws
          and the fitted lognormal (0 to 1; NaN if the draws are all equal).

        Then the cost columns :data:`ceg.summary.COST_COLUMNS`, from the draws.
    """
    from scipy import stats

    d = _draws_of(source)
    levels = check_levels(levels)
    x = d.log10_ceg
    mu, sigma = x.mean(axis=1), x.std(axis=1)
    empirical = np.quantile(x, levels, axis=1)  # (levels, quantities)
    fitted = mu[None, :] + sigma[None, :] * stats.norm.ppf(levels)[:, None]
    ks = np.full(len(mu), np.nan)
    for i in np.flatnonzero(sigma > 0):
        ks[i] = stats.kstest(x[i], "norm", args=(mu[i], sigma[i])).statistic
    ln10 = math.log(10.0)
    out = _head(d)
    out["mu_ln"], out["sigma_ln"] = mu * ln10, sigma * ln10
    out["mu_log10"], out["sigma_log10"] = mu, sigma
    out["median_ceg"] = np.power(10.0, mu)
    out["quantile_error_log10"] = np.abs(empirical - fitted).max(axis=0)
    out["ks_distance"] = ks
    return pd.concat([out, _costs(d, np.quantile(d.ceg, 0.5, axis=1))], axis=1)


def _num(v: float) -> str:
    return f"{v:.6g}"


def squigglepy_snippet(source: Fit | CegDraws, title: str = "a ceg fit") -> str:
    """Return Python text that builds each quantity's fitted lognormal with squigglepy.

    Each distribution is ``sq.lognorm(norm_mean=mu_ln, norm_sd=sigma_ln)``
    from :func:`lognormal_table` (squigglepy >= 0.30), with the draws'
    median and 90% interval and the fit error in a comment beside it.

    Parameters
    ----------
    source
        A fit, or its :func:`ceg_draws`.
    title
        What the first comment line calls the fit (e.g. its file name).

    Returns
    -------
    str
        Python source defining ``ceg``, a dict from quantity name to a
        squigglepy distribution. The lognormals are independent of each
        other: the correlations between quantities live only in the draws.
    """
    d = _draws_of(source)
    ln = lognormal_table(d)
    q = quantile_table(d, TRIPLE_LEVELS)
    lines = [
        f"# CEG posteriors of {title}, at {d.at_flop:.3g} FLOP (the spec's x_ref),",
        "# as squigglepy distributions: each the best-fitting lognormal of the posterior draws.",
        "# 'draws' gives the draws' median and 90% interval; 'fit error' the largest gap",
        "# between the draws' and the lognormal's quantiles of log10 CEG (0.05 = a factor 1.12).",
        "# These lognormals are independent: for correlated CEGs use the draws export.",
        "import squigglepy as sq",
        "",
        "ceg = {",
    ]
    for i, r in ln.iterrows():
        what = r["category"] if r["quantity"] in ("enhancement", "enhancement_benchmark") \
            else r["quantity"].replace("_", " ")
        lo, med, hi = (q.loc[i, level_column(v)] for v in TRIPLE_LEVELS)
        lines.append(f"    # {what}; draws {med:.3g}x ({lo:.3g}-{hi:.3g}); "
                     f"fit error {r['quantile_error_log10']:.2f}")
        lines.append(f"    {r['name']!r}: sq.lognorm(norm_mean={_num(r['mu_ln'])}, "
                     f"norm_sd={_num(r['sigma_ln'])}),")
    lines.append("}")
    return "\n".join(lines) + "\n"


def export(source: Fit | CegDraws, fmt: ExportFormat,
           levels: tuple[float, ...] | list[float] = DEFAULT_LEVELS,
           title: str = "a ceg fit") -> pd.DataFrame | str:
    """Return one export form of a fit's CEGs.

    Parameters
    ----------
    source
        A fit, or its :func:`ceg_draws`.
    fmt
        One of :data:`EXPORT_FORMATS`.
    levels
        Quantile levels of ``quantiles`` and ``lognormal`` (see
        :func:`quantile_table`, :func:`lognormal_table`); the other forms
        have fixed levels.
    title
        What the ``squigglepy`` text calls the fit.

    Returns
    -------
    pandas.DataFrame or str
        A table, or (``squigglepy``) Python text.

    Raises
    ------
    CegError
        If ``fmt`` is unknown or ``levels`` invalid.
    """
    _check_format(fmt)
    d = _draws_of(source)
    if fmt == "draws":
        return tidy_draws(d)
    if fmt == "quantiles":
        return quantile_table(d, levels)
    if fmt == "lognormal":
        return lognormal_table(d, levels)
    if fmt == "triple":
        return quantile_table(d, TRIPLE_LEVELS)
    if fmt == "interval80":
        return quantile_table(d, INTERVAL80_LEVELS)
    return squigglepy_snippet(d, title)


def _check_format(fmt: str) -> None:
    if fmt not in EXPORT_FORMATS:
        raise CegError(f"unknown export format {fmt!r}; use one of {list(EXPORT_FORMATS)}."
                       f"{did_you_mean(str(fmt), EXPORT_FORMATS)}")


def write_table(frame: pd.DataFrame, path: Path | str) -> Path:
    """Write a table atomically as CSV, JSON records or Parquet, by the path's suffix.

    Floats are written so that they read back exactly (missing values are
    empty in CSV, ``null`` in JSON).

    Parameters
    ----------
    frame
        The table (its index is not written).
    path
        Destination ending in one of :data:`TABLE_SUFFIXES`; its folder must exist.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    CegError
        If the suffix is not one of :data:`TABLE_SUFFIXES` or the folder is missing.
    """
    path = _check(path, TABLE_SUFFIXES, "a table")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return write_atomic(path, lambda p: frame.to_csv(p, index=False, lineterminator="\n"))
    if suffix == ".json":  # Python's float repr: every float read back exactly
        records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
        return write_text_atomic(path, json.dumps(records) + "\n")
    return write_atomic(path, lambda p: frame.to_parquet(p, index=False))


def _check(path: Path | str, suffixes: dict[str, str] | None, what: str) -> Path:
    path = Path(path)
    if suffixes is not None and path.suffix.lower() not in suffixes:
        known = "; ".join(f"{k} ({v})" for k, v in suffixes.items())
        raise CegError(f"{path}: cannot write {what} to a '{path.suffix or '(no extension)'}' "
                       f"file; use one of: {known}")
    if not path.parent.is_dir():
        raise CegError(f"{path}: the folder '{path.parent}' does not exist; create it first")
    return path


def check_destination(fmt: ExportFormat, path: Path | str) -> Path:
    """Check that an export form can be written to ``path``, before any work is done.

    Parameters
    ----------
    fmt
        One of :data:`EXPORT_FORMATS`.
    path
        The destination: a table form needs a suffix of :data:`TABLE_SUFFIXES`
        (``draws`` also ``.nc``, :data:`DRAWS_SUFFIXES`); ``squigglepy`` text
        goes to any file.

    Returns
    -------
    pathlib.Path
        The destination.

    Raises
    ------
    CegError
        If the form is unknown, the suffix does not fit it or the folder is missing.
    """
    _check_format(fmt)
    if fmt == "squigglepy":
        return _check(path, None, "squigglepy code")
    if fmt == "draws":
        return _check(path, DRAWS_SUFFIXES, "draws")
    return _check(path, TABLE_SUFFIXES, f"the {fmt} table")


@dataclass(frozen=True)
class Written:
    """What :func:`write_export` wrote.

    Attributes
    ----------
    path
        The file.
    fmt
        The export form.
    rows
        Rows of the table (lines of text for ``squigglepy``).
    quantities
        CEG quantities covered.
    draws
        Posterior draws per quantity (chains x draws) behind the export.
    at_flop
        Compute (FLOP) at which the CEGs hold.
    """

    path: Path
    fmt: str
    rows: int
    quantities: int
    draws: int
    at_flop: float

    def __str__(self) -> str:
        """Say what was written, e.g. "Wrote 4,000 rows (10 quantities x 400 draws) ..."."""
        if self.path.suffix.lower() == ".nc":
            return (f"Wrote {self.quantities} CEG quantities ({self.draws:,} draws each, "
                    f"as an xarray Dataset) to {self.path}")
        what = (f"{self.rows:,} rows ({self.quantities} quantities x {self.draws:,} draws)"
                if self.fmt == "draws" else
                f"{self.rows:,} lines of squigglepy code ({self.quantities} quantities, "
                f"from {self.draws:,} draws each)" if self.fmt == "squigglepy" else
                f"{self.rows:,} rows ({self.fmt}: one per quantity, from {self.draws:,} "
                "draws each)")
        return f"Wrote {what}, CEGs at {self.at_flop:.3g} FLOP, to {self.path}"


def write_export(source: Fit | CegDraws, fmt: ExportFormat, path: Path | str,
                 levels: tuple[float, ...] | list[float] = DEFAULT_LEVELS,
                 title: str = "a ceg fit") -> Written:
    """Write one export form of a fit's CEGs to a file, atomically.

    Parameters
    ----------
    source
        A fit, or its :func:`ceg_draws`.
    fmt
        One of :data:`EXPORT_FORMATS`.
    path
        A table form goes to ``.csv``, ``.json`` or ``.parquet``
        (:func:`write_table`); ``squigglepy`` text to any file (``.py``);
        ``draws`` also to ``.nc``: every quantity of
        :attr:`ceg.fit.Fit.quantities` (observations too) as NetCDF, which
        needs the fit itself as ``source``.
    levels, title
        As in :func:`export`.

    Returns
    -------
    Written
        What was written; ``str()`` of it says so in a sentence.

    Raises
    ------
    CegError
        For an unknown form, invalid levels, a wrong suffix or a missing folder.
    """
    path = check_destination(fmt, path)
    if fmt == "draws" and path.suffix.lower() == ".nc":
        if isinstance(source, CegDraws):
            raise CegError(f"{path}: a NetCDF export holds the fit's quantities: pass the fit, "
                           "not its CEG draws")
        q = source.quantities
        write_atomic(path, lambda p: q.to_netcdf(p, engine="h5netcdf"))
        return Written(path=path, fmt=fmt, rows=0, quantities=len(q.data_vars),
                       draws=q.sizes["chain"] * q.sizes["draw"],
                       at_flop=float(source.spec.structure.x_ref_flop))
    d = _draws_of(source)
    out = export(d, fmt, levels, title)
    if isinstance(out, str):
        write_text_atomic(path, out)
        rows = out.count("\n")
    else:
        write_table(out, path)
        rows = len(out)
    return Written(path=path, fmt=fmt, rows=rows, quantities=d.n_quantities,
                   draws=d.n_samples, at_flop=d.at_flop)


__all__ = ["ALL_BENCHMARKS", "DEFAULT_LEVELS", "DRAWS_SUFFIXES", "DRAW_COLUMNS", "EXPORT_FORMATS",
           "INTERVAL80_LEVELS", "KEY_COLUMNS", "QUANTITIES", "TABLE_SUFFIXES", "TRIPLE_LEVELS",
           "CegDraws", "ExportFormat", "Quantity", "Written", "ceg_draws", "check_destination",
           "check_levels",
           "export", "level_column", "lognormal_table", "quantile_table", "squigglepy_snippet",
           "tidy_draws", "write_export", "write_table"]
