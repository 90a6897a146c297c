"""The evaluation table: the one input format of ``ceg``.

One row per measured (model, benchmark, condition). :func:`validate_table`
checks a raw table against the schema and the registries and returns a new,
normalised table; it never drops, coerces or reorders silently, and it lists
every problem at once in a single :class:`~ceg.errors.DataError`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from ceg.errors import MAX_VALUE, DataError, DataWarning, Problem, did_you_mean, shorten
from ceg.registry import Registries, load_registries

#: Columns every table must have.
REQUIRED_COLUMNS = ("family", "model", "train_flop", "benchmark", "condition", "score")
#: Columns a table may have.
OPTIONAL_COLUMNS = ("train_flop_log10_sd", "n_items", "chance", "source", "setting")
ALL_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
NUMERIC_COLUMNS = ("train_flop", "score", "train_flop_log10_sd", "n_items", "chance")
TEXT_COLUMNS = ("family", "model", "benchmark", "condition", "source", "setting")
#: The condition of a row with no enhancement.
BASE = "base"
#: Separator of stacked enhancements in ``condition``.
STACK = "+"
#: Plausible pre-training compute, in FLOP: outside it the unit is probably wrong.
TRAIN_FLOP_RANGE = (1e15, 1e30)
#: Key that makes a row unique.
ROW_KEY = ("family", "model", "benchmark", "condition", "source", "setting")

_FIX = {
    "score_range": "a score is a fraction in [0, 1]",
    "flop_positive": "train_flop must be > 0 (pre-training compute in FLOP)",
    "flop_range": (f"outside {TRAIN_FLOP_RANGE[0]:.0e}..{TRAIN_FLOP_RANGE[1]:.0e}: probably not "
                   "FLOP (give total pre-training FLOP, e.g. 3.14e23 for GPT-3 175B)"),
    "sd_range": "train_flop_log10_sd is a standard deviation in log10 units: 0 <= sd <= 3",
    "n_items_integer": "n_items is a positive whole number of test items",
    "chance_range": "chance is the score of random guessing, a fraction in [0, 1)",
    "not_nullable": "missing value: fill it in",
}

_SCHEMA = pa.DataFrameSchema(
    {
        # empty train_flop and score are reported (once, as "empty") before the schema
        # runs; nullable here so the range checks still run on every row
        "train_flop": pa.Column(float, [
            pa.Check.gt(0, error="flop_positive"),
            pa.Check(lambda s: (s <= 0) | s.between(*TRAIN_FLOP_RANGE), error="flop_range"),
        ], nullable=True),
        "score": pa.Column(float, pa.Check.in_range(0.0, 1.0, error="score_range"),
                           nullable=True),
        "train_flop_log10_sd": pa.Column(float, pa.Check.in_range(0.0, 3.0, error="sd_range"),
                                         nullable=True, required=False),
        "n_items": pa.Column(float, pa.Check(lambda s: (s >= 1) & (s == np.round(s)),
                                             error="n_items_integer"),
                             nullable=True, required=False),
        "chance": pa.Column(float, pa.Check(lambda s: (s >= 0) & (s < 1), error="chance_range"),
                            nullable=True, required=False),
    },
    strict=False,
)


def normalise_condition(condition: str) -> str:
    """Return a condition with its enhancements sorted, so order does not matter.

    Parameters
    ----------
    condition
        ``"base"`` or slugs joined by ``"+"``, e.g. ``"self_consistency+chain_of_thought"``.

    Returns
    -------
    str
        ``"base"``, or the sorted slugs joined by ``"+"``.
    """
    text = str(condition).strip()
    if text == BASE:
        return BASE
    parts = sorted({p.strip() for p in text.split(STACK)})
    return STACK.join(parts)


def enhancements_of(condition: str) -> list[str]:
    """Return the enhancement slugs of a (normalised) condition; ``[]`` for base."""
    return [] if condition == BASE else condition.split(STACK)


class _Locator:
    """Turns a row position into a location for messages.

    For a table read from a file, the index labels are the rows' positions in
    the file as ``pandas.read_csv`` numbers them with blank lines kept (see
    :func:`read_table`), so a row's line is its label + 2 (the header is line 1).
    """

    def __init__(self, df: pd.DataFrame, from_file: bool) -> None:
        self.from_file = from_file
        self.labels = list(df.index)

    def __call__(self, pos: int) -> dict:
        if self.from_file:
            return {"row": int(self.labels[pos]) + 2, "row_word": "line"}
        return {"row": self.labels[pos], "row_word": "row"}


def _leading_blank_lines(path: Path) -> int:
    """Count the blank lines before the header of a CSV file."""
    n = 0
    with path.open("rb") as fh:
        for line in fh:
            if line.removeprefix(b"\xef\xbb\xbf").strip():
                break
            n += 1
    return n


def read_table(
    path: Path | str,
    registries: Registries | None = None,
) -> pd.DataFrame:
    """Read and validate an evaluation table from a CSV file.

    Parameters
    ----------
    path
        CSV file with the columns of :data:`REQUIRED_COLUMNS` (and optionally
        :data:`OPTIONAL_COLUMNS`).
    registries
        Benchmark and enhancement registries; the bundled ones by default.

    Returns
    -------
    pandas.DataFrame
        The validated, normalised table (see :func:`validate_table`).

    Raises
    ------
    DataError
        If the file is missing, unreadable, or fails validation; the message
        names the file, line, column, value and fix of every problem.
    """
    path = Path(path)
    try:
        skip = _leading_blank_lines(path)
        _check_delimiter(_header_line(path, skip), path)
        # blank lines are kept while reading so that each row's index label stays its
        # position in the file (line = label + 2); fully blank rows are dropped after
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False,
                          skiprows=skip)
    except FileNotFoundError:
        raise DataError("file not found: check the path", source=str(path)) from None
    except IsADirectoryError:
        raise DataError("is a directory: give a CSV file", source=str(path)) from None
    except pd.errors.EmptyDataError:
        raise DataError(f"the file is empty: a table starts with a header line of its columns "
                        f"({', '.join(REQUIRED_COLUMNS)}, ...)", source=str(path)) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot parse as CSV ({' '.join(str(exc).split())}); save it as "
                        "UTF-8 CSV",
                        source=str(path)) from None
    if not isinstance(raw.index, pd.RangeIndex):  # pandas took the extra fields as an index
        raise DataError(f"the rows have more fields than the header's {len(raw.columns)} "
                        "names: a column name is missing from the header, or a value holds an "
                        "unquoted comma (quote it: \"1,000\")", source=str(path))
    raw.index = raw.index + skip
    blank = _as_text(raw).eq("").all(axis=1)
    return validate_table(raw.loc[~blank], registries, source=str(path), from_file=True)


#: Separators other than the comma that spreadsheets write, and their names.
_OTHER_SEPARATORS = {";": "semicolon", "\t": "tab", "|": "vertical bar"}


def _header_line(path: Path, skip: int) -> str:
    """Return the header line of a CSV file (after ``skip`` blank lines), as text."""
    with path.open("rb") as fh:
        for i, line in enumerate(fh):
            if i == skip:
                return line.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "replace").strip()
    return ""


def _check_delimiter(header: str, path: Path) -> None:
    """Refuse a file whose header has no comma but another separator (``;``, tab, ``|``)."""
    if "," in header:
        return
    found = [(header.count(sep), word, sep) for sep, word in _OTHER_SEPARATORS.items()
             if header.count(sep)]
    if found:
        _, word, sep = max(found)
        raise DataError(
            f"the header {shorten(repr(header), MAX_VALUE)} has no comma: the file looks "
            f"{word}-separated ({sep!r}), and ceg reads comma-separated CSV; save it with "
            "commas (in pandas: pd.read_csv(path, sep=...).to_csv(new_path, index=False))",
            source=str(path))


def _is_missing(value: object) -> bool:
    """Whether a cell holds a missing value: None, NaN, ``pd.NA`` or ``NaT``."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, (float, np.floating)):
        return bool(np.isnan(value))
    if isinstance(value, (np.datetime64, np.timedelta64)):
        return bool(np.isnat(value))
    return False


