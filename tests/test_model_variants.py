"""The structural variants of the model issue, each a spec switch: what each adds, and that
with its new effects at zero it is the default model. No sampling."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pymc as pm
import pytest

import ceg
from ceg.design import make_design, source_id
from ceg.errors import SpecError
from ceg.model import build_model, sole_family_pairs
from ceg.spec import ModelSpec, required_priors
from fakes import family_floor_spec, small_table
from graph_eval import (
    QUICK_MODE,
    at_values,
    log_density_and_gradient,
    quick_compile,
    summed_log_density,
)

VARIANT_SWITCHES = dict(model_effects=True, family_benchmark_effects=True,
                        ability_residual=True, slope_population="student_t",
                        scale_compute="effective", family_scale_slopes=True)


@pytest.fixture(scope="module")
def design():
    return make_design(small_table(), ceg.load_registries())


def _at_point(model, outputs, point):
    """Evaluate deterministics at a point of the value variables (not at random draws)."""
    return at_values(model, outputs)(point)


def _jittered_point(model, seed):
    """Return the model's initial point with N(0, 1) noise on every value variable."""
    rng = np.random.default_rng(seed)
    return {k: v + rng.normal(0, 1, np.shape(v)) for k, v in model.initial_point().items()}


def _loglik(model, point):
    fn = model.compile_fn(model.logp(vars=model.observed_RVs, sum=False)[0],
                          inputs=model.value_vars, on_unused_input="ignore", mode=QUICK_MODE)
    return fn(point)


def test_the_profiles_spec_needs_exactly_its_switches_priors():
    spec = ModelSpec.load("profiles")
    assert set(spec.priors) == set(required_priors(spec.structure))
    data = spec.to_dict()
    data["priors"].pop("ability_residual_sd")
    with pytest.raises(SpecError, match="ability_residual_sd"):
        ModelSpec.from_dict(data, "x.toml")
    default = ModelSpec.load("default").to_dict()
    default["priors"]["model_sd"] = {"dist": "HalfNormal", "sigma": 0.3}
    with pytest.raises(SpecError, match="model_sd needs structure.model_effects"):
        ModelSpec.from_dict(default, "x.toml")
    bad = ModelSpec.load("profiles").to_dict()
    bad["structure"]["slope_population"] = "cauchy"
    with pytest.raises(SpecError, match="slope_population"):
        ModelSpec.from_dict(bad, "x.toml")


def test_with_its_new_effects_at_zero_the_variant_is_the_default_model(design):
    default = ModelSpec.load("default")
    variant = ModelSpec.load("profiles_family_scale")
    # the chance floor and no slope cap, so that only the zero-able effects differ
    variant = dataclasses.replace(variant, structure=dataclasses.replace(
        variant.structure, floor="chance", slope_max=None))
    m0, m1 = build_model(default, design), build_model(variant, design)
    p0 = m0.initial_point()
    rng = np.random.default_rng(0)
    p0 = {k: v + rng.normal(0, 0.1, np.shape(v)) for k, v in p0.items()}
    # family effects at 0: then raw and effective compute are the same for the scale slope
    for k in p0:
        if k.startswith("family_effect"):
            p0[k] = np.zeros_like(p0[k])
    p1 = m1.initial_point()
    for k in p1:
        p1[k] = p0[k] if k in p0 else np.zeros_like(p1[k])
    np.testing.assert_allclose(_loglik(m1, p1), _loglik(m0, p0), rtol=1e-10)
    # and each new effect moves the likelihood
    for stem in ("ability_residual_z", "family_benchmark_effect_z", "model_effect_z",
                 "family_scale_slope_z"):
        moved = dict(p1)
        (key,) = [k for k in p1 if k.startswith(stem)]  # a zero-sum value is "<name>_zerosum__"
        moved[key] = rng.normal(0, 1, np.shape(p1[key]))
        assert not np.allclose(_loglik(m1, moved), _loglik(m1, p1)), stem


def test_profiles_and_residuals_are_centred_within_their_family_and_model(design):
    model = build_model(ModelSpec.load("profiles"), design)
    point = _jittered_point(model, 5)
    phi, r = _at_point(model, [model["family_benchmark_effect"], model["ability_residual"]],
                       point)
    fam = [lab.rsplit("|", 1)[0] for lab in design.coords["family_benchmark"]]
    mod = [lab.rsplit("|", 1)[0] for lab in design.coords["model_benchmark"]]
    assert np.abs(pd.Series(phi).groupby(fam).mean()).max() < 1e-10
    assert np.abs(pd.Series(r).groupby(mod).mean()).max() < 1e-10
    assert np.std(phi) > 0.1 and np.std(r) > 0.1  # centred, not zero


def _nested():
    spec = ModelSpec.load("profiles")
    return dataclasses.replace(spec, structure=dataclasses.replace(
        spec.structure, offset_centring="nested"))


