r"""Forecasts: what a model of a family at some compute scores on a benchmark, with what gain.

A scenario names a family (fitted, or ``new`` / ``new:<name>``: a family drawn
from the family population), a model (a fitted one, or none / ``new:<name>``:
a new model of the family, its own effects drawn from their populations), a
compute (one value, or several: a grid), a fitted benchmark and a condition
(``base``, fitted enhancements, stacks ``a+b``, and ``new:<category>`` for
an enhancement drawn from that category's population). For every joint
posterior draw, :func:`forecast` returns (via :mod:`ceg.engine`, the model's
own algebra):

- ``expected_score``: the success probability :math:`p`;
- ``score``: a score on ``n_items`` items, drawn with the benchmark's noise
  (beta-binomial with its concentration, or binomial, as the spec says);
- ``effective_log10_flop``: effective compute :math:`\theta`;
- ``log10_ceg`` / ``ceg``: the condition's CEG at the scenario's compute.

A benchmark is one of the fit's, or ``new:<name>`` (with its ``chance``
level and ``n_items``): its curve, noise and floor drawn from the benchmark
populations (:func:`ceg.engine.draw_new`).

Counts are drawn from the stream :func:`pymc.sample_posterior_predictive`
uses for the model's one observed variable, so forecasting the fitted rows
at their own sizes gives :func:`ceg.predictive.posterior_predictive`'s
replicates count for count at the same seed. New units are drawn from a
separate stream of the same seed.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from ceg import engine
from ceg.errors import CegError, did_you_mean
from ceg.table import BASE, STACK

if TYPE_CHECKING:
    from ceg.fit import Fit

#: Default quantile levels of the summary (as the exports').
DEFAULT_LEVELS = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)
#: The forecast quantities, in the order of the summary's rows.
QUANTITIES = ("expected_score", "score", "effective_log10_flop", "log10_ceg", "ceg")
#: Columns a scenario file may have (``flop`` or ``log10_flop`` gives the compute).
SCENARIO_COLUMNS = ("scenario", "family", "model", "flop", "log10_flop", "benchmark",
                    "condition", "protocol", "n_items", "chance")
#: A label that asks for a new unit (family or model): ``new`` or ``new:<name>``.
NEW = "new"


def _is_new(label: str) -> bool:
    return label == NEW or label.startswith(engine.NEW_ENHANCEMENT)


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == ""


def scenario_rows(fit: Fit, scenarios: pd.DataFrame | Mapping[str, Any]
                  | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Return scenarios as checked rows, one per compute value.

    Parameters
    ----------
    fit
        The fit the scenarios ask about.
    scenarios
        A DataFrame, one mapping or mappings, with :data:`SCENARIO_COLUMNS`:
        ``family`` and ``benchmark`` are required; ``flop`` (FLOP) or
        ``log10_flop``, a number or a list of numbers (a grid), required
        unless ``model`` names a fitted model (its fitted compute is used);
        ``condition`` defaults to ``base``; ``n_items`` to the median number
        of items of the benchmark's rows in the fit; ``scenario`` names the
        scenario (``s1``, ``s2``, ... by default). ``benchmark`` may be
        ``new:<name>``: a benchmark drawn from the benchmark population, which
        needs ``n_items`` and takes a ``chance`` level (0 by default).

    Returns
    -------
    pandas.DataFrame
        Columns ``scenario``, ``family``, ``model``, ``log10_flop`` (NaN: the
        fitted model's own), ``benchmark``, ``condition``, ``protocol``,
        ``n_items``, ``chance`` (a new benchmark's; 0 for fitted ones, whose
        own is in the fit).

    Raises
    ------
    CegError
        Naming the scenario and column, for unknown labels (with a "did you
        mean"), a missing or non-positive compute, or a bad number of items.
    """
    if isinstance(scenarios, pd.DataFrame):
        records = scenarios.to_dict(orient="records")
    elif isinstance(scenarios, Mapping):
        records = [dict(scenarios)]
    else:
        records = [dict(s) for s in scenarios]
    if not records:
        raise CegError("no scenarios given: name at least a family, a benchmark and a compute")
    c = fit.design.coords
    table = fit.design.table
    models_of = table.groupby("family")["model"].unique()
    out = []
    for i, rec in enumerate(records):
        name = str(rec.get("scenario")) if not _blank(rec.get("scenario")) else f"s{i + 1}"
        where = f"scenario {name!r}"
        unknown = sorted(set(rec) - set(SCENARIO_COLUMNS))
        if unknown:
            raise CegError(f"{where}: unknown column(s) {unknown}; a scenario has "
                           f"{list(SCENARIO_COLUMNS)}.{did_you_mean(unknown[0], SCENARIO_COLUMNS)}")
        for col in ("family", "benchmark"):
            if _blank(rec.get(col)):
                raise CegError(f"{where}: column {col!r} is empty; give a fitted {col}"
                               + (" or 'new'" if col == "family" else ""))
        family, bench = str(rec["family"]).strip(), str(rec["benchmark"]).strip()
        if not _is_new(family) and family not in c["family"]:
            raise CegError(f"{where}, column 'family': {family!r} is not a family of the fit; "
                           f"use one of {c['family']} or 'new' for a family drawn from the "
                           f"family population.{did_you_mean(family, c['family'])}")
        new_bench = _is_new(bench)
        if not new_bench and bench not in c["benchmark"]:
            raise CegError(f"{where}, column 'benchmark': {bench!r} is not a benchmark of the "
                           f"fit; use one of {c['benchmark']}, or 'new:<name>' (with 'chance' "
                           f"and 'n_items') for a benchmark drawn from the benchmark "
                           f"population.{did_you_mean(bench, c['benchmark'])}")
        chance = 0.0
        if not _blank(rec.get("chance")):
            try:
                chance = float(rec["chance"])
            except (TypeError, ValueError):
                chance = -1.0
            if not (new_bench and 0 <= chance < 1):
                raise CegError(f"{where}, column 'chance': {rec['chance']!r}: give a chance "
                               "level in [0, 1) for a new benchmark only (a fitted one has its "
                               "own)")
        model = "" if _blank(rec.get("model")) else str(rec["model"]).strip()
        if _is_new(model):
            model = "" if model == NEW else model
        elif model:
            known = list(models_of.get(family, [])) if not _is_new(family) else []
            if model not in known:
                raise CegError(f"{where}, column 'model': {model!r} is not a model of family "
                               f"{family!r} in the fit; leave it empty (or 'new') for a new "
                               f"model of the family.{did_you_mean(model, known)}")
        cond = BASE if _blank(rec.get("condition")) else str(rec["condition"]).strip()
        for part in ([] if cond == BASE else cond.split(STACK)):
            if part.startswith(engine.NEW_ENHANCEMENT):
                cat = part[len(engine.NEW_ENHANCEMENT):]
                if cat not in c["category"]:
                    raise CegError(f"{where}, column 'condition': {part!r} names no fitted "
                                   f"category; use 'new:' and one of {c['category']}."
                                   f"{did_you_mean(cat, c['category'])}")
            elif part not in c["enhancement"]:
                raise CegError(f"{where}, column 'condition': {part!r} is not an enhancement "
                               f"of the fit; use fitted ones joined by '+', or "
                               f"'new:<category>'.{did_you_mean(part, c['enhancement'])}")
        flops = _computes(rec, where)
        if flops is None:
            if not model or _is_new(family) or _is_new(model):
                raise CegError(f"{where}: a new model needs a compute; give 'flop' (FLOP, "
                               "e.g. 1e25) or 'log10_flop'")
            flops = [np.nan]
        n_items = rec.get("n_items")
        if _blank(n_items) and new_bench:
            raise CegError(f"{where}: a new benchmark needs 'n_items', its number of items")
        if _blank(n_items):
            n_items = int(np.median(fit.design.n_items[fit.design.obs_benchmark
                                                       == c["benchmark"].index(bench)]))
        try:
            n_items = int(n_items)
        except (TypeError, ValueError):
            n_items = -1
        if n_items < 1:
            raise CegError(f"{where}, column 'n_items': {rec.get('n_items')!r} is not a "
                           "positive whole number of items")
        proto = "" if _blank(rec.get("protocol")) else str(rec["protocol"]).strip()
        for x in flops:
            out.append({"scenario": name, "family": family, "model": model, "log10_flop": x,
                        "benchmark": bench, "condition": cond, "protocol": proto,
                        "n_items": n_items, "chance": chance})
    return pd.DataFrame(out)


