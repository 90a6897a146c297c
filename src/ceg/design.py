"""The design: a validated evaluation table turned into coordinates and index arrays.

Everything the model builder needs from the data, and nothing else, lives in a
:class:`Design`: named coordinates (observation, model, family, benchmark,
enhancement, category, ...) and integer arrays that map each observation onto
them. The design is also what a loaded fit uses to summarise without the
original files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ceg.registry import CATEGORIES, Registries
from ceg.table import BASE, enhancements_of

#: Separator inside composite coordinate labels ("slug|benchmark").
SEP = "|"
#: Separator between a row's source id and a note appended to it ("Ruan et al. 2024 | note").
SOURCE_NOTE_SEP = " | "


def source_id(source: str) -> str:
    """Return the id of a row's ``source``: the text before the first ``" | "`` note.

    Importers append notes to a source (the ObsScaling importer says where a
    model's compute came from); the note must not make the rows a protocol
    group of their own.

    Parameters
    ----------
    source
        The table's ``source`` cell.

    Returns
    -------
    str
        The source id, stripped.
    """
    return str(source).split(SOURCE_NOTE_SEP, 1)[0].strip()


@dataclass(frozen=True)
class Design:
    """Coordinates and index arrays of one evaluation table.

    Index arrays that may point at "nothing" (padding, the reference
    protocol) use 0 for nothing and ``i + 1`` for element ``i``.

    Attributes
    ----------
    table
        The validated evaluation table, one row per observation.
    coords
        Named coordinates: ``observation``, ``model``, ``family``,
        ``benchmark``, ``enhancement``, ``category``, ``enhancement_benchmark``,
        ``protocol``, ``latent_model``.
    obs_model, obs_benchmark
        Per observation: model and benchmark index.
    obs_protocol
        Per observation: 0 for a benchmark's reference protocol, else 1 + index
        into ``coords["protocol"]``.
    obs_enhancement, obs_enhancement_benchmark
        Per observation and stacking slot (shape ``(n_obs, max_stack)``):
        1 + enhancement index and 1 + enhancement-benchmark index, 0 = empty.
    model_family
        Per model: family index.
    model_log10_flop, model_log10_sd
        Per model: log10 of ``train_flop`` and its standard deviation.
    latent_model_index
        Indices of the models whose compute is latent (sd > 0).
    enhancement_category
        Per enhancement: category index into ``coords["category"]``.
    enhancement_benchmark_pairs
        Per enhancement-benchmark: (enhancement index, benchmark index).
    benchmark_chance
        Per benchmark: chance level.
    n_items, n_correct
        Per observation: number of items and ``round(score * n_items)``.
    obs_model_benchmark, obs_family_benchmark
        Per observation: index into ``coords["model_benchmark"]`` and
        ``coords["family_benchmark"]`` (the pairs present in the table), for
        the per-(model, benchmark) residual and the family x benchmark profile.
    """

    table: pd.DataFrame
    coords: dict[str, list[str]]
    obs_model: np.ndarray
    obs_benchmark: np.ndarray
    obs_protocol: np.ndarray
    obs_enhancement: np.ndarray
    obs_enhancement_benchmark: np.ndarray
    model_family: np.ndarray
    model_log10_flop: np.ndarray
    model_log10_sd: np.ndarray
    latent_model_index: np.ndarray
    enhancement_category: np.ndarray
    enhancement_benchmark_pairs: np.ndarray
    benchmark_chance: np.ndarray
    n_items: np.ndarray
    n_correct: np.ndarray
    obs_model_benchmark: np.ndarray
    obs_family_benchmark: np.ndarray

    @property
    def n_obs(self) -> int:
        """Number of observations."""
        return len(self.table)

    def base_compute_range(self) -> pd.DataFrame:
        """Return min and max log10 compute of base rows per (family, benchmark).

        Returns
        -------
        pandas.DataFrame
            Indexed by (family, benchmark), columns ``low`` and ``high``.
        """
        base = self.table[self.table["condition"] == BASE]
        x = np.log10(base["train_flop"].to_numpy())
        g = pd.DataFrame({"family": base["family"].to_numpy(),
                          "benchmark": base["benchmark"].to_numpy(), "x": x})
        return g.groupby(["family", "benchmark"])["x"].agg(low="min", high="max")


def _codes(values: pd.Series, categories: list[str]) -> np.ndarray:
    return pd.Categorical(values, categories=categories).codes.astype(np.int64)


def make_design(table: pd.DataFrame, registries: Registries) -> Design:
    """Build the design of a validated table.

    Parameters
    ----------
    table
        Output of :func:`ceg.validate_table` (or :func:`ceg.load_dataset`).
    registries
        The registries the table was validated against (for categories).

    Returns
    -------
    Design
        Coordinates and index arrays; labels are sorted for stable order.
    """
    t = table.reset_index(drop=True)
    families = sorted(t["family"].unique())
    model_keys = t[["family", "model"]].drop_duplicates().sort_values(["family", "model"])
    models = [f"{f}{SEP}{m}" for f, m in model_keys.itertuples(index=False)]
    obs_model_label = (t["family"] + SEP + t["model"])
    benchmarks = sorted(t["benchmark"].unique())

    cond_lists = [enhancements_of(c) for c in t["condition"]]
    enhancements = sorted({e for c in cond_lists for e in c})
    categories = [c for c in CATEGORIES
                  if any(registries.category_of(e) == c for e in enhancements)]
    pairs = sorted({(e, b) for c, b in zip(cond_lists, t["benchmark"], strict=True) for e in c})
    eb_labels = [f"{e}{SEP}{b}" for e, b in pairs]
    eb_index = {p: i for i, p in enumerate(pairs)}
    e_index = {e: i for i, e in enumerate(enhancements)}
    max_stack = max((len(c) for c in cond_lists), default=0)
    obs_e = np.zeros((len(t), max(max_stack, 1)), dtype=np.int64)
    obs_eb = np.zeros_like(obs_e)
    for i, (c, b) in enumerate(zip(cond_lists, t["benchmark"], strict=True)):
        for j, e in enumerate(c):
            obs_e[i, j] = e_index[e] + 1
            obs_eb[i, j] = eb_index[(e, b)] + 1

    protocols, obs_protocol = _protocols(t)

    per_model = t.assign(_m=obs_model_label).drop_duplicates("_m").set_index("_m").loc[models]
    model_flop = np.log10(per_model["train_flop"].to_numpy(dtype=float))
    model_sd = per_model["train_flop_log10_sd"].to_numpy(dtype=float)
    latent = np.flatnonzero(model_sd > 0)

    chance = t.groupby("benchmark")["chance"].first().loc[benchmarks].to_numpy(dtype=float)
    n_items = t["n_items"].to_numpy(dtype=float).round().astype(np.int64)
    n_correct = np.clip(np.round(t["score"].to_numpy(dtype=float) * n_items), 0,
                        n_items).astype(np.int64)

    mb_label = obs_model_label + SEP + t["benchmark"]
    fb_label = t["family"] + SEP + t["benchmark"]
    model_benchmarks = sorted(mb_label.unique())
    family_benchmarks = sorted(fb_label.unique())

    coords = {
        "observation": [str(i) for i in range(len(t))],
        "model": models,
        "family": families,
        "benchmark": benchmarks,
        "enhancement": enhancements,
        "category": categories,
        "enhancement_benchmark": eb_labels,
        "protocol": protocols,
        "latent_model": [models[i] for i in latent],
        "model_benchmark": model_benchmarks,
        "family_benchmark": family_benchmarks,
    }
    return Design(
        table=t,
        coords=coords,
        obs_model=_codes(obs_model_label, models),
        obs_benchmark=_codes(t["benchmark"], benchmarks),
        obs_protocol=obs_protocol,
        obs_enhancement=obs_e,
        obs_enhancement_benchmark=obs_eb,
        model_family=_codes(per_model["family"], families),
        model_log10_flop=model_flop,
        model_log10_sd=model_sd,
        latent_model_index=latent.astype(np.int64),
        enhancement_category=np.array([categories.index(registries.category_of(e))
                                       for e in enhancements], dtype=np.int64),
        enhancement_benchmark_pairs=np.array(
            [(e_index[e], benchmarks.index(b)) for e, b in pairs], dtype=np.int64
        ).reshape(-1, 2),
        benchmark_chance=chance,
        n_items=n_items,
        n_correct=n_correct,
        obs_model_benchmark=_codes(mb_label, model_benchmarks),
        obs_family_benchmark=_codes(fb_label, family_benchmarks),
    )


def _protocols(t: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """Protocol groups: (benchmark, source id); each benchmark's reference gets no offset.

    Groups are keyed on :func:`source_id`, so a note appended to a source does
    not split its rows off. The reference is the source with the most base
    rows on the benchmark (ties broken by name), so offsets are relative to
    the best-measured curve.
    """
    t = t.assign(source=t["source"].map(source_id))
    base_counts = (t[t["condition"] == BASE].groupby(["benchmark", "source"]).size())
    labels: list[str] = []
    index: dict[tuple[str, str], int] = {}
    for bench, sources in t.groupby("benchmark")["source"].unique().items():
        srcs = sorted(sources)
        if len(srcs) < 2:
            continue
        ref = max(srcs, key=lambda s: (base_counts.get((bench, s), 0), [-ord(c) for c in s]))
        for s in srcs:
            if s != ref:
                index[(bench, s)] = len(labels)
                labels.append(f"{bench}{SEP}{s}")
    obs = np.array([index[(b, s)] + 1 if (b, s) in index else 0
                    for b, s in zip(t["benchmark"], t["source"], strict=True)], dtype=np.int64)
    return labels, obs