def test_nested_centring_puts_a_residuals_common_part_in_its_family_benchmark_profile():
    # BoolQ is measured on one family (GPT-3) in the bundled data, the others on several
    design = make_design(small_table(("GSM8K", "MAWPS-MultiArith", "SVAMP", "BoolQ")),
                         ceg.load_registries())
    model = build_model(_nested(), design)
    point = _jittered_point(model, 6)
    phi, r = _at_point(model, [model["family_benchmark_effect"], model["ability_residual"]],
                       point)
    t = design.table
    unit_pair = pd.Series(design.obs_family_benchmark).groupby(design.obs_model_benchmark).first()
    assert np.abs(pd.Series(r).groupby(unit_pair.to_numpy()).mean()).max() < 1e-10
    # a one-model family has no residual at all: its profile is all there is
    models_in_pair = pd.Series(t["model"].to_numpy()).groupby(design.obs_family_benchmark).nunique()
    single = unit_pair.isin(models_in_pair.index[models_in_pair == 1]).to_numpy()
    assert single.any() and (~single).any()
    assert np.allclose(r[single], 0.0) and np.std(r[~single]) > 0.1
    # a benchmark's only family has no profile there (the benchmark's curve is that);
    # the other pairs are centred within their family
    sole = sole_family_pairs(design, np.arange(design.n_obs))
    assert sole.any() and (~sole).any()
    assert np.allclose(phi[sole], 0.0) and np.std(phi[~sole]) > 0.1
    fam = np.array([lab.rsplit("|", 1)[0] for lab in design.coords["family_benchmark"]])
    assert np.abs(pd.Series(phi[~sole]).groupby(fam[~sole]).mean()).max() < 1e-10


def test_nested_centring_leaves_units_without_a_training_row_uncentred(design):
    # A held-out model's residuals are prior draws sigma * z, as a new model's would be,
    # and do not enter the centring of the training models' residuals.
    t = design.table
    held_model = t["model"].value_counts().index[0]
    held_out = (t["model"] == held_model).to_numpy()
    model = build_model(_nested(), design, held_out)
    point = _jittered_point(model, 7)
    r, sd = _at_point(model, [model["ability_residual"], model["ability_residual_sd"]], point)
    z = point["ability_residual_z"]
    unseen = np.zeros(len(z), dtype=bool)
    unseen[design.obs_model_benchmark[held_out]] = True
    np.testing.assert_allclose(r[unseen], sd * z[unseen], rtol=1e-12)
    seen_units = design.obs_model_benchmark[~held_out]
    pair = pd.Series(design.obs_family_benchmark[~held_out]).groupby(seen_units).first()
    assert np.abs(pd.Series(r[pair.index]).groupby(pair.to_numpy()).mean()).max() < 1e-10


def test_the_residual_is_shared_by_every_condition_of_a_model_on_a_benchmark(design):
    t = design.table
    key = t["family"] + "|" + t["model"] + "|" + t["benchmark"]
    groups = pd.Series(design.obs_model_benchmark).groupby(key.to_numpy()).nunique()
    assert (groups == 1).all()
    assert len(design.coords["model_benchmark"]) == key.nunique()
    several = pd.Series(key).value_counts()
    assert (several > 1).any()  # base and enhanced rows share it


def test_a_learned_floor_lies_between_zero_and_chance():
    design = make_design(small_table(("GSM8K", "BoolQ", "ANLI R1")), ceg.load_registries())
    spec = ModelSpec.load("profiles")
    model = build_model(spec, design)
    draws = pm.draw(model["floor"], draws=200, random_seed=1)
    chance = design.benchmark_chance
    assert (draws >= 0).all() and (draws <= chance[None, :] + 1e-12).all()
    assert (draws[:, chance > 0] < chance[chance > 0]).any()
    assert (draws[:, chance == 0] == 0).all()


def _learned_floor_design_and_spec() -> tuple:
    """A design with a chance-0 benchmark (GSM8K) and two with chance, and the default spec
    with a learned floor: the floor is all that differs, and it builds fast."""
    design = make_design(small_table(("GSM8K", "BoolQ", "ANLI R1")), ceg.load_registries())
    default, profiles = ModelSpec.load("default"), ModelSpec.load("profiles")
    base = dataclasses.replace(
        default, structure=dataclasses.replace(default.structure, floor="learned"),
        priors={**default.priors,
                **{k: profiles.priors[k] for k in ("floor_logit_mean", "floor_logit_sd")}})
    return design, base