def _computes(rec: Mapping[str, Any], where: str) -> list[float] | None:
    """Return the scenario's log10 computes (a grid if several), or None if none is given."""
    for col, log in (("log10_flop", True), ("flop", False)):
        v = rec.get(col)
        if v is None or (np.ndim(v) == 0 and _blank(v)):
            continue
        values = np.atleast_1d(np.asarray(v, dtype=object)).tolist()
        try:
            xs = [float(x) for x in values]
        except (TypeError, ValueError):
            raise CegError(f"{where}, column {col!r}: {v!r} is not a number") from None
        if not log and any(not x > 0 for x in xs):
            raise CegError(f"{where}, column 'flop': {v!r} must be positive FLOP (e.g. 1e25)")
        if not all(np.isfinite(xs)):
            raise CegError(f"{where}, column {col!r}: {v!r} is not a finite number")
        return xs if log else [float(np.log10(x)) for x in xs]
    return None


def draw_counts(p: np.ndarray, concentration: np.ndarray, n_items: np.ndarray,
                seed: int) -> np.ndarray:
    r"""Return correct counts per draw and row, with the benchmark's noise.

    Beta-binomial with concentration :math:`\kappa` (binomial where it is
    infinite), drawn draw by draw from the generator
    :func:`pymc.sample_posterior_predictive` makes from ``seed`` for a model
    with one random variable (``SeedSequence(seed).spawn(1)``, PCG64), with
    scipy's beta-binomial as PyTensor draws it.

    Parameters
    ----------
    p, concentration
        Shape (sample, row).
    n_items
        Shape (row,).
    seed
        Integer seed.

    Returns
    -------
    numpy.ndarray
        Integer counts, shape (sample, row).
    """
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed).spawn(1)[0]))
    n = np.asarray(n_items, dtype=np.int64)
    out = np.empty(p.shape, dtype=np.int64)
    binomial = ~np.isfinite(concentration)
    if binomial.any() and not binomial.all():
        raise CegError("rows mix binomial and beta-binomial noise; one fit has one likelihood")
    for s in range(p.shape[0]):
        if binomial.all():
            out[s] = rng.binomial(n, p[s])
        else:
            k = concentration[s]
            out[s] = stats.betabinom.rvs(n, p[s] * k, (1 - p[s]) * k, random_state=rng)
    return out


