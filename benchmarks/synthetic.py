"""Synthetic evaluation tables of a chosen size, for the cost-versus-size benchmark.

A table of about ``n`` rows grows the way a real collection would: more families,
more benchmarks, more enhancements (registered slugs from
``src/ceg/data/enhancements.csv``, all categories) and more sources. Every family
has six model sizes; on each benchmark a family is measured at ``base`` and under
three enhanced conditions (one in six of them a stack of two), all its sizes under
each, so ``n`` is about 24 x families x benchmarks. Benchmarks are described in the
table itself (``n_items``, ``chance``); one model in five has latent compute; a
family/benchmark pair is taken from one of up to three sources, so benchmarks get
protocol groups. Scores are simulated from the default model's prior
(:func:`ceg.simulate.simulate`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Model sizes per family, and enhanced conditions per (family, benchmark).
SIZES_PER_FAMILY = 6
CONDITIONS_PER_PAIR = 3
ROWS_PER_PAIR = SIZES_PER_FAMILY * (1 + CONDITIONS_PER_PAIR)


@dataclass(frozen=True)
class Synthetic:
    """A synthetic table and how it was built.

    Attributes
    ----------
    table
        The validated table with simulated scores.
    families, benchmarks, enhancements
        How many of each.
    seed
        The seed of the layout and of the simulation.
    """

    table: pd.DataFrame
    families: int
    benchmarks: int
    enhancements: int
    seed: int

    def describe(self) -> dict[str, int]:
        """Return the counts that define the design."""
        return {"observations": len(self.table), "families": self.families,
                "benchmarks": self.benchmarks, "enhancements": self.enhancements,
                "models": self.families * SIZES_PER_FAMILY}


def _shape(n: int) -> tuple[int, int, int]:
    """Families, benchmarks and enhancements for about ``n`` rows."""
    pairs = max(n / ROWS_PER_PAIR, 4)
    families = max(2, int(math.sqrt(pairs)))
    benchmarks = max(2, round(pairs / families))
    enhancements = int(np.clip(round(2 + 6 * math.log10(max(n, 10) / 100)), 4, 20))
    return families, benchmarks, enhancements


def _slugs(k: int) -> list[str]:
    """The first ``k`` registered slugs, taken round-robin across categories."""
    import ceg

    enh = ceg.load_registries().enhancements
    by_cat = [list(g.index) for _, g in enh.groupby("category", sort=True)]
    out: list[str] = []
    while len(out) < min(k, len(enh)):
        for group in by_cat:
            if group and len(out) < k:
                out.append(group.pop(0))
    return out


def layout(n: int, seed: int = 1) -> pd.DataFrame:
    """Return a raw table of about ``n`` rows (scores are placeholders).

    Parameters
    ----------
    n
        Target number of observations.
    seed
        Seed of the random choices (conditions, sources, compute).

    Returns
    -------
    pandas.DataFrame
        Columns of an evaluation table; ``score`` is 0.5 everywhere.
    """
    rng = np.random.default_rng(seed)
    n_fam, n_bench, n_enh = _shape(n)
    slugs = _slugs(n_enh)
    items = rng.integers(100, 2000, size=n_bench)
    rows = []
    for f in range(n_fam):
        fam = f"fam{f:03d}"
        base_flop = rng.uniform(20.5, 22.5)
        sizes = base_flop + np.sort(rng.uniform(0.0, 3.5, SIZES_PER_FAMILY))
        latent = rng.random(SIZES_PER_FAMILY) < 0.2
        for b in range(n_bench):
            bench = f"synth{b:04d}"
            n_items = int(items[b])
            chance = (0.0, 0.25, 0.5)[b % 3]
            source = ("paper_a", "paper_a", "paper_b", "paper_c")[rng.integers(4)]
            conds = ["base"]
            while len(conds) < 1 + CONDITIONS_PER_PAIR:
                c = "+".join(sorted(rng.choice(slugs, size=2, replace=False))) \
                    if rng.random() < 1 / 6 else str(rng.choice(slugs))
                if c not in conds:
                    conds.append(c)
            for s, (x, lat) in enumerate(zip(sizes, latent, strict=True)):
                for cond in conds:
                    rows.append({
                        "family": fam, "model": f"{fam}-m{s}", "train_flop": 10.0 ** x,
                        "train_flop_log10_sd": 0.3 if lat else 0.0, "benchmark": bench,
                        "condition": cond, "score": 0.5, "n_items": n_items,
                        "chance": chance, "source": source, "setting": ""})
    return pd.DataFrame(rows)


def synthetic_table(n: int, seed: int = 1) -> Synthetic:
    """Return a validated synthetic table of about ``n`` rows with simulated scores.

    Parameters
    ----------
    n
        Target number of observations.
    seed
        Seed of the layout and of the prior draw that generates the scores.

    Returns
    -------
    Synthetic
        The table and its counts.
    """
    import ceg
    from ceg.errors import DataWarning
    from ceg.simulate import simulate
    from ceg.spec import ModelSpec

    reg = ceg.load_registries()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        table = ceg.validate_table(layout(n, seed), reg)
        sim = simulate(ModelSpec.load("default"), table, reg, seed=seed)
        simulated = ceg.validate_table(sim.table, reg)
    n_fam, n_bench, n_enh = _shape(n)
    return Synthetic(table=simulated, families=n_fam, benchmarks=n_bench, enhancements=n_enh,
                     seed=seed)


__all__ = ["ROWS_PER_PAIR", "Synthetic", "layout", "synthetic_table"]
