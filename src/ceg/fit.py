"""Fitting a table, and the :class:`Fit` it returns.

``fit`` validates the table, builds the design, gets the compiled model for
the spec and design from :mod:`ceg.sampling` (compiled once per process),
samples it (nutpie or PyMC's NUTS), stores ``log_likelihood`` and ``log_prior``,
and judges convergence on the CEG quantities. A :class:`Fit` saves to NetCDF
with everything needed to summarise, plot and refit without the original
files: the spec, the table (with its SHA-256), the registries, the package
versions, the sampler and its integer seed.
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import arviz as az
import pandas as pd
import xarray as xr

from ceg import derived, fit_cache
from ceg.design import Design, make_design
from ceg.diagnostics import Diagnostics, diagnose
from ceg.errors import (
    ConvergenceError,
    ConvergenceWarning,
    DataError,
    DataWarning,
    FitFileError,
    SpecError,
)
from ceg.files import write_atomic
from ceg.registry import Registries, load_registries, parse_benchmarks, parse_enhancements
from ceg.sampling import compiled_model
from ceg.spec import ModelSpec, SamplerName
from ceg.summary import By, headline, summarise
from ceg.table import enhancements_of, validate_table

#: Version of the saved-fit layout; a loader refuses other versions.
FIT_FORMAT = "ceg-fit-1"
_ATTR = "ceg_"


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("ceg", "pymc", "pytensor", "arviz", "nutpie", "numpy", "pandas", "xarray"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "absent"
    return out


def _csv(df: pd.DataFrame, index: bool = False) -> str:
    return df.to_csv(index=index, lineterminator="\n")


def table_digest(table: pd.DataFrame) -> str:
    """Return the SHA-256 of a validated table's canonical CSV text."""
    return hashlib.sha256(_csv(table).encode()).hexdigest()


@dataclass
class Fit:
    """A fitted model: the InferenceData, and what produced it.

    Attributes
    ----------
    idata
        ArviZ InferenceData with ``posterior``, ``log_likelihood``,
        ``log_prior``, ``sample_stats``, ``observed_data`` and
        ``constant_data`` groups.
    spec
        The model specification.
    table
        The validated evaluation table that was fitted.
    registries
        The registries the table was validated against.
    sampler
        ``"nutpie"`` or ``"pymc"``.
    seed
        The integer seed of the sampler (and of predictive draws).
    """

    idata: az.InferenceData
    spec: ModelSpec
    table: pd.DataFrame
    registries: Registries
    sampler: str
    seed: int
    versions: dict[str, str] = field(default_factory=_versions)

    @cached_property
    def design(self) -> Design:
        """The design (coordinates and index arrays) of the fitted table."""
        return make_design(self.table, self.registries)

    @property
    def posterior(self) -> xr.Dataset:
        """The posterior draws."""
        return self.idata.posterior

    @cached_property
    def quantities(self) -> xr.Dataset:
        """All CEG quantities, in log10 units, as one Dataset of draws.

        Variables (all prefixed ``log10_ceg_``): ``enhancement`` (at x_ref,
        averaged over benchmarks), ``enhancement_benchmark`` (at x_ref),
        ``category`` (pooled mean), ``new_enhancement`` (predictive, per
        category, dim ``new_category``) and ``observation`` (each enhanced
        observation at its own compute).
        """
        post, x_ref = self.posterior, self.spec.x_ref
        return xr.Dataset({
            "log10_ceg_enhancement": derived.log10_ceg_enhancement(post),
            "log10_ceg_enhancement_benchmark": derived.log10_ceg_enhancement_benchmark(
                post, self.design),
            "log10_ceg_category": derived.log10_ceg_category(post),
            "log10_ceg_new_enhancement": derived.log10_ceg_new_enhancement(post, self.seed)
            .rename(category="new_category"),
            "log10_ceg_observation": derived.log10_ceg_observation(
                post, self.design, x_ref, self.spec.structure),
        })

    def diagnostics(self) -> Diagnostics:
        """Return R-hat, ESS, divergences and E-BFMI of the CEG quantities."""
        q = self.quantities.drop_vars("log10_ceg_new_enhancement")
        stats = self.idata.sample_stats if "sample_stats" in self.idata.groups() else None
        return diagnose(q.reset_coords(drop=True), stats, self.spec.convergence)

    def summary(self, by: By = "enhancement") -> pd.DataFrame:
        """Return the CEG summary table (see :func:`ceg.summary.summarise`)."""
        return summarise(self, by)

    def headline(self) -> pd.DataFrame:
        """Return the paper's headline as probabilities (see :func:`ceg.summary.headline`)."""
        return headline(self)

    def save(self, path: Path | str) -> Path:
        """Write the fit to a NetCDF file, atomically (temporary file, then rename).

        Parameters
        ----------
        path
            Destination, conventionally ``*.nc``.

        Returns
        -------
        pathlib.Path
            The path written.
        """
        path = Path(path)
        attrs = {
            "format": FIT_FORMAT,
            "spec": self.spec.to_json(),
            "spec_source": self.spec.source,
            "table_csv": _csv(self.table),
            "table_sha256": table_digest(self.table),
            "benchmarks_csv": _csv(self.registries.benchmarks, index=True),
            "enhancements_csv": _csv(self.registries.enhancements, index=True),
            "versions": json.dumps(self.versions, sort_keys=True),
            "sampler": self.sampler,
            "seed": int(self.seed),
        }
        idata = self.idata.copy()
        idata.posterior.attrs.update({_ATTR + k: v for k, v in attrs.items()})
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_atomic(path, lambda tmp: idata.to_netcdf(tmp, engine="h5netcdf"))


