"""Probe of the compile (issue #17): where the seconds go and what blocks an on-disk cache.

Builds the default model on the bundled data and compiles it for nutpie in this
process, printing the seconds of each phase; run it twice in a row to see
whether a second process starts warm.

    python benchmarks/compile_probe.py                    # as ceg compiles today
    python benchmarks/compile_probe.py --share-constants  # the design's arrays as shared data
    python benchmarks/compile_probe.py --share-constants --cache  # nutpie's wrappers cached
    python benchmarks/compile_probe.py --share-constants --numba-psi --cache  # all three
    python benchmarks/compile_probe.py --profile          # cProfile, top 25 by cumulative time

``--share-constants`` turns every constant array of the model's graph into a
named shared variable (pytensor's numba backend cannot cache a function whose
constants are large arrays: they become dynamic globals). Not timed tests:
results and the machine's load belong in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import time


def share_constants(model, min_size: int = 2):
    """Return a copy of ``model`` whose constant arrays (size >= min_size) are shared variables."""
    import numpy as np
    import pytensor
    from pymc.model.fgraph import fgraph_from_model, model_from_fgraph
    from pytensor.graph.basic import Constant

    fgraph, _ = fgraph_from_model(model, inlined_views=True)
    constants = [v for v in fgraph.variables if isinstance(v, Constant)
                 and isinstance(getattr(v, "data", None), np.ndarray) and v.data.size >= min_size]
    for i, const in enumerate(constants):
        shared = pytensor.shared(const.data.copy(), name=f"design_const_{i}",
                                 shape=const.data.shape)
        for node, index in list(fgraph.clients.get(const, [])):
            if getattr(node, "op", None) is not None:
                node.inputs[index] = shared
    return model_from_fgraph(fgraph, mutate_fgraph=True), len(constants)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--share-constants", action="store_true")
    parser.add_argument("--cache", action="store_true",
                        help="pass cache=True to nutpie (numba.cfunc of its wrappers)")
    parser.add_argument("--numba-psi", action="store_true",
                        help="digamma as plain numba (ceg.numba_kernels), not scipy's Cython")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    import nutpie

    import ceg
    from ceg.design import make_design
    from ceg.model import build_model
    from ceg.spec import ModelSpec

    if args.numba_psi:
        from ceg.numba_kernels import register

        register()
    registries = ceg.load_registries()
    design = make_design(ceg.load_dataset(registries), registries)
    model = build_model(ModelSpec.load("default"), design)
    if args.share_constants:
        model, n = share_constants(model)
        print(f"constant arrays made shared: {n}")
    ready = time.perf_counter()
    kwargs = {"cache": True} if args.cache else {}
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
    nutpie.compile_pymc_model(model, **kwargs)
    done = time.perf_counter()
    if args.profile:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    print(f"imports, data and model {ready - start:.1f} s; nutpie compile {done - ready:.1f} s")


if __name__ == "__main__":
    main()
