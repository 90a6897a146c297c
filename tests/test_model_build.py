"""The PyMC graph built from every spec in models/: finite log density and gradient, named dims.

No sampling: the log density and its gradient are evaluated at the initial
point (the pattern of bambi's ``assert_ip_dlogp``).
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pymc as pm
import pytest

import ceg
from ceg.design import make_design
from ceg.model import REPORTED, build_model
from ceg.spec import ModelSpec
from fakes import small_table
from graph_eval import log_density_and_gradient

SPEC_FILES = sorted((Path(__file__).resolve().parents[1] / "models").glob("*.toml"))
REQUIRED_COORDS = ("enhancement", "category", "benchmark", "family", "model", "observation")


@pytest.fixture(scope="module")
def registries():
    return ceg.load_registries()


@pytest.fixture(scope="module")
def bundled_design(registries):
    return make_design(ceg.load_dataset(registries), registries)


@pytest.fixture(scope="module")
def small_design(registries):
    return make_design(small_table(), registries)


@pytest.fixture(scope="module", params=SPEC_FILES, ids=[p.stem for p in SPEC_FILES])
def built(request, bundled_design):
    spec = ModelSpec.load(request.param)
    return spec, build_model(spec, bundled_design)


def test_models_folder_has_specs():
    assert any(p.stem == "default" for p in SPEC_FILES)


def test_finite_logp_and_gradient_at_initial_point(built):
    _, model = built
    ip = model.initial_point()
    logp, grad = log_density_and_gradient(model)(ip)
    assert np.isfinite(logp), f"log density {logp} at the initial point"
    assert grad.shape == (sum(np.size(v) for v in ip.values()),)
    bad = np.flatnonzero(~np.isfinite(grad))
    assert not len(bad), f"non-finite gradient entries {bad[:10]}"


def test_every_array_variable_has_named_dims(built):
    _, model = built
    dims = model.named_vars_to_dims
    for name, var in model.named_vars.items():
        if var.ndim == 0:
            continue
        assert name in dims, f"{name} has no dims"
        assert len(dims[name]) == var.ndim and None not in dims[name], (name, dims[name])
        for d in dims[name]:
            assert d in model.coords, f"{name}: dim {d} has no coordinate"


def test_coords_match_the_design(built, bundled_design):
    _, model = built
    for name in REQUIRED_COORDS:
        assert name in model.coords, name
        assert list(model.coords[name]) == list(bundled_design.coords[name])
    assert len(model.coords["observation"]) == len(ceg.load_dataset())


def test_reported_deterministics_and_observed_data(built, bundled_design):
    _, model = built
    names = {v.name for v in model.deterministics}
    assert set(REPORTED) <= names
    assert [v.name for v in model.observed_RVs] == ["n_correct"]
    assert model.named_vars_to_dims["n_correct"] == ("observation",)
    np.testing.assert_array_equal(model.rvs_to_values[model["n_correct"]].eval(),
                                  bundled_design.n_correct)


# ---------------------------------------------------------------- structure switches


def spec_with(structure: dict) -> ModelSpec:
    data = copy.deepcopy(ModelSpec.load("default").to_dict())
    data["structure"].update(structure)
    return ModelSpec.from_dict(data, source="test")


def free_names(model: pm.Model) -> set[str]:
    return {v.name for v in model.free_RVs}


def owned(names: set[str], prefixes: tuple[str, ...]) -> set[str]:
    return {n for n in names if n.startswith(prefixes)}


# Free variables a switch removes, by name prefix (centred or non-centred alike).
@pytest.mark.parametrize(("switch", "prefixes"), [
    ({"family_effects": False}, ("family_effect", "family_sd")),
    ({"latent_compute": False}, ("log10_flop", "effective_log10_flop")),
    ({"protocol_offsets": False}, ("protocol_",)),
    ({"scale_dependence": False}, ("shift_scale_slope", "slope_mean", "slope_sd")),
    ({"concentration": "global"}, ("log_concentration_z", "log_concentration_centred",
                                   "log_concentration_sd")),
], ids=lambda v: next(iter(v)) if isinstance(v, dict) else None)
def test_structure_switch_removes_its_variables(small_design, switch, prefixes):
    default = free_names(build_model(ModelSpec.load("default"), small_design))
    removed = owned(default, prefixes)
    assert removed, f"the default model has no {prefixes} variable"
    switched = build_model(spec_with(switch), small_design)
    assert not owned(free_names(switched), prefixes)
    assert free_names(switched) == default - removed
    # the reported deterministics stay, so derived code works for every variant
    assert set(REPORTED) <= {v.name for v in switched.deterministics}


def test_family_effects_off_has_no_family_effect_z(small_design):
    model = build_model(spec_with({"family_effects": False}), small_design)
    assert "family_effect_z" not in model.named_vars


def test_family_effects_off_means_zero_effects(small_design):
    model = build_model(spec_with({"family_effects": False}), small_design)
    np.testing.assert_array_equal(model["family_effect"].eval(), 0.0)


def test_likelihood_switch_changes_the_observed_distribution(small_design):
    beta = build_model(ModelSpec.load("default"), small_design)
    binom = build_model(spec_with({"likelihood": "binomial"}), small_design)
    # the beta-binomial is ceg.likelihood's (its mass against scipy: tests/test_likelihood.py,
    # tests/test_engine.py); the binomial is PyMC's
    assert not isinstance(beta["n_correct"].owner.op, type(pm.Binomial.rv_op))
    assert isinstance(binom["n_correct"].owner.op, type(pm.Binomial.rv_op))
    assert owned(free_names(beta), ("log_concentration",))
    assert not owned(free_names(binom), ("log_concentration",))


def test_builder_does_not_mutate_the_design(small_design):
    before = small_design.table.copy()
    counts = small_design.n_correct.copy()
    build_model(ModelSpec.load("default"), small_design)
    assert small_design.table.equals(before)
    np.testing.assert_array_equal(small_design.n_correct, counts)