def open_netcdf(path: Path | str, missing_hint: str) -> az.InferenceData:
    """Open a saved InferenceData, with a message a user can act on if it cannot be.

    Parameters
    ----------
    path
        The NetCDF file.
    missing_hint
        What to do when the file does not exist (ends the message).

    Returns
    -------
    arviz.InferenceData

    Raises
    ------
    FitFileError
        If the file is missing or not NetCDF.
    """
    path = Path(path)
    if not path.exists():
        raise FitFileError(f"{path}: file not found: {missing_hint}")
    try:
        return az.from_netcdf(path)
    except Exception as exc:  # netCDF/HDF5 raise many types
        raise FitFileError(f"{path}: not a NetCDF file written by ceg ({exc})") from None


def load_fit(path: Path | str) -> Fit:
    """Read a fit saved by :meth:`Fit.save`.

    Parameters
    ----------
    path
        A NetCDF file written by ``ceg``.

    Returns
    -------
    Fit
        The fit, with its spec, table and registries restored from the file.

    Raises
    ------
    FitFileError
        If the file is missing, not a ``ceg`` fit, of another format
        version, or its table does not match its stored SHA-256.
    """
    path = Path(path)
    idata = open_netcdf(path, "check the path, or run 'ceg fit' first")
    attrs = idata.posterior.attrs if "posterior" in idata.groups() else {}
    fmt = attrs.get(_ATTR + "format")
    if fmt != FIT_FORMAT:
        if fmt is None:
            raise FitFileError(f"{path}: not a ceg fit (a NetCDF file without the "
                               f"{FIT_FORMAT!r} format attribute): give a file that 'ceg fit' "
                               "saved")
        raise FitFileError(f"{path}: not a ceg fit of format {FIT_FORMAT!r} (found {fmt!r}); "
                           "refit it with this version of ceg")
    try:
        table_csv = attrs[_ATTR + "table_csv"]
        registries = Registries(
            benchmarks=parse_benchmarks(pd.read_csv(io.StringIO(attrs[_ATTR + "benchmarks_csv"]),
                                                    dtype=str, keep_default_na=False), str(path)),
            enhancements=parse_enhancements(pd.read_csv(
                io.StringIO(attrs[_ATTR + "enhancements_csv"]), dtype=str, keep_default_na=False),
                str(path)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)  # shown when the fit was made
            table = validate_table(pd.read_csv(io.StringIO(table_csv), dtype=str,
                                               keep_default_na=False), registries,
                                   source=f"{path} (stored table)")
        if table_digest(table) != attrs[_ATTR + "table_sha256"]:
            raise FitFileError(f"{path}: the stored table does not match its SHA-256; the file "
                               "was altered or damaged: refit from the original data")
        spec = ModelSpec.from_dict(json.loads(attrs[_ATTR + "spec"]),
                                   source=f"{path} (stored spec)")
        return Fit(idata=idata, spec=spec, table=table, registries=registries,
                   sampler=str(attrs[_ATTR + "sampler"]), seed=int(attrs[_ATTR + "seed"]),
                   versions=json.loads(attrs[_ATTR + "versions"]))
    except KeyError as exc:
        raise FitFileError(f"{path}: the saved fit lacks {exc.args[0]!r}; the file was "
                           "altered or damaged: refit from the original data") from None
    except (DataError, SpecError) as exc:
        raise FitFileError(f"{path}: the stored data or spec are invalid, so the file was "
                           f"altered or damaged; refit from the original data.\n{exc}") from None


def registries_used(registries: Registries, table: pd.DataFrame) -> Registries:
    """Return the registry rows a validated table uses, to store with its fit.

    A benchmark whose items and chance level the table gives in its own rows
    (and which the registry does not list) gets a row built from the table,
    so that the stored registry always covers the stored table.

    Parameters
    ----------
    registries
        The registries the table was validated against.
    table
        The validated table.

    Returns
    -------
    Registries
        Benchmarks and enhancements used by the table, sorted by name.
    """
    benchmarks = sorted(table["benchmark"].unique())
    known = [b for b in benchmarks if b in registries.benchmarks.index]
    from_table = (table[~table["benchmark"].isin(known)]
                  .groupby("benchmark")[["n_items", "chance"]].first())
    from_table["answer_format"] = ""
    from_table["source"] = "given in the evaluation table's rows"
    bench = pd.concat([registries.benchmarks.loc[known], from_table]).sort_index()
    slugs = sorted({e for c in table["condition"].unique() for e in enhancements_of(c)})
    return Registries(benchmarks=bench, enhancements=registries.enhancements.loc[slugs])


def _resolve_spec(spec: ModelSpec | str | Path) -> ModelSpec:
    return spec if isinstance(spec, ModelSpec) else ModelSpec.load(spec)


def fit(
    table: pd.DataFrame,
    spec: ModelSpec | str | Path = "default",
    *,
    draws: int | None = None,
    tune: int | None = None,
    chains: int | None = None,
    seed: int | None = None,
    sampler: SamplerName | None = None,
    target_accept: float | None = None,
    registries: Registries | None = None,
    strict: bool = False,
    progress: bool = False,
) -> Fit:
    """Fit a model to an evaluation table and return posterior CEGs.

    Parameters
    ----------
    table
        An evaluation table (validated here; see :func:`ceg.validate_table`).
    spec
        A :class:`~ceg.spec.ModelSpec`, a spec name in ``models/`` or a path.
    draws, tune, chains, seed, sampler
        Override the spec's ``[sampler]`` settings.
    target_accept
        Override the spec's ``sampler.target_accept`` (in [0.5, 1)). It is part of
        the spec the fit stores, so a fit records the value it was sampled with.
        Lower values take fewer leapfrog steps per draw and risk divergences.
    registries
        Registries to validate against; the bundled ones by default.
    strict
        Raise :class:`~ceg.errors.ConvergenceError` instead of warning when
        the fit misses a convergence threshold.
    progress
        Show the sampler's progress bar.

    Returns
    -------
    Fit
        The fit; ``fit.summary()`` gives the CEG table.

    Raises
    ------
    DataError
        If the table is invalid.
    ConvergenceError
        With ``strict=True``, if the fit did not converge.

    Warns
    -----
    ConvergenceWarning
        If the fit did not converge (and ``strict`` is false).

    Notes
    -----
    With the environment variable ``CEG_FIT_CACHE`` set to a folder, a fit of
    the same table, registries, spec, sampler settings, seed and code is read
    from there instead of sampled again (:mod:`ceg.fit_cache`).
    """
    spec = _resolve_spec(spec)
    if target_accept is not None:
        spec = spec.with_target_accept(target_accept)
    reg = registries if registries is not None else load_registries()
    table = validate_table(table, reg)
    s = spec.sampler.override(name=sampler, draws=draws, tune=tune, chains=chains, seed=seed)
    draws, tune, chains, seed, sampler = s.draws, s.tune, s.chains, s.seed, s.name
    used = registries_used(reg, table)
    cached = None
    if fit_cache.cache_folder() is not None:  # the key (hashes, source digest) only then
        cached = fit_cache.entry(fit_cache.fit_key(
            table_sha256=table_digest(table),
            registries_csv=_csv(used.benchmarks, index=True) + _csv(used.enhancements,
                                                                    index=True),
            spec_digest=spec.digest(),
            sampler={"name": sampler, "draws": draws, "tune": tune, "chains": chains,
                     "seed": seed},
            versions=_versions()))
    result = _load_cached(cached)
    if result is None:
        result = _sample(table, spec, reg, used, draws=draws, tune=tune, chains=chains,
                         seed=seed, sampler=sampler, progress=progress)
        if cached is not None:
            result.save(cached)
    diag = result.diagnostics()
    if not diag.converged:
        msg = (f"the fit did not converge: {'; '.join(diag.problems())}. Its CEGs are not "
               "trustworthy: run longer (--draws/--tune), raise target_accept in the spec, "
               "or simplify the model")
        if strict:
            raise ConvergenceError(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=2)
    return result


def _load_cached(path: Path | None) -> Fit | None:
    """Read a cached fit; ``None`` if there is no cache, no entry or a damaged one."""
    if path is None or not path.exists():
        return None
    try:
        return load_fit(path)
    except FitFileError:  # damaged: sample again and overwrite it
        return None


def data_groups(design: Design, table: pd.DataFrame) -> dict[str, xr.Dataset]:
    """Return the ``observed_data`` and ``constant_data`` groups a fit stores.

    Parameters
    ----------
    design
        The design of the validated table.
    table
        The validated table (its scores and training compute are stored).

    Returns
    -------
    dict
        ``observed_data`` (``n_correct``) and ``constant_data`` (``n_items``,
        ``score``, ``train_flop``), each over the ``observation`` dimension.
    """
    obs = {"observation": design.coords["observation"]}
    return {
        "observed_data": xr.Dataset({"n_correct": ("observation", design.n_correct)},
                                    coords=obs),
        "constant_data": xr.Dataset({
            "n_items": ("observation", design.n_items),
            "score": ("observation", table["score"].to_numpy(dtype=float)),
            "train_flop": ("observation", table["train_flop"].to_numpy(dtype=float)),
        }, coords=obs),
    }


def _sample(table: pd.DataFrame, spec: ModelSpec, reg: Registries, used: Registries, *,
            draws: int, tune: int, chains: int, seed: int, sampler: str,
            progress: bool) -> Fit:
    """Sample the model of ``spec`` on a validated table; return the fit, not yet judged."""
    design = make_design(table, reg)
    compiled = compiled_model(spec, design, sampler)
    idata = compiled.sample(design.n_correct, draws=draws, tune=tune, chains=chains,
                            seed=seed, progress=progress)
    # pointwise densities at this table's counts (a cached model may hold another's)
    log_likelihood, log_prior = compiled.log_densities(idata.posterior, design.n_correct)
    idata.add_groups(log_likelihood=log_likelihood, log_prior=log_prior)
    idata.add_groups(data_groups(design, table))
    return Fit(idata=idata, spec=spec, table=table, registries=used, sampler=sampler,
               seed=seed)


__all__ = ["FIT_FORMAT", "Fit", "data_groups", "fit", "load_fit", "open_netcdf",
           "registries_used", "table_digest"]
