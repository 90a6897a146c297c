"""Run records: the settings header and one JSON line per task, in a folder.

Written for SBC (one line per replication) and shared by every run of many
fits that is recorded one fit at a time and resumed (the sensitivity sweep:
one line per variant); a :class:`RecordsLayout` names the files, the format
and the key of a record. The defaults are SBC's.

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
class RecordsLayout:
    """How a kind of run keeps its records: file names, format, and each record's key.

    Attributes
    ----------
    format
        Version of the layout; a folder of another format is refused.
    settings_file, records_file
        The header (JSON) and the records (JSON lines) in the folder.
    key
        The record field that names its task (``"rep"``, ``"variant"``); a
        task whose key is recorded is not run again.
    identity_keys
        Header keys that must match for a run to append to existing records.
    run
        What the run is called in messages (``"an SBC run"``).
    start
        The command that starts one, for messages.
    resume_with
        What must be the same to resume, for messages.
    """

    format: str
    settings_file: str
    records_file: str
    key: str
    identity_keys: tuple[str, ...]
    run: str
    start: str
    resume_with: str


#: SBC's layout (the default of every function here).
SBC_LAYOUT = RecordsLayout(format=SBC_FORMAT, settings_file=SETTINGS_FILE,
                           records_file=RECORDS_FILE, key="rep", identity_keys=IDENTITY_KEYS,
                           run="an SBC run", start="ceg validate sbc --out FOLDER",
                           resume_with="spec, design, seed and sampler settings")


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


def read_records(folder: Path | str, layout: RecordsLayout = SBC_LAYOUT) -> SbcRecords:
    """Read the records of a run.

    Parameters
    ----------
    folder
        The run's folder (``--out`` of ``ceg validate sbc``); its records may
        be gzipped (``sbc_records.jsonl.gz``) to archive a finished run.
    layout
        The kind of run (SBC's by default).

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
    head = folder / layout.settings_file
    if not head.exists():
        raise SbcRecordsError(f"{folder}: no {layout.settings_file} here, so no {layout.run}: "
                              f"check the folder, or start one with '{layout.start}'")
    try:
        header = json.loads(head.read_text())
    except json.JSONDecodeError as exc:
        raise SbcRecordsError(f"{head}: not valid JSON ({exc}); the file was damaged") from None
    if header.get("format") != layout.format:
        raise SbcRecordsError(f"{head}: records of format {header.get('format')!r}, this "
                              f"version of ceg reads {layout.format!r}: rerun into a new folder")
    records, _ = _read_lines(folder / layout.records_file)
    return SbcRecords(header=header, records=records)


def open_folder(folder: Path, header: dict[str, Any],
                layout: RecordsLayout = SBC_LAYOUT) -> set[Any]:
    """Create or check a records folder; return the tasks already recorded.

    Parameters
    ----------
    folder
        The records folder (created if missing).
    header
        The header of the run about to start (:func:`make_header`).
    layout
        The kind of run (SBC's by default).

    Returns
    -------
    set
        The keys (``layout.key``: replication numbers for SBC) already recorded.

    Raises
    ------
    SbcRecordsError
        If the folder holds a run whose identity keys differ from ``header``'s.
    """
    folder.mkdir(parents=True, exist_ok=True)
    head = folder / layout.settings_file
    if not head.exists():
        write_text_atomic(head, json.dumps(header, indent=1) + "\n")
        return set()
    old = read_records(folder, layout).header
    differ = [k for k in layout.identity_keys if old.get(k) != header.get(k)]
    if differ:
        detail = "; ".join(f"{k}: recorded {old.get(k)!r}, asked {header.get(k)!r}"
                           for k in differ)
        raise SbcRecordsError(
            f"{head}: this folder holds {layout.run} with other settings ({detail}). Resume "
            f"it with the same {layout.resume_with}, or write to another folder (--out)")
    path = folder / layout.records_file
    records, torn = _read_lines(path)
    if torn:  # drop the half-written line so that appended records start on a new line
        write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in records))
    return {r[layout.key] for r in records}


def append_record(folder: Path, record: dict[str, Any], layout: RecordsLayout = SBC_LAYOUT
                  ) -> None:
    """Append one record as a JSON line, flushed to disk before returning.

    An interruption mid-write leaves a torn last line, which :func:`open_folder`
    drops (so that task runs again): a record is either whole or absent.

    Parameters
    ----------
    folder
        The records folder (:func:`open_folder` has checked it).
    record
        The task's record (JSON-serialisable).
    layout
        The kind of run (SBC's by default).
    """
    import os

    with open(folder / layout.records_file, "a") as fh:
        fh.write(json.dumps(record) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


__all__ = ["IDENTITY_KEYS", "RECORDS_FILE", "SBC_FORMAT", "SBC_LAYOUT", "SETTINGS_FILE",
           "RecordsLayout", "SbcRecords", "SbcRecordsError", "SbcSettings", "Status",
           "append_record", "make_header", "names_digest", "open_folder", "read_records"]
