"""An opt-in folder of finished fits, so that the same fit is sampled once.

A fit is a deterministic function of the table, the registries it was
validated against, the spec, the sampler settings, the integer seed and the
code (``ceg``'s own source and the versions of the libraries that sample).
When the environment variable ``CEG_FIT_CACHE`` names a folder,
:func:`ceg.fit.fit` looks there for a fit with the same key before sampling,
and stores what it sampled (NetCDF, written atomically). Unset, nothing is
cached.

It is meant for notebooks and test suites that fit the same table with the
same settings several times in separate processes (the notebook tests fit the
bundled data four times); a user who changes anything above gets a new key, so
a stale fit is never returned. The folder may be deleted at any time.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

#: The environment variable naming the cache folder.
ENV = "CEG_FIT_CACHE"


def cache_folder() -> Path | None:
    """Return the folder named by ``CEG_FIT_CACHE``, or ``None`` when it is unset or empty."""
    value = os.environ.get(ENV, "").strip()
    return Path(value) if value else None


def source_digest() -> str:
    """Return the SHA-256 of ``ceg``'s installed Python source (every ``*.py`` file).

    Part of the key, so that an editable install whose code changed does not
    reuse fits of the old code (its version number does not change).
    """
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def fit_key(*, table_sha256: str, registries_csv: str, spec_digest: str,
            sampler: dict[str, object], versions: dict[str, str]) -> str:
    """Return the cache key of a fit: a SHA-256 of everything that determines it.

    Parameters
    ----------
    table_sha256
        :func:`ceg.fit.table_digest` of the validated table.
    registries_csv
        The registry rows the fit stores (benchmarks and enhancements, as CSV).
    spec_digest
        :meth:`ceg.spec.ModelSpec.digest`.
    sampler
        The resolved sampler settings: name, draws, tune, chains, seed.
    versions
        Package versions (``ceg``, ``pymc``, ``nutpie``, ...).

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    content = {"table": table_sha256, "registries": registries_csv, "spec": spec_digest,
               "sampler": sampler, "versions": versions, "source": source_digest()}
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def entry(key: str) -> Path | None:
    """Return the cache file of ``key`` (it may not exist yet), or ``None`` without a cache.

    :func:`ceg.fit.fit` reads it with :func:`ceg.fit.load_fit` (an unreadable
    entry is sampled again and overwritten) and writes it with
    :meth:`ceg.fit.Fit.save`, which is atomic: two processes that sample the
    same key at once leave one whole file.
    """
    folder = cache_folder()
    if folder is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{key}.nc"


__all__ = ["ENV", "cache_folder", "entry", "fit_key", "source_digest"]