@dataclass(frozen=True)
class Forecast:
    """Forecast draws and their summaries.

    Attributes
    ----------
    rows
        One row per scenario and compute (:func:`scenario_rows`), indexed by
        ``row``, with ``flop`` added.
    draws
        Dims (chain, draw, row): :data:`QUANTITIES`, ``n_correct`` and ``log10_flop``.
    at_seed
        The seed of the draws.
    """

    rows: pd.DataFrame
    draws: xr.Dataset
    at_seed: int

    def quantiles(self, levels: Iterable[float] = DEFAULT_LEVELS) -> xr.Dataset:
        """Return the quantiles of every quantity over the joint draws, dims (quantile, row).

        The CEG's are ``10 **`` those of ``log10_ceg`` (as in ``ceg summary``;
        interpolating between draws of the CEG itself would give other numbers).
        """
        q = self.draws[list(QUANTITIES)].quantile(_levels(levels), dim=("chain", "draw"))
        q["ceg"] = 10.0 ** q["log10_ceg"]
        return q

    def table(self, levels: Iterable[float] = DEFAULT_LEVELS) -> pd.DataFrame:
        """Return a tidy summary: one row per scenario row and quantity, mean and quantiles.

        Columns: the scenario columns, ``quantity``, ``mean`` and ``q5``,
        ``q50``, ... (``q2.5`` for 0.025), from ``numpy.quantile`` over the
        joint draws (linear interpolation).
        """
        lv = _levels(levels)
        q = self.quantiles(lv)
        parts = []
        for k, name in enumerate(QUANTITIES):
            frame = self.rows.reset_index(drop=True)
            frame.insert(frame.columns.get_loc("chance") + 1, "quantity", name)
            frame["mean"] = self.draws[name].mean(("chain", "draw")).to_numpy()
            for i, level in enumerate(lv):
                frame[quantile_column(level)] = q[name].to_numpy()[i]
            parts.append(frame.assign(_row=np.arange(len(frame)), _q=k))
        out = pd.concat(parts, ignore_index=True).sort_values(["_row", "_q"], kind="stable")
        return out.drop(columns=["_row", "_q"]).reset_index(drop=True)

    def write(self, path: Path | str, levels: Iterable[float] = DEFAULT_LEVELS) -> Path:
        """Write :meth:`table` (CSV, JSON records, Parquet by suffix) or the draws (``.nc``).

        Parameters
        ----------
        path
            Destination (``.csv``, ``.json``, ``.parquet`` or ``.nc``).
        levels
            Quantile levels of the table.

        Returns
        -------
        pathlib.Path
            The path written.
        """
        from ceg.export import write_table
        from ceg.files import write_atomic

        path = Path(path)
        if path.suffix.lower() == ".nc":
            if not path.parent.is_dir():
                raise CegError(f"{path}: the folder '{path.parent}' does not exist; create it "
                               "first")
            ds = self.draws.assign_coords(**{c: ("row", self.rows[c].astype(str).to_numpy())
                                             for c in ("scenario", "family", "model",
                                                       "benchmark", "condition")})
            return write_atomic(path, lambda p: ds.to_netcdf(p))
        return write_table(self.table(levels), path)