def test_a_generative_floor_lies_between_zero_and_its_cap_from_its_own_population():
    # generative_floor_max = G: a benchmark with chance 0 (free-form answers, GSM8K) gets a
    # floor G * logistic(mu_g + sd_g * z) instead of 0; benchmarks with chance keep theirs.
    design, base = _learned_floor_design_and_spec()
    raw = base.to_dict()
    raw["structure"]["generative_floor_max"] = 0.2
    with pytest.raises(SpecError, match="generative_floor_logit_mean"):
        ModelSpec.from_dict(raw)  # the priors the switch brings are required
    raw["priors"]["generative_floor_logit_mean"] = {"dist": "Normal", "mu": -1.0, "sigma": 1.5}
    raw["priors"]["generative_floor_logit_sd"] = {"dist": "HalfNormal", "sigma": 1.0}
    spec = ModelSpec.from_dict(raw)
    model = build_model(spec, design)
    chance = design.benchmark_chance
    assert model.coords["generative_benchmark"] == ("GSM8K",)
    rng = np.random.default_rng(5)
    point = {k: v + rng.normal(0, 0.5, np.shape(v)) for k, v in model.initial_point().items()}
    (floor,) = _at_point(model, [model["floor"]], point)
    psi = point["generative_floor_logit_mean"] + np.exp(
        point["generative_floor_logit_sd_log__"]) * point["generative_floor_logit_z"]
    gen = np.flatnonzero(chance == 0)
    np.testing.assert_allclose(floor[gen], 0.2 / (1 + np.exp(-psi)), rtol=1e-12)
    base_model = build_model(base, design)
    (base_floor,) = _at_point(base_model, [base_model["floor"]],
                              {k: point[k] for k in base_model.initial_point()})
    np.testing.assert_allclose(floor[chance > 0], base_floor[chance > 0], rtol=1e-12)
    assert (base_floor[gen] == 0).all()
    draws = pm.draw(model["floor"], draws=200, random_seed=1)
    assert ((draws[:, gen] > 0) & (draws[:, gen] < 0.2)).all()
    # a spec mistake is named: the cap bounds a learned floor, and is a score
    for key, value, match in (("generative_floor_max", 1.5, "must be in \\(0, 1\\)"),
                              ("floor", "chance", "needs structure.floor")):
        bad = spec.to_dict()
        bad["structure"][key] = value
        with pytest.raises(SpecError, match=match):
            ModelSpec.from_dict(bad)


def test_a_floor_may_exceed_chance_up_to_its_cap():
    # floor_max_over_chance = r: a benchmark with chance c > 0 has floor
    # min(1, r c) * logistic(psi) (a model without the ability scores its favourite answer's
    # share); chance-0 benchmarks keep 0 (no generative floor here); r = 1 is the old model.
    from ceg import engine

    design, base = _learned_floor_design_and_spec()
    default = ModelSpec.load("default")
    raw = base.to_dict()
    raw["structure"]["floor_max_over_chance"] = 1.5
    spec = ModelSpec.from_dict(raw)
    assert spec.digest() != base.digest()
    assert ModelSpec.from_dict(base.to_dict()).digest() == base.digest()  # r = 1: unchanged
    chance = design.benchmark_chance
    cap = engine.floor_caps(chance, spec.structure)
    np.testing.assert_allclose(cap, np.where(chance > 0, np.minimum(1, 1.5 * chance), 0.0))
    assert (cap[chance > 0] > chance[chance > 0]).all()  # BoolQ 0.5 -> 0.75, ANLI 1/3 -> 0.5
    model, base_model = build_model(spec, design), build_model(base, design)
    rng = np.random.default_rng(4)
    point = {k: v + rng.normal(0, 0.5, np.shape(v)) for k, v in model.initial_point().items()}
    (floor,) = _at_point(model, [model["floor"]], point)
    (base_floor,) = _at_point(base_model, [base_model["floor"]], point)
    np.testing.assert_allclose(floor[chance > 0], 1.5 * base_floor[chance > 0], rtol=1e-12)
    assert (floor[chance == 0] == 0).all()
    draws = pm.draw(model["floor"], draws=300, random_seed=2)
    assert (draws <= cap[None, :] + 1e-12).all()
    assert (draws[:, chance > 0] > chance[None, chance > 0]).any()
    for value, match in ((0.9, "must be in \\[1, 10\\]"), (11.0, "must be in")):
        bad = spec.to_dict()
        bad["structure"]["floor_max_over_chance"] = value
        with pytest.raises(SpecError, match=match):
            ModelSpec.from_dict(bad)
    bad = default.to_dict()
    bad["structure"]["floor_max_over_chance"] = 1.5
    with pytest.raises(SpecError, match="needs structure.floor"):
        ModelSpec.from_dict(bad)


def test_a_note_after_the_source_id_does_not_make_a_protocol_group():
    reg = ceg.load_registries()
    t = small_table()
    gsm = t["benchmark"] == "GSM8K"
    src = t.loc[gsm, "source"].iloc[0]
    noted = t.copy()
    rows = noted.index[gsm & (noted["source"] == src)][:3]
    noted.loc[rows, "source"] = src + " | train_flop: from another paper"
    assert source_id(noted.loc[rows[0], "source"]) == src
    assert make_design(noted, reg).coords["protocol"] == make_design(t, reg).coords["protocol"]


