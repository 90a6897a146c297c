"""Registries of benchmarks and enhancements.

Two CSV files ship with the package (``ceg/data/benchmarks.csv`` and
``ceg/data/enhancements.csv``); a user extends or overrides them with files of
the same columns. Categories are declared once, here, in :data:`CATEGORIES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal, get_args

import pandas as pd

from ceg.errors import DataError, Problem, did_you_mean

Category = Literal["tool_use", "prompting", "scaffolding", "solution_selection", "data"]
#: The five categories of post-training enhancement of Davidson et al. (2023).
CATEGORIES: tuple[str, ...] = get_args(Category)

BENCHMARK_COLUMNS = ("benchmark", "n_items", "chance", "answer_format", "source")
ENHANCEMENT_COLUMNS = (
    "slug",
    "name",
    "category",
    "description",
    "finetune_compute_fraction",
    "inference_cost_multiplier",
    "role",
    "source",
)
#: What an enhancement's rows measure: ``standalone`` (against the plain model),
#: ``increment`` (only on top of another enhancement: self-consistency on
#: chain-of-thought), ``control`` (an ablation: Toolformer with calls disabled).
#: The headline is computed over the standalone ones (``ceg.derived.headline_set``).
Role = Literal["standalone", "increment", "control"]
ROLES: tuple[str, ...] = get_args(Role)


@dataclass(frozen=True)
class Registries:
    """The benchmark and enhancement registries in force for one table.

    Attributes
    ----------
    benchmarks
        One row per benchmark, indexed by ``benchmark``: ``n_items``, ``chance``,
        ``answer_format``, ``source``.
    enhancements
        One row per enhancement, indexed by ``slug``: ``name``, ``category``,
        ``description``, ``finetune_compute_fraction``,
        ``inference_cost_multiplier``, ``role`` (:data:`ROLES`), ``source``.
    """

    benchmarks: pd.DataFrame
    enhancements: pd.DataFrame

    def category_of(self, slug: str) -> str:
        """Return the category of an enhancement slug."""
        return str(self.enhancements.loc[slug, "category"])


def _read_csv(path: Path | str, label: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise DataError(f"{label} file not found: check the path", source=str(path)) from None
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"cannot parse as CSV ({exc}); save it as UTF-8 CSV", str(path)) from None


def _check_columns(df: pd.DataFrame, expected: tuple[str, ...], required: tuple[str, ...],
                   source: str) -> list[Problem]:
    problems = []
    for col in df.columns:
        if col not in expected:
            problems.append(Problem(
                f"unknown column; expected some of {list(expected)}.{did_you_mean(col, expected)}",
                column=col))
    for col in required:
        if col not in df.columns:
            problems.append(Problem("required column is missing: add it", column=col))
    return problems


def _numeric(df: pd.DataFrame, col: str, problems: list[Problem], *, lo: float, hi: float,
             what: str, allow_empty: bool = True, hi_open: bool = False,
             integer: bool = False) -> pd.Series:
    out = pd.to_numeric(df[col].replace("", None), errors="coerce").astype(float)
    for i, (raw, val) in enumerate(zip(df[col], out, strict=True)):
        if raw == "":
            if not allow_empty:
                problems.append(Problem(f"empty: give {what}", row=i + 2, column=col))
            continue
        if pd.isna(val):
            problems.append(Problem(f"not a number: give {what}", row=i + 2, column=col,
                                    value=raw))
        elif not lo <= val <= hi:
            problems.append(Problem(f"outside [{lo:g}, {hi:g}]: give {what}", row=i + 2,
                                    column=col, value=raw))
        elif hi_open and val == hi:
            problems.append(Problem(f"must be below {hi:g}: give {what}", row=i + 2,
                                    column=col, value=raw))
        elif integer and val != round(val):
            problems.append(Problem(f"not a whole number: give {what}", row=i + 2,
                                    column=col, value=raw))
    return out


def parse_benchmarks(df: pd.DataFrame, source: str = "benchmarks") -> pd.DataFrame:
    """Validate a benchmark registry table and return it indexed by name.

    Parameters
    ----------
    df
        Raw table with string columns ``benchmark``, ``n_items``, ``chance``
        and optionally ``answer_format``, ``source``.
    source
        Name used in error messages.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``benchmark``; ``n_items`` and ``chance`` are floats (NaN
        where the registry does not know them).

    Raises
    ------
    DataError
        Listing every malformed row.
    """
    problems = _check_columns(df, BENCHMARK_COLUMNS, ("benchmark", "n_items", "chance"), source)
    if problems:
        raise DataError(problems, source)
    out = pd.DataFrame({"benchmark": df["benchmark"].str.strip()})
    out["n_items"] = _numeric(df, "n_items", problems, lo=1, hi=1e9, integer=True,
                              what="the number of test items, a positive integer")
    out["chance"] = _numeric(df, "chance", problems, lo=0, hi=1, hi_open=True,
                             what="the score of random guessing, a fraction in [0, 1)")
    for col in ("answer_format", "source"):
        out[col] = df[col] if col in df.columns else ""
    for i, name in enumerate(out["benchmark"]):
        if name == "":
            problems.append(Problem("empty benchmark name", row=i + 2, column="benchmark"))
    dup = out["benchmark"].duplicated(keep="first")
    for i in dup[dup].index:
        problems.append(Problem("benchmark listed twice: keep one row", row=i + 2,
                                column="benchmark", value=out.loc[i, "benchmark"]))
    if problems:
        raise DataError(problems, source)
    return out.set_index("benchmark")


def parse_enhancements(df: pd.DataFrame, source: str = "enhancements") -> pd.DataFrame:
    """Validate an enhancement registry table and return it indexed by slug.

    Parameters
    ----------
    df
        Raw table with string columns ``slug``, ``category`` and optionally
        the other :data:`ENHANCEMENT_COLUMNS`.
    source
        Name used in error messages.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``slug``.

    Raises
    ------
    DataError
        Listing every malformed row: unknown category, bad slug, bad cost.
    """
    problems = _check_columns(df, ENHANCEMENT_COLUMNS, ("slug", "category"), source)
    if problems:
        raise DataError(problems, source)
    out = pd.DataFrame({"slug": df["slug"].str.strip(), "category": df["category"].str.strip()})
    for col in ("name", "description", "source"):
        out[col] = df[col] if col in df.columns else ""
    for col, what in (("finetune_compute_fraction",
                       "fine-tuning compute as a fraction of pre-training compute"),
                      ("inference_cost_multiplier", "inference cost relative to the base model")):
        if col in df.columns:
            out[col] = _numeric(df, col, problems, lo=0, hi=1e6, what=what)
        else:
            out[col] = float("nan")
    roles = (df["role"].str.strip() if "role" in df.columns
             else pd.Series("", index=df.index)).replace("", "standalone")
    out["role"] = roles.to_numpy()
    for i, role in enumerate(out["role"]):
        if role not in ROLES:
            problems.append(Problem(
                f"unknown role; use one of {list(ROLES)} (empty = standalone)."
                f"{did_you_mean(role, ROLES)}", row=i + 2, column="role", value=role))
    for i, (slug, cat) in enumerate(zip(out["slug"], out["category"], strict=True)):
        if not slug or not slug.replace("_", "").isalnum() or slug != slug.lower():
            problems.append(Problem(
                "a slug is lower-case letters, digits and underscores (e.g. chain_of_thought)",
                row=i + 2, column="slug", value=slug))
        if slug == "base":
            problems.append(Problem("'base' is reserved for the un-enhanced condition",
                                    row=i + 2, column="slug", value=slug))
        if cat not in CATEGORIES:
            problems.append(Problem(
                f"unknown category; use one of {sorted(CATEGORIES)}."
                f"{did_you_mean(cat, CATEGORIES)}",
                row=i + 2, column="category", value=cat))
    dup = out["slug"].duplicated(keep="first")
    for i in dup[dup].index:
        problems.append(Problem("enhancement listed twice: keep one row", row=i + 2,
                                column="slug", value=out.loc[i, "slug"]))
    if problems:
        raise DataError(problems, source)
    return out.set_index("slug")


def _bundled(name: str) -> pd.DataFrame:
    with resources.files("ceg.data").joinpath(name).open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, dtype=str, keep_default_na=False)


def load_registries(
    benchmarks: Path | str | None = None,
    enhancements: Path | str | None = None,
) -> Registries:
    """Load the bundled registries, extended or overridden by user files.

    Parameters
    ----------
    benchmarks
        Optional CSV with :data:`BENCHMARK_COLUMNS`; its rows replace bundled
        rows of the same name and add new ones.
    enhancements
        Optional CSV with :data:`ENHANCEMENT_COLUMNS`; likewise by ``slug``.

    Returns
    -------
    Registries
        The merged registries.

    Raises
    ------
    DataError
        If a file is missing or malformed.
    """
    bench = parse_benchmarks(_bundled("benchmarks.csv"), "ceg/data/benchmarks.csv")
    enh = parse_enhancements(_bundled("enhancements.csv"), "ceg/data/enhancements.csv")
    if benchmarks is not None:
        user = parse_benchmarks(_read_csv(benchmarks, "benchmark registry"), str(benchmarks))
        bench = pd.concat([bench.drop(user.index, errors="ignore"), user])
    if enhancements is not None:
        user = parse_enhancements(_read_csv(enhancements, "enhancement registry"),
                                  str(enhancements))
        enh = pd.concat([enh.drop(user.index, errors="ignore"), user])
    return Registries(benchmarks=bench.sort_index(), enhancements=enh.sort_index())
