"""The ``ceg`` command line.

A thin layer over the Python API: every command parses its options, calls the
API and prints the result. Heavy imports (PyMC) happen inside commands so that
``ceg --help`` is instant. A :class:`~ceg.errors.CegError` is printed as a
message, never a traceback, and the process exits with its ``exit_code``
(2 for bad input, 3 for a fit that did not converge under ``--strict``).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ceg.cli._common import console, run_guarded
from ceg.cli.data import app as data_app

app = typer.Typer(
    name="ceg",
    help="Posterior compute-equivalent gains (CEG) of post-training enhancements.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(data_app, name="data")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        console.print(f"ceg {version('ceg')}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Posterior compute-equivalent gains (CEG) of post-training enhancements."""


def _register_optional() -> None:
    """Attach command groups whose modules exist (the model and report commands)."""
    try:
        from ceg.cli import model as model_cli
    except ImportError:  # pragma: no cover - only while the model commands are absent
        return
    model_cli.register(app)
    from ceg.cli import report as report_cli

    report_cli.register(app)
    from ceg.cli import validate as validate_cli

    validate_cli.register(app)
    from ceg.cli import sensitivity as sensitivity_cli

    sensitivity_cli.register(app)
    from ceg.cli import forecast as forecast_cli

    forecast_cli.register(app)


_register_optional()


def main() -> None:
    """Entry point of the ``ceg`` executable."""
    sys.exit(run_guarded(app))