@pytest.mark.parametrize("switch,value", list(VARIANT_SWITCHES.items()))
def test_each_switch_alone_builds_with_a_finite_gradient(design, switch, value):
    base = ModelSpec.load("profiles_family_scale")
    default = ModelSpec.load("default")
    structure = dataclasses.replace(default.structure, **{switch: value})
    priors = {n: base.priors[n] for n in required_priors(structure)}
    spec = dataclasses.replace(default, structure=structure, priors=priors)
    model = build_model(spec, design)
    ip = model.initial_point()
    logp, grad = log_density_and_gradient(model)(ip)
    assert np.isfinite(logp)
    assert np.isfinite(grad).all()


# ------------------------------------------------------------ the slope cap


def test_the_slope_cap_is_the_exponential_well_below_it_and_never_exceeded():
    import pytensor.tensor as pt

    from ceg.engine import benchmark_slope

    log_slope = np.linspace(-6.0, 12.0, 200)
    capped = benchmark_slope(log_slope, 16.0)
    assert (capped < 16.0).all() and (np.diff(capped) > 0).all()
    low = log_slope < np.log(16.0) - 4.0  # softplus(-4) = 0.018: within 2% of exp
    np.testing.assert_allclose(capped[low], np.exp(log_slope[low]), rtol=0.02)
    assert capped[-1] > 15.99  # and it does approach the cap
    np.testing.assert_array_equal(benchmark_slope(log_slope, None), np.exp(log_slope))
    tensor = benchmark_slope(pt.as_tensor_variable(log_slope), 16.0, pt).eval()
    np.testing.assert_allclose(tensor, capped, rtol=1e-12)


def test_slope_max_is_read_checked_and_left_out_of_digests_when_unset():
    default = ModelSpec.load("default")
    assert "slope_max" not in default.to_dict()["structure"]
    data = default.to_dict()
    data["structure"]["slope_max"] = 16
    capped = ModelSpec.from_dict(data, "x.toml")
    assert capped.structure.slope_max == 16.0
    assert capped.digest() != default.digest()
    assert ModelSpec.from_dict(capped.to_dict(), "y.toml").structure == capped.structure
    for bad in ("steep", 0, -1.0, True):
        data["structure"]["slope_max"] = bad
        with pytest.raises(SpecError, match="slope_max"):
            ModelSpec.from_dict(data, "x.toml")


def test_the_builder_caps_the_slope_the_likelihood_sees(design):
    default = ModelSpec.load("default")
    spec = dataclasses.replace(default, structure=dataclasses.replace(
        default.structure, slope_max=4.0))
    model = build_model(spec, design)
    point = model.initial_point()
    name = "log_slope_centred"  # the default spec samples benchmark log slopes centred
    point[name] = np.full_like(point[name], 5.0)  # exp(5) = 148 logits per decade uncapped
    (slope,) = _at_point(model, [model["slope"]], point)
    from ceg.engine import benchmark_slope

    assert (slope < 4.0).all()
    np.testing.assert_allclose(slope, benchmark_slope(np.full_like(slope, 5.0), 4.0), rtol=1e-12)


def test_the_concentration_cap_bounds_what_the_likelihood_sees(design):
    # The builder uses engine.benchmark_concentration (new-benchmark draws: test_engine.py).
    from ceg.engine import benchmark_concentration

    log_kappa = np.linspace(0.0, 40.0, 200)  # a stuck chain of a bundled fit reached e^35.4
    capped = benchmark_concentration(log_kappa, 1e5)
    assert (capped < 1e5).all() and (np.diff(capped) > 0).all()
    low = log_kappa < np.log(1e5) - 4.0  # softplus(-4) = 0.018: within 2% of exp
    np.testing.assert_allclose(capped[low], np.exp(log_kappa[low]), rtol=0.02)
    np.testing.assert_array_equal(benchmark_concentration(log_kappa, None), np.exp(log_kappa))

    default = ModelSpec.load("default")
    spec = dataclasses.replace(default, structure=dataclasses.replace(
        default.structure, concentration_max=1e3))
    model = build_model(spec, design)
    point = model.initial_point()
    name = "log_concentration_centred"  # the default spec samples log concentrations centred
    point[name] = np.full_like(point[name], 30.0)
    (kappa,) = _at_point(model, [model["concentration"]], point)
    assert (kappa < 1e3).all()
    np.testing.assert_allclose(kappa, benchmark_concentration(np.full_like(kappa, 30.0), 1e3),
                               rtol=1e-12)


# ---------------------------------------- masked fits with families without data


def _masked_family(design, family):
    return design.table["family"].to_numpy() == family


