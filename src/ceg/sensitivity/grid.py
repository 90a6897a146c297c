"""The grid of a sensitivity sweep: named variants of a base spec and of the data, from TOML.

A grid file (the default: ``models/sensitivity/grid.toml``) names a base spec
and a table of variants; each variant overrides the base and may filter the
data::

    base = "default"                      # a spec name in models/ or a path

    [variants.shift_mean_0]
    description = "the overall shift mean centred at 0 instead of 0.5"
    priors.shift_mean = { dist = "Normal", mu = 0.0, sigma = 1.0 }

    [variants.sds_x2]
    priors.sd_scale = 2.0                 # every scale prior (the pooled sds) twice as wide

    [variants.floor_zero]
    structure.floor = "zero"

    [variants.drop_gpt3_table_h1]
    drop_source = "brown2020_gpt3_tabH1"  # a source's id (before ':') or its full text

A variant's keys:

- ``description``: one line for the report.
- ``structure.*``: any key of the spec's ``[structure]``.
- ``priors.*``: whole prior tables (as in a spec), and two transforms applied
  after them to every prior of the resulting spec: ``sd_scale`` (multiply the
  ``sigma`` of every scale prior, i.e. the prior of every pooled sd, by it) and
  ``student_t_nu`` (turn every ``Normal`` into a ``StudentT`` and every
  ``HalfNormal`` into a ``HalfStudentT`` with these degrees of freedom, same
  ``mu`` and ``sigma``).
- data filters: ``drop_source`` and ``drop_family`` (a name or a list),
  ``drop_benchmarks`` (a list), ``drop_estimated_compute`` (drop the rows of
  models whose compute is an estimate, ``train_flop_log10_sd > 0``).

Unknown keys and bad values are a :class:`~ceg.errors.SpecError` naming the
file, the variant and the key. Each variant's spec is validated as a spec
(:meth:`ceg.spec.ModelSpec.from_dict`), so a structure switch that needs a
prior (``floor = "learned"``, ``model_effects``, ...) must come with it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import tomllib
import warnings
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from ceg.errors import DataWarning, SpecError, did_you_mean
from ceg.spec import VARIANT_PRIORS, ModelSpec, Structure, prior_must_be_positive

#: The default grid, inside the bundled models folder.
DEFAULT_GRID = "sensitivity/grid.toml"
#: Keys of a variant (besides its ``structure`` and ``priors`` tables).
FILTER_KEYS = ("drop_source", "drop_family", "drop_benchmarks", "drop_estimated_compute")
VARIANT_KEYS = ("description", "structure", "priors", *FILTER_KEYS)
#: Keys of ``priors`` that transform every prior instead of naming one.
PRIOR_TRANSFORMS = ("sd_scale", "student_t_nu")


@dataclass(frozen=True)
class DataFilters:
    """Rows a variant leaves out of the base table (all empty: the whole table).

    Attributes
    ----------
    drop_source
        Sources whose rows are dropped: a source's id (the text before ``:``) or
        its full text.
    drop_family
        Families whose rows are dropped.
    drop_benchmarks
        Benchmarks whose rows are dropped.
    drop_estimated_compute
        Drop the rows of models whose compute is an estimate.
    """

    drop_source: tuple[str, ...] = ()
    drop_family: tuple[str, ...] = ()
    drop_benchmarks: tuple[str, ...] = ()
    drop_estimated_compute: bool = False

    @property
    def empty(self) -> bool:
        """Whether the filters keep every row."""
        return not (self.drop_source or self.drop_family or self.drop_benchmarks
                    or self.drop_estimated_compute)

    def apply(self, table: pd.DataFrame) -> pd.DataFrame:
        """Return the rows of ``table`` these filters keep (a copy; ``table`` is not changed).

        Parameters
        ----------
        table
            A validated evaluation table.

        Returns
        -------
        pandas.DataFrame
            The kept rows, index reset.
        """
        keep = pd.Series(True, index=table.index)
        if self.drop_source:
            ids = table["source"].str.split(":", n=1).str[0].str.strip()
            keep &= ~(table["source"].isin(self.drop_source) | ids.isin(self.drop_source))
        if self.drop_family:
            keep &= ~table["family"].isin(self.drop_family)
        if self.drop_benchmarks:
            keep &= ~table["benchmark"].isin(self.drop_benchmarks)
        if self.drop_estimated_compute:
            keep &= ~(table["train_flop_log10_sd"].astype(float) > 0)
        return table[keep].reset_index(drop=True).copy()

    def check(self, table: pd.DataFrame, where: str) -> None:
        """Raise if a filter names something the table does not hold, or drops every row.

        Parameters
        ----------
        table
            The base table.
        where
            The variant, for messages (``grid.toml [variants.x]``).

        Raises
        ------
        SpecError
            Naming the key and listing what the table holds.
        """
        ids = sorted(set(table["source"].str.split(":", n=1).str[0].str.strip()))
        known = {
            "drop_source": set(ids) | set(table["source"]),
            "drop_family": set(table["family"]),
            "drop_benchmarks": set(table["benchmark"]),
        }
        listed = {"drop_source": ids, "drop_family": sorted(known["drop_family"]),
                  "drop_benchmarks": sorted(known["drop_benchmarks"])}
        for key, names in known.items():
            for name in getattr(self, key):
                if name not in names:
                    raise SpecError(f"{where}: {key} = {name!r} is not in the data."
                                    f"{did_you_mean(name, listed[key])} The data hold: "
                                    f"{listed[key]}")
        if self.drop_estimated_compute and not (table["train_flop_log10_sd"].astype(float)
                                                > 0).any():
            raise SpecError(f"{where}: drop_estimated_compute = true, but no model's compute "
                            "is an estimate in the data: remove the key")
        if len(self.apply(table)) == 0:
            raise SpecError(f"{where}: the data filters drop every row")


@dataclass(frozen=True)
class Variant:
    """One variant of a sweep: its spec and the rows it keeps.

    Attributes
    ----------
    name
        The variant's name in the grid.
    description
        One line for the report.
    spec
        The base spec with the variant's overrides, validated.
    filters
        The rows it leaves out.
    overrides
        The variant's entries as written in the grid (for the report).
    """

    name: str
    description: str
    spec: ModelSpec
    filters: DataFilters = field(default_factory=DataFilters)
    overrides: dict[str, Any] = field(default_factory=dict)

    def digest(self) -> str:
        """Return a SHA-256 of what the variant fits: its spec's content and its filters."""
        text = json.dumps({"spec": self.spec.digest(), "filters": asdict(self.filters)},
                          sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Grid:
    """A sweep's variants, in file order.

    Attributes
    ----------
    base
        The base spec every variant overrides.
    variants
        The variants by name.
    source
        Where the grid came from.
    """

    base: ModelSpec
    variants: dict[str, Variant]
    source: str = "<memory>"

    def check_data(self, table: pd.DataFrame) -> None:
        """Raise a :class:`SpecError` if a variant's data filters do not fit ``table``."""
        for v in self.variants.values():
            v.filters.check(table, f"{self.source} [variants.{v.name}]")

    def select(self, names: list[str] | None) -> Grid:
        """Return the grid restricted to ``names`` (all of it for ``None``), in file order.

        Raises
        ------
        SpecError
            If a name is not a variant of the grid.
        """
        if names is None:
            return self
        for name in names:
            if name not in self.variants:
                raise SpecError(f"{self.source}: no variant named {name!r}."
                                f"{did_you_mean(name, self.variants)} Variants: "
                                f"{list(self.variants)}")
        return Grid(self.base, {n: v for n, v in self.variants.items() if n in names},
                    self.source)


def _bad(where: str, message: str) -> SpecError:
    return SpecError(f"{where}: {message}")


def _names(value: Any, where: str, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if (not isinstance(value, list) or not value
            or not all(isinstance(v, str) and v for v in value)):
        raise _bad(where, f"{key} must be a name or a list of names, not {value!r}")
    return tuple(value)


def _filters(entry: dict[str, Any], where: str) -> DataFilters:
    values: dict[str, Any] = {}
    for key in ("drop_source", "drop_family", "drop_benchmarks"):
        if key in entry:
            values[key] = _names(entry[key], where, key)
    if "drop_estimated_compute" in entry:
        flag = entry["drop_estimated_compute"]
        if not isinstance(flag, bool):
            raise _bad(where, f"drop_estimated_compute must be true or false, not {flag!r}")
        values["drop_estimated_compute"] = flag
    return DataFilters(**values)


def _transform_priors(priors: dict[str, Any], transforms: dict[str, Any],
                      where: str) -> dict[str, Any]:
    out = copy.deepcopy(priors)
    for key, value in transforms.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise _bad(where, f"priors.{key} must be a number > 0, not {value!r}")
    scale = transforms.get("sd_scale")
    nu = transforms.get("student_t_nu")
    for name, prior in out.items():
        if not isinstance(prior, dict):
            continue  # the spec's validation names it
        if scale is not None and prior_must_be_positive(name) and "sigma" in prior:
            if isinstance(prior["sigma"], int | float) and not isinstance(prior["sigma"], bool):
                prior["sigma"] = prior["sigma"] * scale
        if nu is not None:
            heavier = {"Normal": "StudentT", "HalfNormal": "HalfStudentT"}
            if prior.get("dist") in heavier:
                prior["dist"] = heavier[prior["dist"]]
                prior["nu"] = float(nu)
    return out


def make_variant(base: ModelSpec, name: str, entry: dict[str, Any],
                 source: str = "<memory>") -> Variant:
    """Validate one variant's entry and return the variant.

    Parameters
    ----------
    base
        The base spec.
    name
        The variant's name.
    entry
        Its table in the grid (keys of :data:`VARIANT_KEYS`).
    source
        The grid's file, for messages.

    Returns
    -------
    Variant
        With the overridden spec validated.

    Raises
    ------
    SpecError
        Naming the file, the variant and the key that is unknown or bad.
    """
    where = f"{source} [variants.{name}]"
    if not isinstance(entry, dict):
        raise _bad(where, "a variant must be a table of keys")
    for key in entry:
        if key not in VARIANT_KEYS:
            raise _bad(where, f"unknown key '{key}'.{did_you_mean(key, VARIANT_KEYS)} Allowed "
                              f"keys: {sorted(VARIANT_KEYS)}")
    description = entry.get("description", "")
    if not isinstance(description, str):
        raise _bad(where, f"description must be text, not {description!r}")
    data = base.to_dict()
    for section in ("structure", "priors"):
        value = entry.get(section, {})
        if not isinstance(value, dict):
            raise _bad(where, f"{section} must be a table of keys, not {value!r}")
    data["structure"] = {**data["structure"], **entry.get("structure", {})}
    priors = dict(entry.get("priors", {}))
    transforms = {k: priors.pop(k) for k in PRIOR_TRANSFORMS if k in priors}
    merged = {**data["priors"], **priors}
    # a switch turned off drops the priors only it used, so the variant need not remove them
    structure = Structure(**{k: v for k, v in data["structure"].items()
                             if k in Structure.__dataclass_fields__})  # checked by from_dict
    unused = {n for n, (switch, _) in VARIANT_PRIORS.items()
              if n in merged and n not in priors and not structure.uses(switch)}
    merged = {k: v for k, v in merged.items() if k not in unused}
    data["priors"] = _transform_priors(merged, transforms, where)
    data["name"] = f"{base.name}+{name}"
    data["description"] = description or base.description
    spec = ModelSpec.from_dict(data, source=where)
    return Variant(name=name, description=description, spec=spec,
                   filters=_filters(entry, where), overrides=copy.deepcopy(entry))


def grid_from_dict(data: dict[str, Any], source: str = "<memory>") -> Grid:
    """Validate a grid's plain data (as read from TOML) and return the grid.

    Parameters
    ----------
    data
        ``base`` (a spec name or path; ``"default"`` if absent) and
        ``variants`` (a table of variant tables).
    source
        Where the data came from, for messages.

    Returns
    -------
    Grid
        Every variant validated.

    Raises
    ------
    SpecError
        Naming the key that is unknown, missing or bad.
    """
    for key in data:
        if key not in ("base", "variants"):
            raise _bad(source, f"unknown key '{key}'.{did_you_mean(key, ['base', 'variants'])}"
                               " Allowed keys: ['base', 'variants']")
    base_name = data.get("base", "default")
    if not isinstance(base_name, str):
        raise _bad(source, f"base must be a spec name or path, not {base_name!r}")
    try:
        base = ModelSpec.load(base_name)
    except SpecError as exc:
        raise _bad(source, f"base = {base_name!r}: {exc}") from None
    variants = data.get("variants")
    if not isinstance(variants, dict) or not variants:
        raise _bad(source, "missing key 'variants': add at least one [variants.NAME] table")
    return Grid(base=base, source=source,
                variants={name: make_variant(base, name, entry, source)
                          for name, entry in variants.items()})


def load_grid(path: str | Path | None = None) -> Grid:
    """Load a grid file (the default grid for ``None``).

    Parameters
    ----------
    path
        A TOML file; ``None`` for the bundled ``models/sensitivity/grid.toml``.

    Returns
    -------
    Grid
        The validated grid.

    Raises
    ------
    SpecError
        If the file is missing, not TOML, or a key is unknown or bad.
    """
    if path is None:
        text = resources.files("ceg.models").joinpath(DEFAULT_GRID).read_text(encoding="utf-8")
        source = f"models/{DEFAULT_GRID}"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SpecError(f"{path}: file not found: check the path") from None
        except (IsADirectoryError, UnicodeDecodeError) as exc:
            raise SpecError(f"{path}: not a text file ({exc}): give a grid TOML file") from None
        source = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{source}: not valid TOML ({exc})") from None
    return grid_from_dict(data, source)


#: The rule of "benchmarks that do not scale" (the ``drop_flat_benchmarks`` variant).
FLAT_MIN_RHO = 0.3
FLAT_MIN_RANGE = 0.05


def flat_benchmarks(table: pd.DataFrame, min_rho: float = FLAT_MIN_RHO,
                    min_range: float = FLAT_MIN_RANGE, min_models: int = 3) -> list[str]:
    """Return the benchmarks whose base score does not rise with training compute.

    The rule, on the ``base`` rows of each benchmark (every model, every
    family): Spearman's rank correlation of the score with ``train_flop`` below
    ``min_rho``, or the score's range (max - min over the models) below
    ``min_range``. A benchmark whose scores are all equal counts as flat.
    Benchmarks with base rows at fewer than ``min_models`` training computes are
    not judged (one or two points show no trend): on the bundled data HumanEval
    (GPT-4 only) and LAMA-Google-RE (two models), the only benchmarks of LATS,
    Reflexion and the Toolformer rows.

    Parameters
    ----------
    table
        A validated evaluation table.
    min_rho
        Smallest Spearman correlation of a scaling benchmark.
    min_range
        Smallest rise of the score (in accuracy) over its models.
    min_models
        Fewest distinct training computes among the base rows to judge a benchmark.

    Returns
    -------
    list of str
        The flat benchmarks, sorted.
    """
    flat = []
    base = table[table["condition"] == "base"]
    for name, rows in base.groupby("benchmark", sort=True):
        score, flop = rows["score"].astype(float), rows["train_flop"].astype(float)
        if flop.nunique() < min_models:
            continue
        if score.nunique() < 2:
            flat.append(str(name))
            continue
        rho = score.corr(flop, method="spearman")
        if rho < min_rho or score.max() - score.min() < min_range:
            flat.append(str(name))
    return flat


def variant_table(variant: Variant, table: pd.DataFrame, registries: Any) -> pd.DataFrame:
    """Return the variant's rows of ``table``, validated again (quietly).

    Parameters
    ----------
    variant
        The variant.
    table
        The base table (validated).
    registries
        The registries it was validated against.

    Returns
    -------
    pandas.DataFrame
        The kept rows as a validated table.
    """
    from ceg.table import validate_table

    if variant.filters.empty:
        return table
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return validate_table(variant.filters.apply(table), registries,
                              source=f"the data of variant {variant.name!r}")


__all__ = ["DEFAULT_GRID", "FILTER_KEYS", "FLAT_MIN_RANGE", "FLAT_MIN_RHO", "flat_benchmarks",
           "PRIOR_TRANSFORMS", "VARIANT_KEYS", "DataFilters",
           "Grid", "Variant", "grid_from_dict", "load_grid", "make_variant", "variant_table"]