def _as_text(df: pd.DataFrame) -> pd.DataFrame:
    """Return the table as stripped text, with every missing value as ``""``."""
    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        values = df[col].astype(object)
        out[col] = values.map(lambda v: "" if _is_missing(v) else str(v).strip()).astype(object)
    return out


def validate_table(
    table: pd.DataFrame,
    registries: Registries | None = None,
    *,
    source: str = "table",
    from_file: bool = False,
) -> pd.DataFrame:
    """Validate an evaluation table and return a normalised copy.

    The input is not modified. The returned table has every column of
    :data:`ALL_COLUMNS`, float numeric columns, conditions with sorted slugs,
    ``n_items`` and ``chance`` filled from the benchmark registry where the
    row leaves them empty, ``train_flop_log10_sd`` 0 where empty, and a
    fresh ``RangeIndex``.

    Parameters
    ----------
    table
        Raw table; values may be strings or numbers.
    registries
        Benchmark and enhancement registries; the bundled ones by default.
    source
        Name of the table in messages (a path, usually).
    from_file
        Whether positions should be reported as file lines (header = line 1).

    Returns
    -------
    pandas.DataFrame
        The validated table.

    Raises
    ------
    DataError
        Listing every problem found, each with line (or row), column, value
        and fix.

    Warns
    -----
    DataWarning
        For family-benchmark pairs whose base rows come from one model size
        only (a curve cannot be estimated from them alone).
    """
    reg = registries if registries is not None else load_registries()
    loc = _Locator(table, from_file)
    problems: list[Problem] = []

    for col in table.columns:
        if col not in ALL_COLUMNS:
            problems.append(Problem(
                f"unknown column; the columns are {list(ALL_COLUMNS)}."
                f"{did_you_mean(str(col), ALL_COLUMNS)} Remove or rename it.",
                column=str(col)))
    missing = [col for col in REQUIRED_COLUMNS if col not in table.columns]
    for col in missing:
        problems.append(Problem("required column is missing: add it", column=col))
    if missing:
        raise DataError(problems, source)
    # unknown columns do not stop here: they are reported with the rows' problems
    if len(table) == 0:
        raise DataError("the table has no rows", source)

    raw = _as_text(table)
    out = pd.DataFrame(index=pd.RangeIndex(len(raw)))
    for col in TEXT_COLUMNS:
        out[col] = raw[col].to_numpy() if col in raw.columns else ""
    for col in ("family", "model", "benchmark", "condition"):
        for pos, v in enumerate(out[col]):
            if v == "":
                problems.append(Problem("empty: fill it in", column=col, **loc(pos)))

    for col in NUMERIC_COLUMNS:
        text = raw[col].to_numpy() if col in raw.columns else np.full(len(raw), "")
        num = pd.to_numeric(pd.Series(text).replace("", None), errors="coerce").astype(float)
        for pos, (t, v) in enumerate(zip(text, num, strict=True)):
            if t != "" and np.isnan(v):
                problems.append(Problem("not a number", column=col, value=t, **loc(pos)))
            elif t == "" and col in REQUIRED_COLUMNS:
                problems.append(Problem("empty: fill it in", column=col, **loc(pos)))
        out[col] = num.to_numpy()

    try:
        _SCHEMA.validate(out, lazy=True)
    except pa.errors.SchemaErrors as err:
        for case in err.failure_cases.to_dict("records"):
            pos = case["index"]
            if pos is None or (isinstance(pos, float) and np.isnan(pos)):
                continue
            pos = int(pos)
            msg = _FIX.get(case["check"], str(case["check"]))
            value = case["failure_case"]
            if case["check"] == "score_range" and 1 < float(value) <= 100:
                msg += ": looks like a percentage, divide by 100"
            problems.append(Problem(msg, column=case["column"], value=value, **loc(pos)))

    out["condition"] = [normalise_condition(c) if c else c for c in out["condition"]]
    known = set(reg.enhancements.index)
    hints: dict[str, str] = {}  # one "did you mean" per distinct unknown slug
    for pos, cond in enumerate(out["condition"]):
        for slug in enhancements_of(cond) if cond else []:
            if slug not in known:
                if slug not in hints:
                    hints[slug] = did_you_mean(slug, known | {BASE})
                problems.append(Problem(
                    f"unknown enhancement '{slug}'.{hints[slug]} Use "
                    "'base' or registered slugs joined by '+', or add it to an enhancement "
                    "registry (--enhancements FILE)", column="condition", value=cond, **loc(pos)))

    _check_benchmark_metadata(out, reg, problems, loc)
    _check_models(out, problems, loc)
    _check_duplicates(out, problems, loc)
    _check_identifiable(out, problems, loc)
    if problems:
        raise DataError(problems, source)

    out["train_flop_log10_sd"] = out["train_flop_log10_sd"].fillna(0.0)
    _warn_single_size(out, source)
    return out[list(ALL_COLUMNS)]


