"""The package's exceptions and warnings.

Every error a user can trigger is a :class:`CegError`. Each message says what is
wrong, where (file, row, column, key) and what to do about it. The command line
prints the message and exits with :attr:`CegError.exit_code`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache


class CegError(Exception):
    """Base class of every error raised on purpose by ``ceg``."""

    exit_code: int = 2


class DataError(CegError):
    """An evaluation table or registry is malformed.

    Parameters
    ----------
    problems
        One :class:`Problem` per thing that is wrong; all of them are listed.
    source
        Where the data came from (a path, or a description such as "table").
    """

    def __init__(self, problems: Iterable[Problem] | str, source: str = "table") -> None:
        if isinstance(problems, str):
            problems = [Problem(message=problems)]
        #: Every problem, whole-table ones first, then in line (or row) order.
        self.problems: list[Problem] = sorted(problems, key=_position)
        self.source = source
        super().__init__(render_problems(self.problems, source))


class SpecError(CegError):
    """A model specification is malformed (unknown key, bad value)."""


class FitFileError(CegError):
    """A saved fit cannot be read, or does not match what it claims to be."""


class SamplerStartError(CegError):
    """The sampler could not start (no finite log density and gradient at its starts)."""


class ConvergenceError(CegError):
    """A fit did not converge and the caller asked for strictness."""

    exit_code = 3


class CegWarning(UserWarning):
    """Base class of warnings issued by ``ceg``."""


class DataWarning(CegWarning):
    """Data that can be fitted but deserves attention."""


class ConvergenceWarning(CegWarning):
    """A fit that did not meet the convergence thresholds."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a table, located as precisely as possible.

    Parameters
    ----------
    message
        What is wrong and what to do.
    row
        Line number in the file (1 = header), or the row label of an
        in-memory table, if the problem is in one row.
    column
        Column name, if the problem is in one column.
    value
        The offending value, if there is one.
    """

    message: str
    row: int | None = None
    column: str | None = None
    value: object = None
    row_word: str = "line"

    def render(self) -> str:
        """Return the problem as one line: location, value, message."""
        where = []
        if self.row is not None:
            where.append(f"{self.row_word} {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        loc = ", ".join(where)
        val = "" if self.value is None else f" (value {shorten(repr(self.value), MAX_VALUE)})"
        return f"{loc}{val}: {self.message}" if loc else f"{self.message}{val}"


#: Problems a message lists one by one; the rest are counted by column and kind.
MAX_LISTED = 50
#: Longest line of a message, and longest value shown in one.
MAX_LINE, MAX_VALUE = 300, 60


def _position(problem: Problem) -> tuple:
    """Sort key: problems of the whole table or a column first, then by line or row."""
    row = problem.row
    if row is None:
        return (0, 0, "")
    if isinstance(row, (int, float)) and not isinstance(row, bool):
        return (1, row, "")
    return (2, 0, str(row))


@lru_cache(maxsize=4096)
def _kind(message: str) -> str:
    """Return what a problem is, without its particulars: "not a number", "unknown enhancement"."""
    import re

    text = re.sub(r"'[^']*'|\[[^\]]*\]", "…", message)
    return re.split(r"[:.;(]\s", text + " ", maxsplit=1)[0].strip()


def shorten(text: str, limit: int = MAX_LINE) -> str:
    """Return ``text`` cut to ``limit`` characters, ending in "…" when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_problems(problems: list[Problem], source: str) -> str:
    """Return the message of a list of problems: a count, then at most :data:`MAX_LISTED`.

    Parameters
    ----------
    problems
        The problems, in the order to list them.
    source
        Where they were found (a path, usually).

    Returns
    -------
    str
        One line per listed problem (each at most :data:`MAX_LINE` characters);
        the problems beyond the first :data:`MAX_LISTED` are counted by column
        and kind, most frequent first.
    """
    from collections import Counter

    n = len(problems)
    lines = [f"{source}: {n} problem{'s' if n != 1 else ''} found"
             + (f"; the first {MAX_LISTED} by line:" if n > MAX_LISTED else "")]
    lines += [f"  - {shorten(p.render())}" for p in problems[:MAX_LISTED]]
    rest = problems[MAX_LISTED:]
    if rest:
        counts = Counter((p.column, _kind(p.message)) for p in rest)
        lines.append(f"  ... and {len(rest)} more:")
        for (column, kind), k in counts.most_common(20):
            where = f"column '{column}': " if column is not None else ""
            lines.append(f"    {k} x {shorten(where + kind, MAX_LINE - 12)}")
        others = counts.most_common()[20:]
        if others:
            lines.append(f"    {sum(k for _, k in others)} more of {len(others)} other kinds")
    return "\n".join(lines)


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """Return a " Did you mean 'x'?" hint for a misspelt name, or ''."""
    import difflib

    match = difflib.get_close_matches(str(word), sorted(set(options)), n=1, cutoff=0.6)
    return f" Did you mean '{match[0]}'?" if match else ""
