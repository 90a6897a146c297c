"""Student-t and half-Student-t priors: validation that names the key, round trip, the graph.

No sampling: the model is built and its log density evaluated at fixed points.
"""

from __future__ import annotations

import copy

import numpy as np
import pymc as pm
import pytest
from scipy import stats

import ceg
from ceg.design import make_design
from ceg.errors import SpecError
from ceg.model import build_model
from ceg.spec import ModelSpec, Prior
from fakes import synthetic_table
from graph_eval import log_density_and_gradient, log_density_terms


@pytest.fixture(scope="module")
def default() -> ModelSpec:
    return ModelSpec.load("default")


@pytest.fixture
def raw(default) -> dict:
    return copy.deepcopy(default.to_dict())


def heavy(raw: dict) -> ModelSpec:
    raw["priors"]["shift_mean"] = {"dist": "StudentT", "nu": 3, "mu": 0.5, "sigma": 1.0}
    raw["priors"]["category_sd"] = {"dist": "HalfStudentT", "nu": 4, "sigma": 0.5}
    return ModelSpec.from_dict(raw, source="heavy.toml")


def test_student_t_priors_load_round_trip_and_change_the_digest(raw, default):
    spec = heavy(raw)
    assert spec.priors["shift_mean"] == Prior(dist="StudentT", sigma=1.0, mu=0.5, nu=3.0)
    assert spec.priors["category_sd"] == Prior(dist="HalfStudentT", sigma=0.5, nu=4.0)
    again = ModelSpec.from_dict(spec.to_dict(), source="heavy.toml")
    assert again == spec and again.digest() == spec.digest()
    assert spec.digest() != default.digest()
    # the normal priors keep no nu in their plain data (their digests are unchanged)
    assert "nu" not in spec.to_dict()["priors"]["family_sd"]
    assert "mu" not in spec.to_dict()["priors"]["category_sd"]


@pytest.mark.parametrize(("prior", "entry", "expected"), [
    ("shift_mean", {"dist": "StudentT", "mu": 0.5, "sigma": 1.0},
     "priors.shift_mean.nu (degrees of freedom of the StudentT) must be a number > 0, not None"),
    ("shift_mean", {"dist": "StudentT", "nu": 0, "mu": 0.5, "sigma": 1.0},
     "priors.shift_mean.nu"),
    ("shift_mean", {"dist": "StudentT", "nu": "three", "sigma": 1.0}, "priors.shift_mean.nu"),
    ("shift_mean", {"dist": "StudentT", "nu": True, "sigma": 1.0}, "priors.shift_mean.nu"),
    ("shift_mean", {"dist": "Normal", "nu": 3, "mu": 0.5, "sigma": 1.0},
     "priors.shift_mean: a Normal has no nu; remove it, or use StudentT"),
    ("family_sd", {"dist": "HalfNormal", "nu": 3, "sigma": 1.0},
     "priors.family_sd: a HalfNormal has no nu; remove it, or use HalfStudentT"),
    ("family_sd", {"dist": "StudentT", "nu": 3, "mu": 0.0, "sigma": 1.0},
     "priors.family_sd is a scale and must be HalfNormal or HalfStudentT, not 'StudentT'"),
    ("family_sd", {"dist": "HalfStudentT", "nu": 3, "mu": 1.0, "sigma": 1.0},
     "priors.family_sd: a HalfStudentT has no mu"),
    ("family_sd", {"dist": "HalfStudentT", "nu": 3, "sigma": -1.0}, "priors.family_sd.sigma"),
    ("shift_mean", {"dist": "StudentTT", "nu": 3, "sigma": 1.0},
     "Did you mean 'StudentT'?"),
])
def test_bad_student_t_prior_is_a_spec_error_naming_the_key(raw, prior, entry, expected):
    raw["priors"][prior] = entry
    with pytest.raises(SpecError) as err:
        ModelSpec.from_dict(raw, source="bad.toml")
    assert expected in str(err.value)
    assert "bad.toml" in str(err.value)


def test_the_graph_holds_the_student_t_priors_with_their_parameters(raw):
    spec = heavy(raw)
    model = build_model(spec, make_design(synthetic_table(), ceg.load_registries()))
    assert model["shift_mean"].owner.op.name == "t"
    assert model["category_sd"].owner.op.name == "halfstudentt"
    assert model["family_sd"].owner.op.name == "halfnormal"
    # log densities at fixed points equal scipy's (the half-t on the log scale the
    # sampler sees: log density of sd plus the log-Jacobian log sd)
    logp = log_density_terms(model, [model["shift_mean"], model["category_sd"]])
    point = model.initial_point()
    point["shift_mean"] = np.array(2.7)
    point["category_sd_log__"] = np.log(1.3)
    got = logp(point)
    assert got[0] == pytest.approx(stats.t(df=3, loc=0.5, scale=1.0).logpdf(2.7))
    half_t = np.log(2) + stats.t(df=4, scale=0.5).logpdf(1.3)
    assert got[1] == pytest.approx(half_t + np.log(1.3))
    assert np.isfinite(log_density_and_gradient(model)(model.initial_point())[1]).all()


def test_plain_normal_priors_build_as_before(default):
    model = build_model(default, make_design(synthetic_table(), ceg.load_registries()))
    assert model["shift_mean"].owner.op.name == "normal"
    with model:
        assert pm.draw(model["shift_mean"], random_seed=1).shape == ()


@pytest.mark.parametrize("prior", [Prior("StudentT", 1.0, 0.5, 3.0), Prior("HalfStudentT", 0.5,
                                                                             nu=3.0)])
def test_prior_panels_draw_the_student_t_densities(prior):
    from scipy import integrate

    from ceg.plots.priors import _prior_range, prior_density

    lo, hi = _prior_range(prior)
    # the plotted range cuts 0.5% off each open tail (a half prior has one), and the
    # density integrates to 1
    inside = integrate.quad(lambda x: prior_density(prior, np.array(x)), lo, hi)[0]
    assert inside == pytest.approx(0.995 if prior.dist == "HalfStudentT" else 0.99, abs=1e-6)
    total = integrate.quad(lambda x: prior_density(prior, np.array(x)), -np.inf, np.inf)[0]
    assert total == pytest.approx(1.0, abs=1e-6)
    if prior.dist == "HalfStudentT":
        assert prior_density(prior, np.array(-0.1)) == 0.0