def quantile_column(level: float) -> str:
    """Return the column name of a quantile level: ``q5`` for 0.05, ``q2.5`` for 0.025."""
    return f"q{round(100 * level, 10):g}"


def _levels(levels: Iterable[float]) -> tuple[float, ...]:
    from ceg.export import check_levels

    return check_levels(list(levels))


def forecast(fit: Fit, scenarios: pd.DataFrame | Mapping[str, Any] | Iterable[Mapping[str, Any]],
             *, seed: int | None = None, max_draws: int = 1000) -> Forecast:
    """Forecast scores, effective compute and CEGs of scenarios, per joint posterior draw.

    Parameters
    ----------
    fit
        A fit (fresh or loaded) whose posterior reports the model's
        deterministics (any fit of this version; hand-made posteriors need
        every variable the scenarios use).
    scenarios
        See :func:`scenario_rows`.
    seed
        Seed of the count draws and of new units; the fit's seed by default.
    max_draws
        Posterior draws used in all (evenly thinned within each chain, as
        :func:`ceg.predictive.posterior_predictive`).

    Returns
    -------
    Forecast

    Raises
    ------
    CegError
        For a scenario that names something the fit does not have.
    """
    from ceg.predictive import thin

    rows = scenario_rows(fit, scenarios)
    seed = fit.seed if seed is None else int(seed)
    post = thin(fit.posterior, max_draws)
    structure = fit.spec.structure
    params = engine.gather(post, fit.design, rows, structure, allow_new=True)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    params = engine.draw_new(params, post, fit.design, rng, structure, fit.spec.x_ref)
    out = engine.evaluate(params, structure, fit.spec.x_ref)
    p = out["p"].to_numpy().reshape(-1, len(rows))
    kappa = out["concentration"].to_numpy().reshape(-1, len(rows))
    n_items = rows["n_items"].to_numpy()
    counts = draw_counts(p, kappa, n_items, seed).reshape(out["p"].shape)
    ds = xr.Dataset({
        "expected_score": out["p"],
        "score": (out["p"].dims, counts / n_items),
        "effective_log10_flop": out["theta"],
        "log10_ceg": out["log10_ceg"],
        "ceg": 10.0 ** out["log10_ceg"],
        "n_correct": (out["p"].dims, counts),
        "log10_flop": out["log10_flop"],
    }).assign_coords(chain=post["chain"], draw=post["draw"], row=np.arange(len(rows)))
    shown = rows.copy()
    fitted = shown["log10_flop"].isna()
    shown.loc[fitted, "log10_flop"] = out["log10_flop"].median(("chain", "draw")).to_numpy()[
        fitted.to_numpy()]
    shown.insert(shown.columns.get_loc("log10_flop"), "flop", 10.0 ** shown["log10_flop"])
    shown.index.name = "row"
    return Forecast(rows=shown, draws=ds, at_seed=seed)