def test_a_family_without_training_rows_is_sampled_apart_from_the_zero_sum(design):
    # The families with data sum to zero (their mean would trade off against the benchmark
    # logits); a data-free family is a population draw the training rows' likelihood does
    # not see.
    spec = ModelSpec.load("profiles_family_scale")
    held_out = _masked_family(design, "UL2")
    from ceg.model import data_free_families

    assert [design.coords["family"][i] for i in data_free_families(design, held_out)] == ["UL2"]
    assert len(data_free_families(design, None)) == 0
    model = build_model(spec, design, held_out=held_out)
    names = {v.name for v in model.free_RVs}
    assert {"family_effect_with_data_centred", "family_effect_without_data_z"} <= names
    assert "family_effect_centred" not in names
    assert model.coords["family_without_data"] == ("UL2",)
    point = model.initial_point()
    rng = np.random.default_rng(2)
    point = {k: v + rng.normal(0, 0.5, np.shape(v)) for k, v in point.items()}
    (effect,) = _at_point(model, [model["family_effect"]], point)
    with_data = [i for i, f in enumerate(design.coords["family"]) if f != "UL2"]
    assert abs(effect[with_data].sum()) < 1e-10
    assert abs(effect[design.coords["family"].index("UL2")]) > 1e-6
    # The training rows' likelihood does not depend on a data-free family's effect.
    moved = dict(point)
    moved["family_effect_without_data_z"] = point["family_effect_without_data_z"] + 3.0
    np.testing.assert_allclose(_loglik(model, moved), _loglik(model, point), rtol=1e-12)
    # unmasked, the same spec keeps one zero sum over all families
    unmasked = build_model(spec, design)
    assert "family_effect_centred" in {v.name for v in unmasked.free_RVs}


def test_family_scale_slopes_sum_to_zero_weighted_by_their_familys_compute_spread(design):
    # A common part of the family scale slopes would trade off against every benchmark slope.
    # It is removed with weights that are each family's within-family spread of training
    # compute: a family with one training model (or none) has nothing that sees its lambda,
    # so it must not take up the sum (it did with a plain zero sum: not converged on the
    # ObsScaling split); its lambda is a free population draw, like a new family's.
    from ceg.model import family_compute_spread

    spec = ModelSpec.load("profiles_family_scale")
    families = design.coords["family"]
    table = design.table
    for held_out in (None, _masked_family(design, "UL2") | _masked_family(design, "Codex")):
        spread = family_compute_spread(design, held_out)
        kept = table if held_out is None else table[~held_out]
        for f, w in zip(families, spread, strict=True):
            x = np.log10(kept.loc[kept["family"] == f].groupby("model")["train_flop"].first())
            assert w == pytest.approx(((x - x.mean()) ** 2).sum(), abs=1e-12), f
        free = [families[i] for i in np.flatnonzero(spread == 0)]
        assert {"GPT-3", "GPT-J", "UL2"} <= set(free)  # one model each
        assert ("Codex" in free) == (held_out is not None)  # two models, both held out

        model = build_model(spec, design, held_out=held_out)
        rng = np.random.default_rng(7)
        point = {k: v + rng.normal(0, 0.5, np.shape(v))
                 for k, v in model.initial_point().items()}
        (lam,) = _at_point(model, [model["family_scale_slope"]], point)
        assert abs(lam @ spread) < 1e-10 and (np.abs(lam) > 1e-6).all()
        # a free family's lambda is its own z times the population sd
        sd = _at_point(model, [model["family_scale_sd"]], point)[0]
        for f in free:
            i = families.index(f)
            assert lam[i] == pytest.approx(sd * point["family_scale_slope_z"][i], rel=1e-12)
    # With UL2 held out, the training rows' likelihood does not see its lambda.
    moved = dict(point)
    moved["family_scale_slope_z"] = point["family_scale_slope_z"].copy()
    moved["family_scale_slope_z"][families.index("UL2")] += 3.0
    np.testing.assert_allclose(_loglik(model, moved), _loglik(model, point), rtol=1e-12)
    (lam_moved,) = _at_point(model, [model["family_scale_slope"]], moved)
    assert lam_moved[families.index("UL2")] != pytest.approx(lam[families.index("UL2")])


def test_the_model_parameterised_as_a_masked_fit_observes_every_row(design):
    from ceg.validate.holdout import held_out_log_likelihood, predictive_counts

    spec = ModelSpec.load("profiles")
    held_out = _masked_family(design, "UL2")
    masked = build_model(spec, design, held_out=held_out)
    observing = build_model(spec, design, held_out=held_out, observe_held_out=True)
    assert {v.name for v in masked.free_RVs} == {v.name for v in observing.free_RVs}
    assert observing.named_vars_to_dims["n_correct"] == ("observation",)
    point = masked.initial_point()
    rng = np.random.default_rng(3)
    point = {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in point.items()}
    # the same parameters give the training rows the same likelihood in both
    np.testing.assert_allclose(_loglik(observing, point)[~held_out], _loglik(masked, point),
                               rtol=1e-10)
    prior = pm.sample_prior_predictive(draws=6, model=masked, random_seed=4,
                                       compile_kwargs=quick_compile())  # no C: values only
    prior.add_groups(posterior=prior.prior)
    counts = predictive_counts(prior, spec, design, seed=3, held_out=held_out)
    assert counts.shape == (6, design.n_obs)
    assert ((counts >= 0) & (counts <= design.n_items[None, :])).all()
    log_lik = held_out_log_likelihood(prior, spec, design, held_out=held_out)
    assert log_lik.shape == (6, design.n_obs) and np.isfinite(log_lik).all()


