"""The bundled evaluation table behind Davidson et al. (2023)."""

from __future__ import annotations

import warnings
from importlib import resources

import pandas as pd

from ceg.errors import DataWarning
from ceg.registry import Registries, load_registries
from ceg.table import validate_table

#: File name of the bundled table inside ``ceg/data``.
DATASET_FILE = "davidson2023.csv"


def load_dataset(registries: Registries | None = None, *, quiet: bool = True) -> pd.DataFrame:
    """Return the curated evaluation table behind Davidson et al. (2023), validated.

    See ``docs/dataset.md`` for what it holds, where every row comes from, and
    every row of the source transcription left out and why.

    Parameters
    ----------
    registries
        Registries to validate against; the bundled ones by default.
    quiet
        Silence the known, documented data warnings (single-size families).

    Returns
    -------
    pandas.DataFrame
        The validated table (columns :data:`ceg.table.ALL_COLUMNS`).
    """
    with resources.files("ceg.data").joinpath(DATASET_FILE).open("r", encoding="utf-8") as fh:
        raw = pd.read_csv(fh, dtype=str, keep_default_na=False)
    reg = registries if registries is not None else load_registries()
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore", DataWarning)
        return validate_table(raw, reg, source=f"ceg/data/{DATASET_FILE}", from_file=True)
