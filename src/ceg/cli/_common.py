"""What every command shares: the console and the error guard."""

from __future__ import annotations

import warnings

import typer
from rich.console import Console

from ceg.errors import CegError, CegWarning


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

console = Console()
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
    finally:
        warnings.showwarning = previous
    return 0
