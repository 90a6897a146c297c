"""Fake fits for tests that must not run the sampler.

Two routes to a :class:`ceg.fit.Fit`:

- ``method="hand"`` (the default, instant): ``az.from_dict`` with values for
  the deterministics the derived code reads (:data:`HAND_VARIABLES`), chosen
  by the test or drawn at random around plausible values. Exact arithmetic
  on summaries can be asserted.
- ``method="prior"`` (a few seconds, compiles the model): draws of
  ``pymc.sample_prior_predictive`` on the real model, reshaped into
  (chain, draw), so every model variable is present.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Literal

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

import ceg
from ceg.design import Design, make_design
from ceg.errors import DataWarning
from ceg.fit import Fit
from ceg.registry import Registries
from ceg.spec import ModelSpec
from ceg.table import validate_table
from graph_eval import quick_compile

#: Variables (and their dims) a hand-made posterior holds: what ``ceg.derived`` reads.
HAND_VARIABLES: dict[str, tuple[str, ...]] = {
    "shift_intercept": ("enhancement",),
    "shift_deviation": ("enhancement_benchmark",),
    "shift_scale_slope": ("enhancement",),
    "category_mean": ("category",),
    "enhancement_sd": (),
    "log10_flop": ("model",),
}
#: A few benchmarks of the bundled dataset with stacked conditions, four categories,
#: protocol offsets and latent compute.
SMALL_BENCHMARKS = ("GSM8K", "MAWPS-MultiArith", "SVAMP")

Value = float | np.ndarray | Mapping[str, float | np.ndarray]


def quiet_validate(table: pd.DataFrame, registries: Registries | None = None) -> pd.DataFrame:
    """Validate a table without the single-size DataWarning (tested in test_table.py)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return validate_table(table, registries)


def small_table(benchmarks: tuple[str, ...] = SMALL_BENCHMARKS) -> pd.DataFrame:
    """Return the rows of the bundled dataset on a few benchmarks, validated."""
    t = ceg.load_dataset()
    return quiet_validate(t[t["benchmark"].isin(benchmarks)])


def family_floor_spec(base: str = "profiles") -> ModelSpec:
    """Return spec ``base`` with nested offsets, a generative floor (0.25) and family floors."""
    raw = ModelSpec.load(base).to_dict()
    raw["structure"].update(floor="learned", generative_floor_max=0.25, family_floor=True,
                            offset_centring="nested")
    raw["priors"]["generative_floor_logit_mean"] = {"dist": "Normal", "mu": -1.0, "sigma": 1.5}
    raw["priors"]["generative_floor_logit_sd"] = {"dist": "HalfNormal", "sigma": 1.0}
    raw["priors"]["family_floor_sd"] = {"dist": "HalfNormal", "sigma": 1.5}
    return ModelSpec.from_dict(raw)


def synthetic_table() -> pd.DataFrame:
    """Return a tiny hand-written table with a stacked condition and three categories.

    Family F: base models at 1e21..1e24 FLOP on GSM8K and SVAMP; family G at
    1e22 and 1e23 on GSM8K. Enhanced rows: chain_of_thought (prompting),
    self_consistency (solution_selection), calculator (tool_use), and the
    stack chain_of_thought+self_consistency.
    """
    rows = [
        ("F", "F 1B", 1e21, "GSM8K", "base", 0.05),
        ("F", "F 10B", 1e22, "GSM8K", "base", 0.10),
        ("F", "F 100B", 1e23, "GSM8K", "base", 0.30),
        ("F", "F 1T", 1e24, "GSM8K", "base", 0.60),
        ("F", "F 1B", 1e21, "SVAMP", "base", 0.10),
        ("F", "F 10B", 1e22, "SVAMP", "base", 0.20),
        ("F", "F 100B", 1e23, "SVAMP", "base", 0.40),
        ("F", "F 1T", 1e24, "SVAMP", "base", 0.70),
        ("G", "G small", 1e22, "GSM8K", "base", 0.10),
        ("G", "G large", 1e23, "GSM8K", "base", 0.30),
        ("F", "F 10B", 1e22, "GSM8K", "chain_of_thought", 0.20),
        ("F", "F 10B", 1e22, "GSM8K", "chain_of_thought+self_consistency", 0.35),
        ("F", "F 100B", 1e23, "GSM8K", "self_consistency", 0.40),
        ("F", "F 100B", 1e23, "SVAMP", "chain_of_thought", 0.55),
        ("G", "G large", 1e23, "GSM8K", "calculator", 0.40),
    ]
    df = pd.DataFrame(rows, columns=["family", "model", "train_flop", "benchmark", "condition",
                                     "score"]).assign(source="paper")
    return quiet_validate(df)