def test_model_effects_are_zero_where_compute_is_latent(design):
    latent = design.latent_model_index
    assert len(latent)  # the small design has models with latent compute
    model = build_model(ModelSpec.load("profiles"), design, held_out=_masked_family(design, "UL2"))
    point = model.initial_point()
    point["model_effect_z"] = np.random.default_rng(7).standard_normal(
        point["model_effect_z"].shape)
    (eta,) = _at_point(model, [model["model_effect"]], point)
    assert (eta[latent] == 0).all()  # merged into the latent compute
    assert (eta[np.setdiff1d(np.arange(len(eta)), latent)] != 0).all()


def test_a_student_t_population_of_family_scale_slopes_keeps_the_weighted_zero_sum(design):
    # family_scale_population = "student_t": the z of the scale slopes are t_nu (heavier
    # tails: a few families may scale far from the pool), and the common part is still
    # removed with the compute-spread weights.
    from scipy import stats

    from ceg.model import family_compute_spread

    base = ModelSpec.load("profiles_family_scale")
    spec = dataclasses.replace(base, structure=dataclasses.replace(
        base.structure, family_scale_population="student_t", family_scale_population_nu=4.0))
    model = build_model(spec, design)
    z_rv = model["family_scale_slope_z"]
    assert isinstance(z_rv.owner.op, type(pm.StudentT.dist(nu=1).owner.op))
    rng = np.random.default_rng(3)
    point = {k: v + rng.normal(0, 0.5, np.shape(v)) for k, v in model.initial_point().items()}
    logp = model.compile_fn(model.logp(vars=[z_rv], sum=True), inputs=model.value_vars,
                            on_unused_input="ignore", mode=QUICK_MODE)(point)
    # PyTensor's and scipy's formulas of the t density agree to ~1e-9 here (gammaln terms)
    assert logp == pytest.approx(stats.t.logpdf(point["family_scale_slope_z"], 4.0).sum(),
                                 rel=1e-7)
    (lam,) = _at_point(model, [model["family_scale_slope"]], point)
    assert abs(lam @ family_compute_spread(design, None)) < 1e-10


def test_centred_model_effects_are_the_same_model_in_other_coordinates(design):
    """``"model_effect"`` in centred_effects samples eta itself, not eta / model_sd: at
    matching effects the likelihood is the same, eta's prior is N(0, model_sd), and a
    model whose compute is latent gets no effect in either form."""
    spec = ModelSpec.load("profiles_family_scale_genfloor")
    centred = dataclasses.replace(spec, structure=dataclasses.replace(
        spec.structure, centred_effects=(*spec.structure.centred_effects, "model_effect")))
    m_nc, m_c = build_model(spec, design), build_model(centred, design)
    assert "model_effect_z" in m_nc.named_vars and "model_effect_z" not in m_c.named_vars
    latent = design.latent_model_index
    assert len(latent)  # the fake table has a model with estimated compute
    free = np.setdiff1d(np.arange(len(design.coords["model"])), latent)
    assert list(m_c.coords["effect_model"]) == [design.coords["model"][i] for i in free]

    rng = np.random.default_rng(11)
    p_nc = {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in m_nc.initial_point().items()}
    (eta_nc, sd) = _at_point(m_nc, [m_nc["model_effect"], m_nc["model_sd"]], p_nc)
    assert np.all(eta_nc[latent] == 0) and np.all(eta_nc[free] != 0)
    p_c = {k: p_nc[k] for k in m_c.initial_point() if k in p_nc}
    p_c["model_effect_centred"] = eta_nc[free]
    (eta_c,) = _at_point(m_c, [m_c["model_effect"]], p_c)
    np.testing.assert_allclose(eta_c, eta_nc, rtol=1e-12)
    np.testing.assert_allclose(_loglik(m_c, p_c), _loglik(m_nc, p_nc), rtol=1e-10)
    logp = m_c.compile_fn(m_c.logp(vars=[m_c["model_effect_centred"]], sum=True),
                          inputs=m_c.value_vars, on_unused_input="ignore", mode=QUICK_MODE)(p_c)
    expected = pm.logp(pm.Normal.dist(0.0, sd), eta_nc[free]).sum().eval()
    np.testing.assert_allclose(logp, expected, rtol=1e-10)


def test_family_floors_need_a_learned_floor_and_their_prior():
    raw = family_floor_spec().to_dict()
    no_prior = family_floor_spec().to_dict()
    no_prior["priors"].pop("family_floor_sd")
    with pytest.raises(SpecError, match="family_floor_sd"):
        ModelSpec.from_dict(no_prior)
    raw["structure"]["floor"] = "chance"
    for k in ("floor_logit_mean", "floor_logit_sd", "generative_floor_logit_mean",
              "generative_floor_logit_sd"):
        raw["priors"].pop(k)
    raw["structure"].pop("generative_floor_max")
    with pytest.raises(SpecError, match="family_floor needs structure.floor"):
        ModelSpec.from_dict(raw)


