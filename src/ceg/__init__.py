"""ceg: posterior distributions over the compute-equivalent gain of post-training enhancements.

The compute-equivalent gain (CEG) of an enhancement is the factor by which
pre-training compute would have to grow to improve a benchmark score as much
as the enhancement does (Davidson et al. 2023, arXiv:2312.07413).
"""

from __future__ import annotations

from ceg.dataset import load_dataset
from ceg.errors import (
    CegError,
    CegWarning,
    ConvergenceError,
    ConvergenceWarning,
    DataError,
    DataWarning,
    FitFileError,
    SpecError,
)
from ceg.registry import CATEGORIES, Registries, load_registries
from ceg.table import read_table, validate_table


def __getattr__(name: str) -> object:
    """Import ``ceg.forecast`` on first use (``ceg.forecast(fit, scenarios)``), not at import."""
    if name == "forecast":
        from importlib import import_module

        return import_module("ceg.forecast")
    raise AttributeError(f"module 'ceg' has no attribute {name!r}")


__all__ = [
    "CATEGORIES",
    "CegError",
    "CegWarning",
    "ConvergenceError",
    "ConvergenceWarning",
    "DataError",
    "DataWarning",
    "FitFileError",
    "Registries",
    "SpecError",
    "load_dataset",
    "load_registries",
    "read_table",
    "validate_table",
]