def read_scenarios(path: Path | str) -> pd.DataFrame:
    """Read a scenario CSV (columns :data:`SCENARIO_COLUMNS`; one compute per line).

    Parameters
    ----------
    path
        A CSV file.

    Returns
    -------
    pandas.DataFrame
        The scenarios, as strings and numbers.

    Raises
    ------
    CegError
        If the file is missing, empty, not CSV or lacks ``family`` or ``benchmark``.
    """
    path = Path(path)
    if not path.is_file():
        raise CegError(f"{path}: no such scenario file; write a CSV with columns "
                       f"{list(SCENARIO_COLUMNS)}")
    try:
        frame = pd.read_csv(path, dtype={"family": str, "model": str, "benchmark": str,
                                         "condition": str, "protocol": str, "scenario": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise CegError(f"{path}: not a readable scenario CSV ({err}); write one with columns "
                       f"{list(SCENARIO_COLUMNS)}") from None
    missing = [c for c in ("family", "benchmark") if c not in frame]
    if missing or frame.empty:
        raise CegError(f"{path}: the scenario file has no rows or lacks column(s) {missing}; "
                       f"its columns may be {list(SCENARIO_COLUMNS)}")
    return frame


@dataclass(frozen=True)
class AtCompute:
    """A fit's CEG quantities at another compute: what summaries and exports read.

    Has the attributes :func:`ceg.summary.summarise`, :func:`ceg.summary.headline`
    and :func:`ceg.export.ceg_draws` read (``table``, ``registries``,
    ``design``, ``posterior``, ``seed``, ``spec``, ``quantities``), so every
    CEG table can be read at ``log10_flop`` instead of the spec's ``x_ref``.
    Its ``spec`` is the fit's with ``x_ref_flop`` moved there, so the tables
    say "at" that compute and measure extrapolation from it; it is a view for
    summaries, not a spec to fit with. The per-observation CEGs stay at each
    row's own compute. Make one with :func:`at_compute`.

    The compute is the one the scale slope multiplies: pre-training FLOP
    where ``structure.scale_compute`` is ``raw`` (the default), effective
    compute where it is ``effective``.
    """

    fit: Fit
    log10_flop: float

    @property
    def table(self) -> pd.DataFrame:
        """The fitted table."""
        return self.fit.table

    @property
    def registries(self) -> Any:
        """The fit's registries."""
        return self.fit.registries

    @property
    def design(self) -> Any:
        """The fit's design."""
        return self.fit.design

    @property
    def posterior(self) -> xr.Dataset:
        """The fit's posterior."""
        return self.fit.posterior

    @property
    def idata(self) -> Any:
        """The fit's InferenceData."""
        return self.fit.idata

    @property
    def seed(self) -> int:
        """The fit's seed."""
        return self.fit.seed

    @property
    def spec(self) -> Any:
        """The fit's spec with ``x_ref_flop`` at this compute (for labels and extrapolation)."""
        from dataclasses import replace

        s = self.fit.spec
        return replace(s, structure=replace(s.structure, x_ref_flop=10.0 ** self.log10_flop))

    @property
    def quantities(self) -> xr.Dataset:
        """The fit's quantities with every CEG at x_ref moved to this compute (the engine's)."""
        q = self.fit.quantities
        post, x_ref, x = self.fit.posterior, self.fit.spec.x_ref, self.log10_flop
        eb = engine.enhancement_log10_ceg(post, x_ref, x, self.fit.design)
        new = q["log10_ceg_new_enhancement"].rename(new_category="category")
        return q.assign(
            log10_ceg_enhancement=engine.enhancement_log10_ceg(post, x_ref, x),
            log10_ceg_enhancement_benchmark=eb.assign_coords(
                {c: q["log10_ceg_enhancement_benchmark"][c]
                 for c in ("pair_enhancement", "pair_benchmark")}),
            log10_ceg_category=engine.category_log10_ceg(post, x_ref, x),
            log10_ceg_new_enhancement=engine.new_enhancement_log10_ceg(
                new, post, x_ref, x, self.fit.seed).rename(category="new_category"))

    def summary(self, by: str = "enhancement") -> pd.DataFrame:
        """Return the CEG summary at this compute (see :func:`ceg.summary.summarise`)."""
        from ceg.summary import summarise

        return summarise(self, by)  # type: ignore[arg-type]

    def headline(self) -> pd.DataFrame:
        """Return the headline at this compute (see :func:`ceg.summary.headline`)."""
        from ceg.summary import headline

        return headline(self)  # type: ignore[arg-type]


def at_compute(fit: Fit, flop: float) -> AtCompute:
    """Return a view of ``fit`` whose CEG tables hold at ``flop`` instead of ``x_ref``.

    Parameters
    ----------
    fit
        A fit.
    flop
        Compute in FLOP (e.g. ``1e25``): pre-training compute, or effective
        compute where the spec's scale slope multiplies it (see :class:`AtCompute`).

    Returns
    -------
    AtCompute

    Raises
    ------
    CegError
        If ``flop`` is not a positive finite number.
    """
    try:
        value = float(flop)
    except (TypeError, ValueError):
        value = float("nan")
    if not (np.isfinite(value) and value > 0):
        raise CegError(f"the compute {flop!r} must be a positive number of FLOP, e.g. 1e25")
    return AtCompute(fit=fit, log10_flop=float(np.log10(value)))


__all__ = ["DEFAULT_LEVELS", "QUANTITIES", "SCENARIO_COLUMNS", "AtCompute", "Forecast",
           "at_compute", "draw_counts", "forecast", "quantile_column", "read_scenarios",
           "scenario_rows"]


class _CallableModule(types.ModuleType):
    """The module, callable: ``ceg.forecast(fit, scenarios)`` is :func:`forecast`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Forecast:
        return forecast(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
