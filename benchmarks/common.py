"""Shared pieces of the benchmark suite: settings, datasets, machine facts, workers, JSON.

Every timed fit runs in a fresh worker process (``python -m benchmarks.worker``),
so "cold" really is cold: interpreter start, imports, compilation and sampling.
The parent records the launch time and the worker reports absolute timestamps
(same machine clock), so the cold wall time includes everything the user waits for.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

#: Repository root (the parent of ``benchmarks/``).
REPO = Path(__file__).resolve().parents[1]
#: The three-benchmark slice of the bundled dataset used by ``--quick`` (148 rows: several
#: families and sources, latent compute, stacked conditions, four categories).
SLICE = ("ASDiv", "GSM8K", "SVAMP")
#: Where the ObsScaling release lives (``ceg data import obsscaling`` reads it).
OBSSCALING_DIR = Path(os.environ.get("CEG_OBSSCALING_DIR", REPO.parent / "shared" / "data"
                                     / "obsscaling"))
#: The ObsScaling slice of ``--quick``: GSM8K (four conditions) and two BBH tasks.
OBSSCALING_SLICE = ("GSM8K", "BBH boolean_expressions", "BBH date_understanding")
#: Packages whose versions every result records.
PACKAGES = ("ceg", "pymc", "pytensor", "nutpie", "numba", "arviz", "numpy", "scipy", "pandas",
            "xarray", "pystan", "httpstan", "numpyro", "jax", "jaxlib")


@dataclass(frozen=True)
class Settings:
    """What one run of the suite does (``--quick`` or the issue's full settings).

    Attributes
    ----------
    mode
        ``"quick"`` (small smoke settings) or ``"full"`` (the issue's settings).
    draws, tune, chains, seed
        Sampler settings of every fit (``target_accept`` comes from the spec).
    model
        Spec of the bundled-data and ObsScaling fits: a name in ``models/`` or a path
        (the default model unless a candidate is being timed).
    warm
        Also time a second, warm fit in the same process.
    dataset
        Dataset of the bundled-data, sampler and Stan benchmarks: ``"bundled"``
        or ``"slice"`` (the three benchmarks of :data:`SLICE`).
    obsscaling
        ``"obsscaling"`` (the whole import) or ``"obsscaling-slice"``.
    sizes
        Target numbers of observations of the synthetic designs.
    fit_sizes
        The synthetic sizes that are also fitted (the rest only timed).
    grad_evals
        Log-density-and-gradient evaluations timed at 1,000 observations
        (scaled down in proportion at larger sizes, at least 50).
    """

    mode: str
    draws: int
    tune: int
    chains: int
    seed: int = 20231212
    model: str = "default"
    warm: bool = True
    dataset: str = "bundled"
    obsscaling: str = "obsscaling"
    sizes: tuple[int, ...] = (1_000, 10_000, 100_000)
    fit_sizes: tuple[int, ...] = (1_000, 10_000, 100_000)
    grad_evals: int = 3000
    samplers: tuple[str, ...] = ("nutpie", "nutpie-lowrank", "pymc", "numpyro")
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def full(cls, model: str = "default") -> Settings:
        """The issue's settings: 4 chains x 1000 draws, full datasets.

        Tuning is the spec's (what ``ceg fit`` does): the issue fixes the draws, the
        tuning a converged fit needs is ours to choose.
        """
        from ceg.spec import ModelSpec

        return cls(mode="full", draws=1000, tune=ModelSpec.load(model).sampler.tune,
                   chains=4, model=model)

    @classmethod
    def quick(cls) -> Settings:
        """Smoke settings (minutes): 2 chains x 200 draws on slices; no large fits."""
        return cls(mode="quick", draws=200, tune=200, chains=2, dataset="slice",
                   obsscaling="obsscaling-slice", sizes=(1_000, 10_000), fit_sizes=(1_000,),
                   grad_evals=1000)

    def as_dict(self) -> dict[str, Any]:
        """Plain data, for the JSON."""
        return asdict(self)


def load_table(dataset: str):
    """Return the validated evaluation table of a named dataset.

    Parameters
    ----------
    dataset
        ``"bundled"``, ``"slice"``, ``"obsscaling"``, ``"obsscaling-slice"``,
        ``"synthetic:<n>[:<seed>]"`` (see :mod:`benchmarks.synthetic`) or a CSV path.

    Returns
    -------
    pandas.DataFrame
        The table (validated against the bundled registries).
    """
    import warnings

    import ceg
    from ceg.errors import DataWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        if dataset in ("bundled", "slice"):
            table = ceg.load_dataset()
            if dataset == "slice":
                table = ceg.validate_table(
                    table[table["benchmark"].isin(SLICE)].reset_index(drop=True))
            return table
        if dataset in ("obsscaling", "obsscaling-slice"):
            from ceg.importers.obsscaling import import_obsscaling

            table = import_obsscaling(OBSSCALING_DIR)
            if dataset == "obsscaling-slice":
                table = ceg.validate_table(
                    table[table["benchmark"].isin(OBSSCALING_SLICE)].reset_index(drop=True))
            return table
        if dataset.startswith("synthetic:"):
            from benchmarks.synthetic import synthetic_table

            parts = dataset.split(":")
            seed = int(parts[2]) if len(parts) > 2 else 1
            return synthetic_table(int(parts[1]), seed=seed).table
        return ceg.read_table(dataset)


def machine() -> dict[str, Any]:
    """Return the CPU model, cores, RAM, OS and load of this machine."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram_gb = round(int(line.split()[1]) / 1024**2, 1)
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {"cpu": cpu, "logical_cores": os.cpu_count(), "usable_cores": usable,
            "ram_gb": ram_gb, "os": platform.platform(), "python": sys.version.split()[0],
            "load_average_at_start": load, "niceness": os.nice(0) if hasattr(os, "nice") else None}


def versions() -> dict[str, str]:
    """Return the installed versions of :data:`PACKAGES` (``"not installed"`` if absent)."""
    out = {"python": sys.version.split()[0]}
    for pkg in PACKAGES:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def git_state() -> dict[str, Any]:
    """Return the repository's commit and whether the working tree differs from it."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                                  check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    return {"commit": git("rev-parse", "HEAD"),
            "dirty_files": [ln[3:] for ln in git("status", "--porcelain").splitlines()
                            if ln[3:].startswith(("src/", "models/", "benchmarks/"))]}


def write_json(path: Path, obj: dict[str, Any]) -> Path:
    """Write ``obj`` as indented JSON, atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    from ceg.files import write_text_atomic

    text = json.dumps(obj, indent=2, sort_keys=False, default=_jsonable) + "\n"
    return write_text_atomic(path, text)


def _jsonable(x: Any) -> Any:
    import numpy as np

    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return None if not np.isfinite(x) else float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON-serialisable: {type(x)}")


class WorkerError(RuntimeError):
    """A worker process failed; the message ends with the tail of its output."""


def run_worker(command: str, args: list[str], *, env: dict[str, str] | None = None,
               log_dir: Path | None = None, timeout: float | None = None) -> dict[str, Any]:
    """Run ``python -m benchmarks.worker <command> <args>`` and return its JSON result.

    Parameters
    ----------
    command
        Worker command (``fit``, ``sample``, ``stan``, ``gradient``).
    args
        Its arguments.
    env
        Extra environment variables.
    log_dir
        Where to keep the worker's stdout/stderr (a temporary folder by default).
    timeout
        Seconds before the worker is stopped.

    Returns
    -------
    dict
        The worker's result, plus ``launch_time`` (parent clock, just before
        the process started) and ``worker_log``.

    Raises
    ------
    WorkerError
        If the worker exits with an error.
    """
    log_dir = Path(log_dir or tempfile.mkdtemp(prefix="ceg-bench-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{command}-{int(time.time() * 1000)}"
    out_json = log_dir / f"{stem}.json"
    log = log_dir / f"{stem}.log"
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join([str(REPO), full_env.get("PYTHONPATH", "")])
    launch = time.time()
    cmd = [sys.executable, "-m", "benchmarks.worker", command, *args,
           "--launch-time", repr(launch), "--out", str(out_json)]
    with log.open("w") as fh:
        proc = subprocess.run(cmd, cwd=REPO, env=full_env, stdout=fh, stderr=subprocess.STDOUT,
                              timeout=timeout, check=False)
    if proc.returncode != 0 or not out_json.exists():
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        raise WorkerError(f"worker {command} {' '.join(args)} failed (exit {proc.returncode});"
                          f" log {log}:\n{tail}")
    result = json.loads(out_json.read_text())
    result["launch_time"] = launch
    result["worker_log"] = str(log)
    return result


def rate(numerator: float | None, seconds: float | None) -> float | None:
    """Return ``numerator / seconds``, or None when either is missing or zero."""
    if numerator is None or not seconds:
        return None
    return numerator / seconds


def ratio(a: float | None, b: float | None) -> float | None:
    """Return ``a / b``, or None when either is missing or ``b`` is zero."""
    if a is None or b is None or b == 0:
        return None
    return a / b


@dataclass
class Result:
    """What one benchmark found: printed as tables, written as JSON.

    Attributes
    ----------
    name
        The benchmark's name (``--only NAME``; the JSON is ``<name>.json``).
    description
        One sentence: what it measures.
    results
        The raw numbers (every worker's JSON, comparisons, ratios).
    tables
        Titled tables of rows (dicts with the same keys) for the terminal.
    targets
        The issue's targets: ``{"target", "value", "limit", "met"}``; ``met``
        is None when the run's settings cannot judge it (``--quick``).
    notes
        Caveats worth reading beside the numbers.
    """

    name: str
    description: str
    results: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    targets: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def target(self, target: str, value: float | None, limit: str, met: bool | None,
               judged: bool = True) -> None:
        """Record one target; ``judged=False`` (quick settings) leaves ``met`` as None."""
        self.targets.append({"target": target, "value": value, "limit": limit,
                             "met": met if judged and value is not None else None})


def core_us_per_step(sample_s: float | None, steps: float | None, chains: int) -> float | None:
    """Core-microseconds per leapfrog step: sampling wall x chains run at once / all steps.

    ``steps`` counts tuning and draws of every chain. Comparable to the measured
    cost of one log-density-and-gradient evaluation, plus the sampler's own
    per-step work (and any contention from other processes).
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if not sample_s or not steps:
        return None
    return sample_s * min(chains, cores or 1) / steps * 1e6
