"""What every command shares: the console and the error guard."""

from __future__ import annotations

import warnings

import typer
from rich.console import Console

from ceg.errors import CegError, CegWarning

console = Console()
err_console = Console(stderr=True)


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
    warnings.showwarning = _show_warning
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
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            return exc.exit_code
        raise
    return 0