def used_registries(design: Design, registries: Registries) -> Registries:
    """Restrict registries to what a design uses, as :func:`ceg.fit.fit` does."""
    return Registries(benchmarks=registries.benchmarks.loc[design.coords["benchmark"]],
                      enhancements=registries.enhancements.loc[design.coords["enhancement"]])


def _default(name: str, design: Design, rng: np.random.Generator,
             shape: tuple[int, ...]) -> np.ndarray:
    n = shape[2:]
    if name == "log10_flop":
        return design.model_log10_flop + 0.01 * rng.standard_normal(shape)
    if name == "enhancement_sd":
        return np.abs(0.3 + 0.05 * rng.standard_normal(shape))
    loc, scale = {"shift_intercept": (0.5, 0.4), "shift_deviation": (0.0, 0.2),
                  "shift_scale_slope": (0.0, 0.05), "category_mean": (0.5, 0.3)}[name]
    return loc + scale * rng.standard_normal(shape[:2] + n)


def _fill(name: str, value: Value, base: np.ndarray, labels: list[str] | None) -> np.ndarray:
    out = base.copy()
    if isinstance(value, Mapping):
        assert labels is not None, f"{name} has no labelled dim"
        for label, v in value.items():
            out[..., labels.index(label)] = v
        return out
    return np.broadcast_to(np.asarray(value, dtype=float), out.shape).copy()


def _hand_posterior(design: Design, values: Mapping[str, Value], seed: int, draws: int,
                    chains: int) -> dict[str, np.ndarray]:
    unknown = set(values) - set(HAND_VARIABLES)
    assert not unknown, f"fake_fit: no hand variable(s) {sorted(unknown)}"
    rng = np.random.default_rng(seed)
    post = {}
    for name, dims in HAND_VARIABLES.items():
        shape = (chains, draws, *(len(design.coords[d]) for d in dims))
        base = _default(name, design, rng, shape)
        labels = design.coords[dims[0]] if dims else None
        post[name] = _fill(name, values[name], base, labels) if name in values else base
    # the builder reports the compute each scale slope multiplies; a hand posterior has no
    # family or model effects, so it is the raw compute whatever the spec's scale_compute
    post["scale_log10_flop"] = post["log10_flop"].copy()
    return post


def _prior_posterior(spec: ModelSpec, design: Design, seed: int, draws: int,
                     chains: int) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
    import pymc as pm

    from ceg.model import build_model

    model = build_model(spec, design)
    # without compiling C (tests/graph_eval.py): forward draws for tests need values, not
    # speed, and a cold C cache (a clean CI machine) pays about a minute per new graph
    prior = pm.sample_prior_predictive(draws=chains * draws, model=model, random_seed=seed,
                                       var_names=[v.name for v in model.free_RVs]
                                       + [v.name for v in model.deterministics],
                                       compile_kwargs=quick_compile()).prior
    post = {}
    dims = {}
    for name, da in prior.data_vars.items():
        arr = da.to_numpy()[0]
        post[name] = arr.reshape(chains, draws, *arr.shape[1:])
        dims[name] = list(da.dims[2:])
    return post, dims


