"""SBC records: the settings header and one JSON line per replication, in a folder.

The run's sampler settings (:class:`SbcSettings`) live here, beside the header
that stores them, so that :mod:`ceg.validate.sbc` imports this module and not
the other way round.

- ``sbc_settings.json``: the run's settings (spec and design digests, sampler
  settings, base seed, the quantities' names). A run in a folder that holds
  other settings is refused (:class:`SbcRecordsError`).
- ``sbc_records.jsonl``: one JSON line per replication, whatever its outcome,
  appended by the calling process alone; a torn last line (an interrupted
  write) is dropped on resume, so that replication runs again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ceg.errors import CegError
from ceg.files import write_text_atomic

if TYPE_CHECKING:
    from ceg.design import Design
    from ceg.spec import ModelSpec, SamplerName

#: Version of the records layout; a folder of another version is refused.
SBC_FORMAT = "ceg-sbc-1"
SETTINGS_FILE = "sbc_settings.json"
RECORDS_FILE = "sbc_records.jsonl"
#: Outcomes of a replication.
Status = Literal["ok", "not_converged", "failed"]
#: Header keys that must match for a run to append to existing records.
IDENTITY_KEYS = ("format", "spec_digest", "design_digest", "n_observations", "seed", "settings")


@dataclass(frozen=True)
class SbcSettings:
    """Sampler settings of each replication.

    Attributes
    ----------
    draws, tune, chains
        Per replication; smaller than a real fit, since ranks need only
        about a hundred near-independent draws.
    sampler
        ``"nutpie"`` or ``"pymc"``.
    min_ess
        A replication counts as converged when its smallest bulk and tail
        ESS over the ranked quantities reach this (the spec's R-hat,
        divergence and E-BFMI thresholds apply unchanged).
    """

    draws: int = 500
    tune: int = 500
    chains: int = 2
    sampler: SamplerName = "nutpie"
    min_ess: float = 100.0


class SbcRecordsError(CegError):
    """A records folder cannot be used: other settings, another format, or damaged."""


def names_digest(names: Iterable[str]) -> str:
    """Return a short SHA-256 of a list of quantity names (checks records line up)."""
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("ceg", "pymc", "nutpie", "numpy", "dask", "distributed"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "absent"
    return out


def make_header(spec: ModelSpec, design: Design, settings: SbcSettings, seed: int,
                names: list[str]) -> dict[str, Any]:
    """Return the settings header of a run (what ``sbc_settings.json`` holds).

    Parameters
    ----------
    spec, design, settings, seed
        The run.
    names
        The ranked quantities (:func:`quantity_names`).

    Returns
    -------
    dict
        Identity keys (:data:`IDENTITY_KEYS`) plus the spec, the quantity
        names, the package versions and the creation time.
    """
    from ceg.sampling import design_structure_digest

    return {
        "format": SBC_FORMAT,
        "spec_digest": spec.digest(),
        "design_digest": design_structure_digest(design),
        "n_observations": design.n_obs,
        "seed": int(seed),
        "settings": {**asdict(settings), "target_accept": spec.sampler.target_accept},
        "spec_name": spec.name,
        "spec": json.loads(spec.to_json()),
        "quantities": names,
        "names_sha": names_digest(names),
        "versions": _versions(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


@dataclass
class SbcRecords:
    """A run's header and its replication records, as read from a folder.

    Attributes
    ----------
    header
        The settings header (:func:`make_header`).
    records
        One dict per replication, in the order written.
    """

    header: dict[str, Any]
    records: list[dict[str, Any]]

    @property
    def names(self) -> list[str]:
        """The ranked quantities, in record order."""
        return list(self.header["quantities"])

    def by_status(self, status: Status) -> list[dict[str, Any]]:
        """Return the records of one outcome."""
        return [r for r in self.records if r["status"] == status]

    def ranked(self, converged_only: bool = False) -> list[dict[str, Any]]:
        """Return the records that carry ranks (all but failed ones), ordered by rep."""
        keep = ("ok",) if converged_only else ("ok", "not_converged")
        return sorted((r for r in self.records if r["status"] in keep), key=lambda r: r["rep"])


def _read_lines(path: Path) -> tuple[list[dict[str, Any]], bool]:
    """Read JSON lines; a torn last line (interrupted write) is dropped and reported."""
    packed = path.with_name(path.name + ".gz")
    if not path.exists() and packed.exists():  # an archived run (read only)
        import gzip

        text = gzip.decompress(packed.read_bytes()).decode()
    elif not path.exists():
        return [], False
    else:
        text = path.read_text()
    lines = text.split("\n")
    records, torn = [], False
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if i == len(lines) - 1:  # the last line, without its newline: cut off mid-write
                torn = True
                continue
            raise SbcRecordsError(f"{path}, line {i + 1}: not a JSON record; the file was "
                                  "damaged: remove that line (the replication will rerun) "
                                  "and resume") from None
    return records, torn


def read_records(folder: Path | str) -> SbcRecords:
    """Read the records of a run.

    Parameters
    ----------
    folder
        The run's folder (``--out`` of ``ceg validate sbc``); its records may
        be gzipped (``sbc_records.jsonl.gz``) to archive a finished run.

    Returns
    -------
    SbcRecords
        Header and records.

    Raises
    ------
    SbcRecordsError
        If the folder holds no run or a damaged one.
    """
    folder = Path(folder)
    head = folder / SETTINGS_FILE
    if not head.exists():
        raise SbcRecordsError(f"{folder}: no {SETTINGS_FILE} here, so no SBC run: check the "
                              "folder, or start one with 'ceg validate sbc --out FOLDER'")
    try:
        header = json.loads(head.read_text())
    except json.JSONDecodeError as exc:
        raise SbcRecordsError(f"{head}: not valid JSON ({exc}); the file was damaged") from None
    if header.get("format") != SBC_FORMAT:
        raise SbcRecordsError(f"{head}: records of format {header.get('format')!r}, this "
                              f"version of ceg reads {SBC_FORMAT!r}: rerun into a new folder")
    records, _ = _read_lines(folder / RECORDS_FILE)
    return SbcRecords(header=header, records=records)


def open_folder(folder: Path, header: dict[str, Any]) -> set[int]:
    """Create or check a records folder; return the replications already recorded.

    Parameters
    ----------
    folder
        The records folder (created if missing).
    header
        The header of the run about to start (:func:`make_header`).

    Returns
    -------
    set of int
        Replication numbers already recorded.

    Raises
    ------
    SbcRecordsError
        If the folder holds a run whose identity keys differ from ``header``'s.
    """
    folder.mkdir(parents=True, exist_ok=True)
    head = folder / SETTINGS_FILE
    if not head.exists():
        write_text_atomic(head, json.dumps(header, indent=1) + "\n")
        return set()
    old = read_records(folder).header
    differ = [k for k in IDENTITY_KEYS if old.get(k) != header.get(k)]
    if differ:
        detail = "; ".join(f"{k}: recorded {old.get(k)!r}, asked {header.get(k)!r}"
                           for k in differ)
        raise SbcRecordsError(
            f"{head}: this folder holds an SBC run with other settings ({detail}). Resume it "
            "with the same spec, design, seed and sampler settings, or write to another "
            "folder (--out)")
    path = folder / RECORDS_FILE
    records, torn = _read_lines(path)
    if torn:  # drop the half-written line so that appended records start on a new line
        write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in records))
    return {int(r["rep"]) for r in records}


__all__ = ["IDENTITY_KEYS", "RECORDS_FILE", "SBC_FORMAT", "SETTINGS_FILE", "SbcRecords",
           "SbcRecordsError", "SbcSettings", "Status", "make_header", "names_digest", "open_folder",
           "read_records"]