def _name_key(name: str) -> str:
    """Return a name without case or punctuation: 'GSM-8K' and 'gsm8k' give 'gsm8k'."""
    import re

    return re.sub(r"[^0-9a-z]", "", str(name).lower())


def suggest_benchmark(name: str, known: list[str]) -> str | None:
    """Return the registered benchmark a table's unknown name most likely means, if any.

    Parameters
    ----------
    name
        A benchmark name not in the registry.
    known
        The registered names.

    Returns
    -------
    str or None
        The name equal to ``name`` up to case and punctuation, else the
        closest such name by spelling (difflib, cutoff 0.8), else None.
    """
    import difflib

    keys: dict[str, str] = {}
    for k in sorted(known):
        keys.setdefault(_name_key(k), k)
    key = _name_key(name)
    if key in keys:
        return keys[key]
    close = difflib.get_close_matches(key, list(keys), n=1, cutoff=0.8)
    return keys[close[0]] if close else None


def _values(vals: list) -> str:
    """Return a list of values for a message: the first five, and how many more."""
    vals = sorted(vals)
    more = f" and {len(vals) - 5} more" if len(vals) > 5 else ""
    return f"{vals[:5]}{more}"


def _check_benchmark_metadata(out: pd.DataFrame, reg: Registries, problems: list[Problem],
                              loc: _Locator) -> None:
    known = list(reg.benchmarks.index)
    reported = set()
    for bench, idx in out.groupby("benchmark").groups.items():
        if bench == "" or bench in reg.benchmarks.index:
            continue
        guess = suggest_benchmark(str(bench), known)
        if guess is None:
            continue
        complete = all(out.loc[idx, c].notna().any() for c in ("n_items", "chance"))
        text = (f"benchmark '{bench}' is not registered. Did you mean '{guess}'? Names must "
                "match the registry exactly (case and punctuation included)")
        if complete:  # the table describes it fully: a new benchmark, or a typo
            warnings.warn(f"{text}; as given, '{bench}' is fitted as a separate benchmark",
                          DataWarning, stacklevel=3)
            continue
        reported.add(bench)
        problems.append(Problem(
            f"{text}; if it is a new benchmark, give its n_items and chance in the table or "
            "in a benchmark registry (--benchmarks FILE)", column="benchmark", value=bench,
            **loc(int(idx[0]))))
    for col, what in (("n_items", "the number of test items"),
                      ("chance", "the score of random guessing (0 for free-form answers)")):
        filled = out[col].copy()
        for bench, idx in out.groupby("benchmark").groups.items():
            if bench == "" or bench in reported:  # reported already
                continue
            vals = out.loc[idx, col].dropna().unique()
            if len(vals) > 1:
                first = out.loc[idx, col].first_valid_index()
                problems.append(Problem(
                    f"benchmark '{bench}' has different {col} values {_values(vals.tolist())}: "
                    f"one benchmark has one {col}; if these are different test sets, give them "
                    "different benchmark names", column=col, **loc(int(first))))
                continue
            reg_val = (reg.benchmarks.at[bench, col] if bench in reg.benchmarks.index
                       else np.nan)
            fill = vals[0] if len(vals) else reg_val
            if np.isnan(fill):
                problems.append(Problem(
                    f"benchmark '{bench}' has no {col} in the table or the benchmark "
                    f"registry: give {what} in the '{col}' column or in a benchmark registry "
                    "(--benchmarks FILE)", column="benchmark", value=bench,
                    **loc(int(idx[0]))))
                continue
            filled.loc[idx] = fill
        out[col] = filled


