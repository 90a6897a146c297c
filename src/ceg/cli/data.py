"""``ceg data``: validate, show and import evaluation tables."""

from __future__ import annotations

import typer

app = typer.Typer(help="Validate, show and import evaluation tables.", no_args_is_help=True)
