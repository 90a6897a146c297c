"""Time ``ceg sensitivity FIT`` (power-scaling, issue #13) on a saved fit; write a results JSON.

    python benchmarks/sensitivity.py out/fit_default.nc
    python benchmarks/sensitivity.py FIT --out benchmarks/results/sensitivity.json \\
        --note "under load: two other fits running"

The command runs once, in a fresh process (``python -m ceg sensitivity FIT
--format csv --out TABLE``), so the time is what a user waits for: interpreter
start, imports, reading the fit, the quantities, both power-scalings and
writing the table. The target (issue #13) is under a minute on 2 cores. The
load average before and after is recorded, with ``--note`` for what else ran;
a time measured under load says only that. The table the command wrote is
stored beside the JSON (``<out stem>_table.csv``). Nothing here asserts a time.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import the package from the repo root
    _root = str(Path(__file__).resolve().parents[1])
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]
    sys.path.insert(0, _root)

import argparse  # noqa: E402
import hashlib  # noqa: E402
import os  # noqa: E402
import shlex  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

from benchmarks.common import REPO, git_state, machine, versions, write_json  # noqa: E402

#: The issue's target: seconds for ``ceg sensitivity FIT`` on a saved bundled fit, 2 cores.
TARGET_S = 60.0


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("fit", type=Path, help="a fit saved by 'ceg fit'")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results"
                   / "sensitivity.json")
    p.add_argument("--note", default="", help="what else ran on the machine meanwhile")
    args = p.parse_args(argv)
    table = args.out.with_name(args.out.stem + "_table.csv")
    table.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "ceg", "sensitivity", str(args.fit), "--format", "csv",
               "--out", str(table)]
    m = machine()
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONWARNINGS": "ignore::FutureWarning"})
    seconds = time.perf_counter() - start
    load_end = [round(x, 2) for x in os.getloadavg()]
    ok = proc.returncode == 0
    shown = ["ceg", *command[3:]]
    result = {
        "benchmark": "sensitivity",
        "description": "wall time of 'ceg sensitivity FIT' (power-scaling prior and "
                       "likelihood sensitivity, no refit) in a fresh process",
        "command": shlex.join(["python", "benchmarks/sensitivity.py", *map(str, argv or
                                                                           sys.argv[1:])]),
        "timed_command": shlex.join(shown),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": m, "load_average_at_end": load_end, "note": args.note,
        "versions": versions(), "git": git_state(),
        "fit": {"path": str(args.fit), "bytes": args.fit.stat().st_size,
                "sha256": _digest(args.fit)},
        "targets": [{"target": "ceg sensitivity FIT on a saved bundled fit, 2 cores",
                     "value": seconds, "limit": f"< {TARGET_S:g} s",
                     "met": bool(ok and seconds < TARGET_S)}],
        "results": {"seconds": seconds, "returncode": proc.returncode,
                    "stderr": proc.stderr[-4000:], "table": str(table) if ok else None},
    }
    write_json(args.out, result)
    print(f"{shlex.join(shown)}: {seconds:.1f} s (exit {proc.returncode}); load average "
          f"{m['load_average_at_start']} -> {load_end}; wrote {args.out}")
    if not ok:
        print(proc.stderr, file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
