"""Run the ceg benchmark suite (issue #6): print tables, write one JSON per benchmark.

    python benchmarks/run.py                      # the issue's settings (hours; see README)
    python benchmarks/run.py --quick              # small smoke settings (minutes)
    python benchmarks/run.py --only stan scaling  # some benchmarks only

Benchmarks: bundled, obsscaling, scaling, samplers, stan (see benchmarks/README.md).
Each writes ``<out>/<name>.json`` (machine, versions, git commit, settings,
results, targets); ``--out`` defaults to ``benchmarks/results`` for the full
settings and ``benchmarks/results/quick`` for ``--quick``.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import the package from the repo root
    _root = str(Path(__file__).resolve().parents[1])
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]
    sys.path.insert(0, _root)

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import os  # noqa: E402
import shlex  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402

from benchmarks import fits, samplers, scaling, stan_reference  # noqa: E402
from benchmarks.common import (  # noqa: E402
    REPO,
    Result,
    Settings,
    git_state,
    machine,
    versions,
    write_json,
)

#: The benchmarks, in the order they run.
BENCHMARKS: dict[str, Callable[[Settings, Path], Result]] = {
    "bundled": fits.run_bundled,
    "obsscaling": fits.run_obsscaling,
    "scaling": scaling.run,
    "samplers": samplers.run,
    "stan": stan_reference.run,
}


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if isinstance(v, float):
        if v != v:  # nan
            return "nan"
        a = abs(v)
        if a >= 1000:
            return f"{v:,.0f}"
        if a >= 100:
            return f"{v:.0f}"
        if a >= 10:
            return f"{v:.1f}"
        if a >= 0.01 or a == 0:
            return f"{v:.3g}" if a < 1 else f"{v:.2f}"
        return f"{v:.2g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def print_result(console, result: Result, seconds: float) -> None:
    """Print a benchmark's tables, targets and notes."""
    from rich.markup import escape
    from rich.table import Table

    console.rule(f"[bold]{result.name}[/bold]: {result.description} ({seconds:.0f} s)")
    for title, rows in result.tables.items():
        if not rows:
            continue
        keys: list[str] = []
        for row in rows:
            keys.extend(k for k in row if k not in keys)
        table = Table(title=title, title_justify="left")
        for k in keys:
            table.add_column(k, justify="left" if k in ("fit", "sampler", "quantity", "check",
                                                        "ratio", "note", "error") else "right")
        for row in rows:
            table.add_row(*[escape(_fmt(row.get(k))) for k in keys])
        console.print(table)
    for note in result.notes:
        console.print(f"  note: {escape(note)}")


