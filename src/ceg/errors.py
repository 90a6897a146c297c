"""The package's exceptions and warnings.

Every error a user can trigger is a :class:`CegError`. Each message says what is
wrong, where (file, row, column, key) and what to do about it. The command line
prints the message and exits with :attr:`CegError.exit_code`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


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
        self.problems: list[Problem] = list(problems)
        self.source = source
        n = len(self.problems)
        head = f"{source}: {n} problem{'s' if n != 1 else ''} found"
        body = "\n".join(f"  - {p.render()}" for p in self.problems)
        super().__init__(f"{head}\n{body}")


class SpecError(CegError):
    """A model specification is malformed (unknown key, bad value)."""


class FitFileError(CegError):
    """A saved fit cannot be read, or does not match what it claims to be."""


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
        val = "" if self.value is None else f" (value {self.value!r})"
        return f"{loc}{val}: {self.message}" if loc else f"{self.message}{val}"


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """Return a " Did you mean 'x'?" hint for a misspelt name, or ''."""
    import difflib

    match = difflib.get_close_matches(str(word), sorted(set(options)), n=1, cutoff=0.6)
    return f" Did you mean '{match[0]}'?" if match else ""