def fake_fit(
    table: pd.DataFrame | None = None,
    spec: ModelSpec | str = "default",
    seed: int = 0,
    draws: int = 50,
    chains: int = 2,
    *,
    values: Mapping[str, Value] | None = None,
    method: Literal["hand", "prior"] = "hand",
    registries: Registries | None = None,
) -> Fit:
    """Return a :class:`Fit` whose posterior was not sampled by MCMC.

    Parameters
    ----------
    table
        A validated table; :func:`synthetic_table` by default.
    spec
        Model spec (or its name).
    seed
        Seed of the random parts (and the ``Fit.seed``).
    draws, chains
        Shape of the posterior.
    values
        Hand route only: per variable of :data:`HAND_VARIABLES`, a scalar, an
        array broadcastable to (chain, draw, dim), or a mapping from label to
        a scalar or (chain, draw) array; unnamed labels stay random.
    method
        ``"hand"`` (``az.from_dict``) or ``"prior"`` (prior draws of the model).
    registries
        Registries of the table; the bundled ones by default.
    """
    spec = spec if isinstance(spec, ModelSpec) else ModelSpec.load(spec)
    reg = registries if registries is not None else ceg.load_registries()
    table = synthetic_table() if table is None else table
    design = make_design(table, reg)
    if method == "hand":
        post = _hand_posterior(design, values or {}, seed, draws, chains)
        dims = {k: list(v) for k, v in HAND_VARIABLES.items()} | {"scale_log10_flop": ["model"]}
    else:
        assert not values, "values only apply to method='hand'"
        post, dims = _prior_posterior(spec, design, seed, draws, chains)
    rng = np.random.default_rng(seed + 1)
    obs = {"observation": design.coords["observation"]}
    idata = az.from_dict(
        posterior=post,
        sample_stats={"diverging": np.zeros((chains, draws), dtype=bool),
                      "energy": rng.standard_normal((chains, draws))},
        dims=dims,
        coords={**design.coords, "chain": np.arange(chains), "draw": np.arange(draws)},
    )
    idata.add_groups(
        observed_data=xr.Dataset({"n_correct": ("observation", design.n_correct)}, coords=obs),
        constant_data=xr.Dataset({"n_items": ("observation", design.n_items)}, coords=obs),
    )
    return Fit(idata=idata, spec=spec, table=table, registries=used_registries(design, reg),
               sampler="fake", seed=seed)


def prior_draws_sample(table: pd.DataFrame, spec: ModelSpec, reg: Registries,
                       used: Registries, *, draws: int, tune: int, chains: int, seed: int,
                       sampler: str, progress: bool) -> Fit:
    """Stand-in for ``ceg.fit._sample``: the real model's prior draws instead of NUTS.

    Same signature and the same groups as the real one (``posterior`` with every free
    variable and deterministic, ``sample_stats``, ``log_likelihood``, ``log_prior``,
    ``observed_data``, ``constant_data``), so everything after sampling runs as it does
    on a sampled fit, but nothing is compiled to C or numba: on a clean CI machine the
    nutpie compile and the C compile of the log densities cost ~160 s per fit (session
    36, an empty compile cache). ``tune`` and ``progress`` are ignored.
    """
    import dataclasses

    import pymc as pm

    from ceg.fit import data_groups
    from ceg.model import build_model

    fake = fake_fit(table, spec, seed, draws, chains, method="prior", registries=reg)
    idata = fake.idata
    model = build_model(spec, fake.design)
    for group, compute in (("log_likelihood", pm.compute_log_likelihood),
                           ("log_prior", pm.compute_log_prior)):
        idata.add_groups({group: compute(idata, model=model, extend_inferencedata=False,
                                         progressbar=False, compile_kwargs=quick_compile())})
    # a fit's observed and constant data (the scores and compute too), replacing fake_fit's
    idata.extend(az.InferenceData(**data_groups(fake.design, table)), join="right")
    return dataclasses.replace(fake, registries=used, sampler=sampler)


def use_prior_draws_for_fits() -> None:
    """Make every ``ceg.fit`` of this process use :func:`prior_draws_sample`.

    For the notebook tests: run in the kernel before the notebook's own cells.
    """
    import ceg.fit

    ceg.fit._sample = prior_draws_sample