def print_targets(console, results: list[Result]) -> None:
    """Print every benchmark's targets in one table."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Targets of issues #6 and #17 ('-': not judged by these settings)",
                  title_justify="left")
    for col in ("benchmark", "target", "value", "limit", "met"):
        table.add_column(col, justify="right" if col == "value" else "left")
    for r in results:
        for t in r.targets:
            table.add_row(r.name, escape(t["target"]), _fmt(t["value"]), escape(t["limit"]),
                          _fmt(t["met"]))
    console.print(table)


def _console():
    from rich.console import Console

    # wide tables stay readable when the output goes to a file or a pipe
    return Console() if sys.stdout.isatty() else Console(width=240)


def show(console, out: Path, names: list[str]) -> int:
    """Print the tables and targets of results already written to ``out``."""
    import json

    shown = []
    for name in names:
        path = out / f"{name}.json"
        if not path.exists():
            continue
        rec = json.loads(path.read_text())
        result = Result(name=name, description=rec["description"], tables=rec["tables"],
                        targets=rec["targets"], notes=rec["notes"])
        m = rec["machine"]
        console.print(f"{path}: {rec['mode']}, {rec['date']}, {m['cpu']}, "
                      f"{m['usable_cores']} cores, load {m['load_average_at_start']}")
        print_result(console, result, rec["duration_s"])
        shown.append(result)
    if not shown:
        console.print(f"no results in {out}")
        return 1
    print_targets(console, shown)
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python benchmarks/run.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", nargs="+", choices=list(BENCHMARKS), metavar="NAME",
                   help=f"run only these ({', '.join(BENCHMARKS)})")
    p.add_argument("--quick", action="store_true",
                   help="small settings for a smoke run: 2 chains x 200 draws on slices, "
                        "gradient timing at 1k and 10k, no large fits")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for the JSON results (default benchmarks/results, or "
                        "benchmarks/results/quick with --quick)")
    p.add_argument("--show", action="store_true",
                   help="print the results already in --out (with --quick: the quick ones); "
                        "run nothing")
    p.add_argument("--logs", type=Path, default=None,
                   help="folder for the workers' logs and draws (default: a temporary folder)")
    p.add_argument("--draws", type=int, help="override the draws per chain")
    p.add_argument("--tune", type=int, help="override the tuning draws per chain")
    p.add_argument("--chains", type=int, help="override the number of chains")
    p.add_argument("--model", default="default",
                   help="spec of the bundled and ObsScaling fits (a name in models/ or a "
                        "path; default: the default model), to time a candidate model")
    p.add_argument("--cold-only", action="store_true",
                   help="time the cold fit only (no warm refit in the same process)")
    p.add_argument("--dataset", choices=("bundled", "slice"),
                   help="override the dataset of the bundled, samplers and stan benchmarks")
    p.add_argument("--sizes", type=int, nargs="+", help="override the synthetic sizes")
    p.add_argument("--fit-sizes", type=int, nargs="*",
                   help="override which synthetic sizes are fitted (none: give no value)")
    p.add_argument("--samplers", nargs="+",
                   choices=("nutpie", "nutpie-lowrank", "pymc", "numpyro"),
                   help="override the samplers compared")
    return p.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    """The settings of a run: quick or full, with the overrides given."""
    s = Settings.quick() if args.quick else Settings.full(args.model)
    overrides = {k: getattr(args, k) for k in ("draws", "tune", "chains", "dataset")
                 if getattr(args, k) is not None}
    if args.model != "default":
        overrides["model"] = args.model
    if args.cold_only:
        overrides["warm"] = False
    if args.sizes:
        overrides["sizes"] = tuple(args.sizes)
    if args.fit_sizes is not None:
        overrides["fit_sizes"] = tuple(args.fit_sizes)
    if args.samplers:
        overrides["samplers"] = tuple(args.samplers)
    if overrides:
        s = dataclasses.replace(s, **overrides, extra={"overridden": sorted(overrides)})
    return s


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks; return 1 if any failed."""
    args = parse_args(argv)
    settings = settings_from(args)
    out = args.out or (REPO / "benchmarks" / "results" / ("quick" if args.quick else ""))
    out = out.resolve()
    names = args.only or list(BENCHMARKS)
    command = "python benchmarks/run.py " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    logs = (args.logs or Path(tempfile.gettempdir()) / "ceg-benchmarks"
            / datetime.now().strftime("%Y%m%d-%H%M%S")).resolve()
    console = _console()
    if args.show:
        return show(console, out, names)
    info = {"machine": machine(), "versions": versions(), "git": git_state()}
    m = info["machine"]
    console.print(f"[bold]ceg benchmarks[/bold] ({settings.mode}): {', '.join(names)}\n"
                  f"machine: {m['cpu']}, {m['usable_cores']} usable cores, {m['ram_gb']} GB; "
                  f"load {m['load_average_at_start']}; results -> {out}; worker logs -> {logs}")
    done, failed = [], []
    for name in names:
        log_dir = logs / name
        log_dir.mkdir(parents=True, exist_ok=True)
        start = time.time()
        try:
            result = BENCHMARKS[name](settings, log_dir)
            error = None
        except Exception as exc:  # one benchmark's failure must not lose the others
            result = Result(name=name, description="failed")
            error = "".join(traceback.format_exception(exc))
            result.notes.append(f"FAILED: {exc}".splitlines()[0])
            failed.append(name)
        seconds = time.time() - start
        record = {
            "benchmark": name, "description": result.description, "mode": settings.mode,
            "command": command, "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "duration_s": seconds, **info,
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "settings": settings.as_dict(),
            "targets": result.targets, "tables": result.tables, "notes": result.notes,
            "results": result.results, "error": error, "worker_logs": str(log_dir),
        }
        write_json(out / f"{name}.json", record)
        print_result(console, result, seconds)
        if error:
            console.print(error, style="red", markup=False)
        done.append(result)
    print_targets(console, done)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
