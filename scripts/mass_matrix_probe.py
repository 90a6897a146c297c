"""Fit a spec on the bundled data and record the mass matrix each chain of nutpie learned.

Usage::

    python scripts/mass_matrix_probe.py SPEC SEED OUT [--nutpie '{"mass_matrix_switch_freq": 200}']
    python scripts/mass_matrix_probe.py --show OUT [SPEC]

The first form runs ``ceg.fit.fit`` (the spec's settings, the given seed) with nutpie asked
to store each chain's mass matrix and unconstrained draws (``store_mass_matrix``,
``store_unconstrained``, plus any ``--nutpie`` keyword arguments, JSON), and writes
``OUT.nc`` (the fit, as ``ceg fit --out`` does), ``OUT_mm.npz`` (each chain's final inverse
mass matrix and its draws' variance on the sampler's scale) and ``OUT.json`` (wall time,
steps per draw and step size by chain, the spec's verdict). It wraps ``nutpie.sample`` for
the one call, which is why it is a script and not part of ``ceg``.

The second form prints, per chain, the directions whose posterior variance most exceeds
what the mass matrix assumes (a ratio far above 1 is a direction the chain's trajectories
must travel far along: long trees), and the directions where the chains' mass matrices
differ most. Names come from the model's free variables in nutpie's order.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def _fit(spec: str, seed: int, out: str, extra: dict) -> None:
    import nutpie

    import ceg
    from ceg.fit import fit

    original, saved = nutpie.sample, {}

    def recording(*args, **kwargs):
        kwargs.update(extra, store_mass_matrix=True, store_unconstrained=True)
        idata = original(*args, **kwargs)
        stats = idata.sample_stats
        saved["mm_final"] = stats["mass_matrix_inv"].values[:, -1, :]
        saved["unc_var"] = stats["unconstrained_draw"].values.var(axis=1)
        idata.sample_stats = stats.drop_vars(["mass_matrix_inv", "unconstrained_draw"])
        return idata

    nutpie.sample = recording
    try:
        start = time.perf_counter()
        result = fit(ceg.load_dataset(), spec, seed=seed)
        wall = time.perf_counter() - start
    finally:
        nutpie.sample = original
    result.save(out + ".nc")
    np.savez(out + "_mm.npz", **saved)
    stats = result.idata.sample_stats
    record = {"spec": spec, "seed": seed, "nutpie": extra, "wall_s": round(wall, 1),
              "steps_per_draw_by_chain": stats.n_steps.values.mean(1).round(0).tolist(),
              "step_size": stats.step_size.values[:, -1].round(4).tolist(),
              "diagnostics": str(result.diagnostics())}
    fd, tmp = tempfile.mkstemp(dir=Path(out).parent or ".", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump(record, fh, indent=1)
    os.replace(tmp, out + ".json")
    print(json.dumps(record, indent=1))


def free_names(spec: str) -> np.ndarray:
    """Names of the model's unconstrained coordinates, in nutpie's order (``model.free_RVs``)."""
    import ceg
    from ceg.design import make_design
    from ceg.model import build_model
    from ceg.spec import ModelSpec

    model = build_model(ModelSpec.load(spec),
                        make_design(ceg.load_dataset(), ceg.load_registries()))
    point = model.initial_point()
    names = []
    for rv in model.free_RVs:
        value = model.rvs_to_values[rv].name
        names += [f"{value}[{i}]" for i in range(int(np.prod(np.shape(point[value]))))]
    return np.array(names)


def _show(out: str, spec: str) -> None:
    data = np.load(out + "_mm.npz")
    mm, var = data["mm_final"], data["unc_var"]
    names = free_names(spec)
    if len(names) != mm.shape[1]:
        raise SystemExit(f"{spec} has {len(names)} coordinates, the record {mm.shape[1]}: "
                         "give the spec the fit was made with")
    ratio = var / mm
    for c in range(len(mm)):
        top = np.argsort(-ratio[c])[:8]
        print(f"chain {c}: median ratio {np.median(ratio[c]):.2f}, {int((ratio[c] > 4).sum())} "
              "above 4; largest: " + "; ".join(f"{names[i]} {ratio[c, i]:.1f}" for i in top))
    spread = mm.max(0) / mm.min(0)
    print("largest spread of the inverse mass matrix between chains:")
    for i in np.argsort(-spread)[:10]:
        print(f"  {names[i]}: {np.round(mm[:, i], 4)} (draws' variance {np.round(var[:, i], 4)})")


def main() -> None:
    """Parse the command line and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("args", nargs="+", help="SPEC SEED OUT, or OUT [SPEC] with --show")
    parser.add_argument("--nutpie", default="{}", help="extra nutpie.sample arguments (JSON)")
    parser.add_argument("--show", action="store_true", help="read a record instead of fitting")
    a = parser.parse_args()
    if a.show:
        _show(a.args[0], a.args[1] if len(a.args) > 1 else "candidate")
    else:
        spec, seed, out = a.args
        _fit(spec, int(seed), out, json.loads(a.nutpie))


if __name__ == "__main__":
    main()