def test_a_family_floor_moves_the_benchmark_floor_on_its_logit_scale():
    # g_fb = cap_b * logistic(psi_b + sd * zeta_fb): zeta centred within the benchmark over
    # the pairs with a training row; a benchmark's only family (BoolQ: GPT-3) has none, so it
    # sees the benchmark's floor; every row sees its pair's floor (so the likelihood does).
    design = make_design(small_table(("GSM8K", "MAWPS-MultiArith", "BoolQ")),
                         ceg.load_registries())
    spec = family_floor_spec()
    model = build_model(spec, design)
    point = _jittered_point(model, 8)
    floor, pair_floor = _at_point(model, [model["floor"], model["family_floor"]], point)
    n_pair = len(design.coords["family_benchmark"])
    pair_bench = np.zeros(n_pair, dtype=np.int64)
    pair_bench[design.obs_family_benchmark] = design.obs_benchmark
    chance = design.benchmark_chance
    cap = np.where(chance > 0, chance, 0.25)[pair_bench]
    share = pair_floor / cap
    base = floor[pair_bench] / cap
    zeta = np.log(share / (1 - share)) - np.log(base / (1 - base))
    sole = sole_family_pairs(design, np.arange(design.n_obs))
    assert sole.any() and (~sole).any()
    np.testing.assert_allclose(zeta[sole], 0.0, atol=1e-9)
    sd = np.exp(point["family_floor_sd_log__"])
    z = point["family_floor_z"]
    for b in np.unique(pair_bench[~sole]):
        kept = ~sole & (pair_bench == b)
        assert kept.sum() > 1
        np.testing.assert_allclose(zeta[kept], sd * (z[kept] - z[kept].mean()), atol=1e-9)
    assert (pair_floor >= 0).all() and (pair_floor <= cap + 1e-12).all()
    # the likelihood reads the pair's floor: moving one pair's z moves the rows of its
    # benchmark's centred pairs (the centring spreads it), and of no other benchmark or pair
    pair = int(np.flatnonzero(~sole)[0])
    moved = {**point, "family_floor_z": z + np.eye(n_pair)[pair]}
    ll0, ll1 = _loglik(model, point), _loglik(model, moved)
    changed = ~np.isclose(ll0, ll1, rtol=0, atol=1e-12)
    centred = np.flatnonzero(~sole & (pair_bench == pair_bench[pair]))
    np.testing.assert_array_equal(changed, np.isin(design.obs_family_benchmark, centred))


def test_a_held_out_familys_floor_is_a_free_draw():
    # A family with no training row on a benchmark draws its deviation uncentred, as a new
    # family does, and does not enter the other families' centring.
    design = make_design(small_table(("GSM8K", "MAWPS-MultiArith")), ceg.load_registries())
    t = design.table
    held_family = t["family"].value_counts().index[-1]
    held_out = (t["family"] == held_family).to_numpy()
    model = build_model(family_floor_spec(), design, held_out)
    point = _jittered_point(model, 9)
    floor, pair_floor = _at_point(model, [model["floor"], model["family_floor"]], point)
    n_pair = len(design.coords["family_benchmark"])
    pair_bench = np.zeros(n_pair, dtype=np.int64)
    pair_bench[design.obs_family_benchmark] = design.obs_benchmark
    unseen = np.zeros(n_pair, dtype=bool)
    unseen[design.obs_family_benchmark[held_out]] = True
    share, base = pair_floor / 0.25, floor[pair_bench] / 0.25
    zeta = np.log(share / (1 - share)) - np.log(base / (1 - base))
    sd, z = np.exp(point["family_floor_sd_log__"]), point["family_floor_z"]
    np.testing.assert_allclose(zeta[unseen], sd * z[unseen], atol=1e-9)
    for b in np.unique(pair_bench):
        seen = ~unseen & (pair_bench == b)
        np.testing.assert_allclose(zeta[seen].mean(), 0.0, atol=1e-9)


def test_detrended_model_effects_have_no_family_mean_or_compute_trend(design):
    """``model_effects_within_family = "detrended"``: a family's mean and linear trend in
    compute belong to its family effect and scale slope, so the model effects are
    projected off both; a family with fewer than three known-compute models has none."""
    from ceg.model import detrend_within_families

    spec = ModelSpec.load("profiles_family_scale_genfloor")
    detrended = dataclasses.replace(spec, structure=dataclasses.replace(
        spec.structure, model_effects_within_family="detrended"))
    latent = design.latent_model_index
    q = detrend_within_families(design, latent)
    np.testing.assert_allclose(q @ q, q, atol=1e-12)  # a projection
    np.testing.assert_allclose(q, q.T, atol=1e-12)
    model = build_model(detrended, design)
    point = {k: v + np.random.default_rng(2).normal(0, 1, np.shape(v))
             for k, v in model.initial_point().items()}
    (eta,) = _at_point(model, [model["model_effect"]], point)
    fam, x = design.model_family, design.model_log10_flop
    known = np.setdiff1d(np.arange(len(eta)), latent)
    assert np.all(eta[latent] == 0)
    sizes = pd.Series(fam[known]).value_counts()
    assert (sizes >= 3).any() and (sizes < 3).any()  # both cases occur in the fake table
    for f, n in sizes.items():
        idx = known[fam[known] == f]
        if n < 3:
            assert np.all(eta[idx] == 0)
        else:
            assert abs(eta[idx].sum()) < 1e-10
            assert abs(eta[idx] @ (x[idx] - x[idx].mean())) < 1e-10
            assert np.std(eta[idx]) > 1e-3  # curvature and quirks remain
    data = spec.to_dict()
    data["structure"]["model_effects_within_family"] = "detrended"
    data["structure"]["family_scale_slopes"] = False
    data["priors"].pop("family_scale_sd")
    with pytest.raises(SpecError, match="detrended"):
        ModelSpec.from_dict(data, "x.toml")


