"""Importers: published benchmark results turned into evaluation tables.

Each importer reads the files of one public data release from a directory and
returns a table validated by :func:`ceg.validate_table` (columns
:data:`ceg.table.ALL_COLUMNS`). What each keeps, drops and assumes is written in
its module docstring.

- :func:`import_obsscaling` -- Ruan et al. 2024, Observational Scaling Laws:
  GSM8K and BIG-Bench Hard under prompting enhancements.
- :func:`import_sloth` -- Maia Polo et al. 2024, Sloth: Open LLM Leaderboard v2
  base and instruction-tuned models.
- :func:`import_epoch` -- Epoch AI's Benchmarking Hub: reasoning training,
  reasoning effort and thinking budgets, agent scaffolds.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from ceg.errors import DataError, Problem

#: Converts a ``FLOPs (1E21)`` column of the sources into FLOP.
FLOP_UNIT = 1e21


def read_source_csv(path: Path, columns: Iterable[str], what: str) -> pd.DataFrame:
    """Read one CSV file of a data release and check that it has the columns used.

    Parameters
    ----------
    path
        The file.
    columns
        Columns the importer reads; every missing one is reported.
    what
        What the file is, for messages (e.g. "ObsScaling post-training results").

    Returns
    -------
    pandas.DataFrame
        The file as read by :func:`pandas.read_csv` (empty cells are NaN).

    Raises
    ------
    DataError
        If the file is missing or unreadable, or lacks a column; the message
        names the file and every missing column.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} file not found: expected '{path.name}' in '{path.parent}'",
                        source=str(path))
    try:
        df = pd.read_csv(path, encoding="utf-8-sig")  # some releases start with a BOM
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"cannot parse {what} as CSV ({exc})", source=str(path)) from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError([Problem(f"column missing from the {what} file: the importer needs it; "
                                 "is this an unmodified copy of the published file?", column=c)
                         for c in missing], source=str(path))
    return df


def numeric_column(df: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """Return a column as floats, with ``-1`` (the sources' "not evaluated") as NaN.

    Parameters
    ----------
    df
        Table read by :func:`read_source_csv`.
    column
        Column to convert.
    path
        The file, for messages.

    Returns
    -------
    pandas.Series
        Floats; NaN where the source is empty or ``-1``.

    Raises
    ------
    DataError
        If a cell is not a number, naming the file line and column.
    """
    raw = df[column]
    num = pd.to_numeric(raw, errors="coerce").astype(float)
    bad = num.isna() & raw.notna()
    if bad.any():
        raise DataError([Problem("not a number", row=int(i) + 2, column=column, value=raw[i])
                         for i in bad[bad].index], source=str(path))
    return num.mask(num == -1)


from ceg.importers.epoch import import_epoch  # noqa: E402
from ceg.importers.obsscaling import import_obsscaling  # noqa: E402
from ceg.importers.sloth import import_sloth  # noqa: E402

__all__ = ["FLOP_UNIT", "import_epoch", "import_obsscaling", "import_sloth", "numeric_column",
           "read_source_csv"]
