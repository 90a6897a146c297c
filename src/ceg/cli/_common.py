"""What every command shares: the console, the error guard and the progress display."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import typer
import typer.core
from rich.console import Console

from ceg.errors import CegError, CegWarning

#: Start of PyTensor's warning that it found no BLAS to link its C code against. It is
#: irrelevant to ``ceg``: nutpie compiles the model with numba, and the largest product
#: in the model is a (benchmarks x families) matrix-vector product, which the numpy
#: fallback does in microseconds. Other warnings are left alone.
BLAS_WARNING = "PyTensor could not link to a BLAS installation"


def _flag_metavar(display_type_rich):  # noqa: ANN001, ANN202
    """Wrap typer's option type display so that a flag shows no ``<bool>`` value."""

    def display(self, ctx):  # noqa: ANN001, ANN202
        if getattr(self, "is_flag", False) and not getattr(self, "count", False):
            return None
        return display_type_rich(self, ctx)

    display.ceg_flag_metavar = True  # type: ignore[attr-defined]
    return display


# typer 0.29 prints "<bool>" after every flag (--strict, --help), which reads as if the
# flag took a value ("ceg fit --strict true" then reads "true" as the data file). A flag
# takes no value, so its help line shows none.
if not getattr(typer.core.TyperOption.display_type_rich, "ceg_flag_metavar", False):
    typer.core.TyperOption.display_type_rich = _flag_metavar(  # type: ignore[method-assign]
        typer.core.TyperOption.display_type_rich)


def _click_exception_classes() -> tuple[type[Exception], ...]:
    """Return the usage-error base classes in use: click's and typer's bundled copy.

    typer >= 0.29 raises the exceptions of its bundled ``typer._click`` (and no
    longer depends on click); older typer raises click's own. Either may be absent.
    """
    classes: list[type[Exception]] = []
    try:
        from typer._click.exceptions import ClickException as bundled
    except ImportError:
        pass
    else:
        classes.append(bundled)
    try:
        from click.exceptions import ClickException
    except ImportError:
        pass
    else:
        classes.append(ClickException)
    return tuple(classes)


#: Usage errors (missing argument, bad option, ...): shown as a message, never a traceback.
_CLICK_EXCEPTIONS = _click_exception_classes()



def _stdout_width() -> int | None:
    """Return the width of standard output: the terminal's, ``COLUMNS``, or unlimited.

    Off a terminal (a pipe, a file, a log) and with no ``COLUMNS`` set, tables
    print at their full width: nothing there needs them cut to 80 columns.
    """
    import sys

    if os.environ.get("COLUMNS") or (hasattr(sys.stdout, "isatty") and sys.stdout.isatty()):
        return None  # rich's own: the terminal's width or COLUMNS
    return 10_000


console = Console(width=_stdout_width())
#: Messages are long (file, line, column, value, fix): never wrap them at 80 columns.
err_console = Console(stderr=True, soft_wrap=True)


def _show_warning(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
    if issubclass(category, CegWarning):
        err_console.print(f"[yellow]warning:[/yellow] {message}", markup=True, highlight=False)
    else:
        warnings._showwarnmsg_impl(  # type: ignore[attr-defined]
            warnings.WarningMessage(message, category, filename, lineno, file, line))


def run_guarded(app: typer.Typer, args: list[str] | None = None) -> int:
    """Run a typer app and turn a :class:`CegError` into a message and exit status.

    Parameters
    ----------
    app
        The application to run.
    args
        Command-line arguments; ``sys.argv[1:]`` by default.

    Returns
    -------
    int
        The exit status: 0, the error's ``exit_code``, or click's own status.
    """
    previous = warnings.showwarning
    warnings.showwarning = _show_warning
    _quiet_blas_warning()
    try:
        app(args=args, standalone_mode=False)
    except CegError as exc:
        err_console.print(f"error: {exc}", markup=False, highlight=False)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        err_console.print("aborted")
        return 1
    except _CLICK_EXCEPTIONS as exc:  # usage errors
        exc.show()  # type: ignore[attr-defined]
        return exc.exit_code  # type: ignore[attr-defined]
    except OSError as exc:  # a path the system refuses (permissions, a full disk, a file as folder)
        where = f" {exc.filename}" if exc.filename else ""
        err_console.print(f"error: cannot use{where}: {exc.strerror or exc}. Check that the "
                          "path exists (for input) or that its folder is writable and has "
                          "space (for output), then run the command again",
                          markup=False, highlight=False)
        return 2
    finally:
        warnings.showwarning = previous
    return 0


def _quiet_blas_warning() -> None:
    """Hide PyTensor's BLAS warning (see :data:`BLAS_WARNING`), here and in worker processes."""
    warnings.filterwarnings("ignore", message=BLAS_WARNING, category=UserWarning)
    rule = f"ignore:{BLAS_WARNING}:UserWarning"
    current = os.environ.get("PYTHONWARNINGS", "")
    if rule not in current:  # Dask workers start new interpreters, which read this
        os.environ["PYTHONWARNINGS"] = f"{current},{rule}" if current else rule


def _duration(seconds: float) -> str:
    """Return a duration as ``"42 s"``, ``"3.5 min"`` or ``"2.1 h"``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


class Tracker:
    """Progress of a loop of long steps: a rich bar on a terminal, plain lines otherwise.

    Each :meth:`step` prints its line (e.g. one SBC replication's result); off
    a terminal the line ends with the count done and left and the time per
    step, so a log shows how far a run is and how long the rest will take.

    Parameters
    ----------
    total
        Steps to do in this run.
    what
        Name of one step, e.g. ``"replication"``.
    out
        Console to print to; the command line's standard output by default.
    """

    def __init__(self, total: int, what: str, out: Console | None = None) -> None:
        self.total, self.what = total, what
        self.console = out or console
        self.done = 0
        self.start = time.monotonic()
        self._bar = None
        self._task = None

    def __enter__(self) -> Tracker:
        if self.console.is_terminal and self.total > 0:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(TextColumn(f"{self.what}s"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TextColumn("left"),
                                 TimeRemainingColumn(), console=self.console, transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task(self.what, total=self.total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None

    def status(self) -> str:
        """Return ``"3/200 done, 197 left, 41 s per replication, about 2.2 h left"``."""
        elapsed = time.monotonic() - self.start
        text = f"{self.done}/{self.total} done, {self.total - self.done} left"
        if self.done:
            per = elapsed / self.done
            text += f", {_duration(per)} per {self.what}"
            if self.done < self.total:
                text += f", about {_duration(per * (self.total - self.done))} left"
        return text

    def step(self, line: str) -> None:
        """Count one step done and print its line."""
        self.done += 1
        if self._bar is not None:
            self._bar.console.print(line, highlight=False)
            self._bar.update(self._task, completed=self.done)
        else:
            self.console.print(f"{line} [{self.status()}]", highlight=False, markup=False)


@contextmanager
def stage(text: str) -> Iterator[None]:
    """Print what a long step does, then how long it took (a spinner on a terminal).

    Parameters
    ----------
    text
        What the step does, e.g. ``"Sampling 4 chains"``.
    """
    start = time.monotonic()
    if console.is_terminal:
        with console.status(text + " ..."):
            yield
    else:
        console.print(f"{text} ...", highlight=False, markup=False)
        yield
    console.print(f"{text}: done in {_duration(time.monotonic() - start)}", highlight=False,
                  markup=False)