def test_detrended_model_effects_leave_a_held_out_model_free(design):
    # In a masked fit a model without a training row draws sigma_eta * z, as a new model of its
    # family would, and the projection is over the training models of each family only.
    from ceg.model import detrend_within_families

    spec = ModelSpec.load("profiles_family_scale_genfloor")
    detrended = dataclasses.replace(spec, structure=dataclasses.replace(
        spec.structure, model_effects_within_family="detrended"))
    fam, x = design.model_family, design.model_log10_flop
    latent = design.latent_model_index
    known = np.setdiff1d(np.arange(len(design.coords["model"])), latent)
    sizes = pd.Series(fam[known]).value_counts()
    family = sizes.index[sizes >= 4][0]  # three training models remain: still detrended
    members = known[fam[known] == family]
    held = members[np.argmax(x[members])]
    held_out = (design.obs_model == held)
    model = build_model(detrended, design, held_out)
    point = _jittered_point(model, 4)
    eta, sd = _at_point(model, [model["model_effect"], model["model_effect_sd"]
                                if "model_effect_sd" in model.named_vars
                                else model["model_sd"]], point)
    np.testing.assert_allclose(eta[held], sd * point["model_effect_z"][held], rtol=1e-12)
    rest = np.setdiff1d(members, [held])
    assert abs(eta[rest].sum()) < 1e-10
    assert abs(eta[rest] @ (x[rest] - x[rest].mean())) < 1e-10
    trained = np.unique(design.obs_model[~held_out])
    np.testing.assert_allclose(detrend_within_families(design, latent, trained)[held, held], 1.0)


def test_a_student_t_family_population_sums_to_zero_and_leaves_data_free_families_free(design):
    # family_population = "student_t": families with data are t_3 effects minus their mean
    # (the common level belongs to the curves, as with the normal zero sum); a family without
    # a training row is a free sd * t_3 draw that the training rows do not see. One compiled
    # function for the centred form (compiling is this test's cost); the non-centred form's
    # variables are only named.
    import dataclasses

    from ceg.spec import SpecError

    base = ModelSpec.load("default")
    held_out = _masked_family(design, "UL2")
    effects = tuple(e for e in base.structure.centred_effects if e != "family_effect")
    models = {}
    for centred in (True, False):
        structure = dataclasses.replace(
            base.structure, family_population="student_t", family_population_nu=3.0,
            centred_effects=effects + (("family_effect",) if centred else ()))
        spec = dataclasses.replace(base, structure=structure)
        model = build_model(spec, design, held_out=held_out)
        stem = "family_effect_with_data_" + ("centred" if centred else "z")
        assert model[stem].owner.op.name == "t"
        assert model["family_effect_without_data_z"].owner.op.name == "t"
        models[centred] = model
    model = models[True]
    point = model.initial_point()
    rng = np.random.default_rng(3)
    point = {k: v + rng.normal(0, 0.5, np.shape(v)) for k, v in point.items()}
    moved = dict(point)
    moved["family_effect_without_data_z"] = point["family_effect_without_data_z"] + 3.0
    outs = model.replace_rvs_by_values([model["family_effect"]])
    fn = model.compile_fn([*outs, model.logp(vars=model.observed_RVs), summed_log_density(model)],
                          inputs=model.value_vars, on_unused_input="ignore", mode=QUICK_MODE)
    effect, loglik, logp = fn(point)
    _, loglik_moved, _ = fn(moved)
    with_data = [i for i, f in enumerate(design.coords["family"]) if f != "UL2"]
    assert abs(effect[with_data].sum()) < 1e-10
    assert abs(effect[design.coords["family"].index("UL2")]) > 1e-6
    np.testing.assert_allclose(loglik_moved, loglik, rtol=1e-12)
    assert np.isfinite(logp)
    data = base.to_dict()
    assert "family_population" not in data["structure"]  # digests of old specs unchanged
    data["structure"].update(family_population="student_t", family_effects=False)
    with pytest.raises(SpecError, match="family_population.*family_effects"):
        ModelSpec.from_dict(data, "x.toml")