def _check_models(out: pd.DataFrame, problems: list[Problem], loc: _Locator) -> None:
    for (fam, model), idx in out.groupby(["family", "model"]).groups.items():
        if "" in (fam, model):  # reported as empty already
            continue
        for col in ("train_flop", "train_flop_log10_sd"):
            vals = out.loc[idx, col].dropna().unique()
            if len(vals) > 1:
                problems.append(Problem(
                    f"model '{model}' of family '{fam}' has several {col} values "
                    f"{_values(vals.tolist())}: a model has one pre-training compute; use one "
                    "value (the base model's, for a fine-tuned model)", column=col,
                    **loc(int(idx[0]))))


def _check_duplicates(out: pd.DataFrame, problems: list[Problem], loc: _Locator) -> None:
    dup = np.flatnonzero(out.duplicated(subset=list(ROW_KEY), keep="first").to_numpy())
    for pos, r in zip(dup, out.iloc[dup].itertuples(index=False), strict=True):
        problems.append(Problem(
            f"duplicate row: ({r.family}, {r.model}, {r.benchmark}, {r.condition}, "
            f"source={r.source!r}, setting={r.setting!r}) appears more than once; remove the "
            "copy or tell the rows apart in 'setting'", **loc(int(pos))))


def _check_identifiable(out: pd.DataFrame, problems: list[Problem], loc: _Locator) -> None:
    # rows with an empty family, benchmark or condition are reported as empty already
    has_base = set(out.loc[out["condition"] == BASE, ["family", "benchmark"]]
                   .itertuples(index=False, name=None))
    for pos, r in enumerate(out.itertuples(index=False)):
        if "" in (r.family, r.benchmark, r.condition):
            continue
        if r.condition != BASE and (r.family, r.benchmark) not in has_base:
            problems.append(Problem(
                f"enhanced row with no 'base' row for family '{r.family}' on benchmark "
                f"'{r.benchmark}': its shift cannot be identified; add base rows for that "
                "family and benchmark, or remove the row", column="condition",
                value=r.condition, **loc(pos)))


def _warn_single_size(out: pd.DataFrame, source: str) -> None:
    base = out[out["condition"] == BASE]
    sizes = base.groupby(["family", "benchmark"])["train_flop"].nunique()
    single = sizes[sizes == 1]
    if len(single):
        pairs = ", ".join(f"{f}/{b}" for f, b in single.index[:8])
        more = f" and {len(single) - 8} more" if len(single) > 8 else ""
        warnings.warn(
            f"{source}: {len(single)} family/benchmark pair(s) have base rows at one model size "
            f"only ({pairs}{more}); their curve comes from other families through pooling, "
            "so their CEGs lean on the model's assumptions",
            DataWarning, stacklevel=3)
