"""Anchoring the benchmark logits and latent compute on the family effects.

``structure.anchor_family_effects`` changes the coordinates the sampler moves
in, never the model: at every point of the plain parameterisation the anchored
model, evaluated at the corresponding point, gives the same reported
quantities and the same log density up to a constant (the log Jacobian of the
latent compute's non-centred form, ``sum(log sd)``). No sampling: the log
densities are evaluated at jittered points.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import ceg
from ceg.design import make_design
from ceg.model import benchmark_family_share, build_model
from ceg.spec import ModelSpec
from fakes import small_table
from graph_eval import QUICK_MODE, at_values, log_density

NATURAL = ("logit_at_ref", "slope", "family_effect", "log10_flop", "midpoint")


@pytest.fixture(scope="module")
def design():
    reg = ceg.load_registries()
    return make_design(ceg.load_dataset(reg), reg)


@pytest.fixture(scope="module")
def specs():
    spec = ModelSpec.load("default")
    on = replace(spec, structure=replace(spec.structure, anchor_family_effects=True))
    off = replace(spec, structure=replace(spec.structure, anchor_family_effects=False))
    return on, off


@pytest.fixture(scope="module")
def models(specs, design):
    on, off = specs
    return build_model(on, design), build_model(off, design)


def _anchored_point(plain_point, natural, spec, design):
    """The anchored model's point for a plain model's point (the map the docs state)."""
    point = {k: v for k, v in plain_point.items()
             if k not in ("log10_flop_z", "logit_at_ref_centred")}
    share = benchmark_family_share(design)
    point["logit_at_ref_anchored"] = (natural["logit_at_ref"]
                                      + natural["slope"] * (share @ natural["family_effect"]))
    idx = design.latent_model_index
    point["effective_log10_flop_latent"] = (
        natural["log10_flop"][idx] - spec.x_ref
        + natural["family_effect"][design.model_family[idx]])
    return point


def test_family_share_rows_sum_to_one_and_count_rows(design):
    share = benchmark_family_share(design)
    np.testing.assert_allclose(share.sum(axis=1), 1.0)
    fam = np.array(design.coords["family"])[design.model_family[design.obs_model]]
    bench = np.array(design.coords["benchmark"])[design.obs_benchmark]
    b, f = design.coords["benchmark"].index("GSM8K"), design.coords["family"].index("PaLM")
    on_gsm8k = bench == "GSM8K"
    assert share[b, f] == pytest.approx(np.mean(fam[on_gsm8k] == "PaLM"))


def test_anchored_model_has_the_anchored_free_variables(models):
    on, off = models
    names_on = {v.name for v in on.free_RVs}
    names_off = {v.name for v in off.free_RVs}
    assert names_on - names_off == {"logit_at_ref_anchored", "effective_log10_flop_latent"}
    assert names_off - names_on == {"logit_at_ref_centred", "log10_flop_z"}


def test_anchoring_keeps_the_reported_quantities_and_the_density(models, specs, design):
    on, off = models
    spec_on, _ = specs
    natural_off = off.compile_fn(off.replace_rvs_by_values([off[n] for n in NATURAL]),
                                 inputs=off.value_vars, on_unused_input="ignore", mode=QUICK_MODE)
    natural_on = on.compile_fn(on.replace_rvs_by_values([on[n] for n in NATURAL]),
                               inputs=on.value_vars, on_unused_input="ignore", mode=QUICK_MODE)
    logp_off, logp_on = log_density(off), log_density(on)
    rng = np.random.default_rng(11)
    gaps = []
    for _ in range(5):
        point = {k: v + rng.normal(0.0, 0.5, np.shape(v))
                 for k, v in off.initial_point().items()}
        natural = dict(zip(NATURAL, natural_off(point), strict=True))
        mapped = _anchored_point(point, natural, spec_on, design)
        for name, value in zip(NATURAL, natural_on(mapped), strict=True):
            np.testing.assert_allclose(value, natural[name], rtol=1e-10, atol=1e-10,
                                       err_msg=name)
        gaps.append(float(logp_off(point) - logp_on(mapped)))
    # A change of variables with a constant Jacobian: the gap is the same at every point
    # (to rounding of log densities of about -1e4), and it is sum(log sd) of the latent models.
    np.testing.assert_allclose(gaps, gaps[0], atol=1e-7)
    assert gaps[0] == pytest.approx(np.log(design.model_log10_sd[design.latent_model_index]).sum(),
                                    abs=1e-7)


def test_anchored_shifts_have_the_models_prior(design):
    """Under the prior, a_e ~ N(mu_k, sigma_a) and u_eb ~ N(0, sigma_u), all independent.

    4,000 prior draws: the standardised effects have mean 0 (standard error 1/sqrt(4000) =
    0.016) and sd 1 (standard error about 0.011); a correlation between two of them has
    standard error 0.016. Tolerances are 4 standard errors.
    """
    import pymc as pm

    spec = ModelSpec.load("default")
    spec = replace(spec, structure=replace(spec.structure, anchor_enhancement_shifts=True))
    model = build_model(spec, design)
    names = ["shift_intercept", "shift_deviation", "category_mean", "enhancement_sd",
             "benchmark_shift_sd"]
    a, u, mu, sd_a, sd_u = pm.draw([model[n] for n in names], draws=4000, random_seed=3)
    cat = design.enhancement_category
    za = (a - mu[:, cat]) / sd_a[:, None]
    zu = u / sd_u[:, None]
    assert np.all(np.abs(za.mean(0)) < 0.064) and np.all(np.abs(zu.mean(0)) < 0.064)
    assert np.all(np.abs(za.std(0) - 1) < 0.045) and np.all(np.abs(zu.std(0) - 1) < 0.045)
    enh = design.coords["enhancement"].index("few_shot")
    cols = np.flatnonzero(design.enhancement_benchmark_pairs[:, 0] == enh)
    assert len(cols) > 10  # the case the anchoring is for: many benchmarks per enhancement
    corr = np.corrcoef(np.column_stack([za[:, enh], zu[:, cols[:10]]]).T)
    off = corr[~np.eye(len(corr), dtype=bool)]
    assert np.max(np.abs(off)) < 0.064


def test_anchoring_the_log_slopes_on_family_scale_slopes_keeps_the_model():
    # structure.anchor_family_scale_slopes samples log alpha_b + lambda_bar_b instead of
    # log alpha_b: a shift given the lambdas (Jacobian 1), so at corresponding points the two
    # forms give the same slopes and the same log density (to rounding).
    reg = ceg.load_registries()
    t = ceg.load_dataset(reg)
    design = make_design(t[t["benchmark"].isin(["GSM8K", "SVAMP", "BoolQ", "COPA"])], reg)
    spec = ModelSpec.load("profiles_family_scale_genfloor")
    assert "log_slope" in spec.structure.centred_effects
    on = replace(spec, structure=replace(spec.structure, anchor_family_scale_slopes=True))
    m_off, m_on = build_model(spec, design), build_model(on, design)
    assert "log_slope_anchored" in m_on.named_vars and "log_slope_centred" not in m_on.named_vars
    rng = np.random.default_rng(3)
    share = benchmark_family_share(design)
    logp_off, logp_on = log_density(m_off), log_density(m_on)
    slope_off = m_off.compile_fn(m_off.replace_rvs_by_values([m_off["slope"]])[0],
                                 inputs=m_off.value_vars, on_unused_input="ignore", mode=QUICK_MODE)
    slope_on = m_on.compile_fn(m_on.replace_rvs_by_values([m_on["slope"]])[0],
                               inputs=m_on.value_vars, on_unused_input="ignore", mode=QUICK_MODE)
    lam_fn = m_off.compile_fn(m_off.replace_rvs_by_values([m_off["family_scale_slope"]])[0],
                              inputs=m_off.value_vars, on_unused_input="ignore", mode=QUICK_MODE)
    diffs = []
    for _ in range(3):
        point = {k: v + rng.normal(0, 0.5, np.shape(v)) for k, v in
                 m_off.initial_point().items()}
        lam_bar = share @ lam_fn(point)
        on_point = {k: v for k, v in point.items() if k != "log_slope_centred"}
        on_point["log_slope_anchored"] = point["log_slope_centred"] + lam_bar
        np.testing.assert_allclose(slope_on(on_point), slope_off(point), rtol=1e-12)
        diffs.append(logp_on(on_point) - logp_off(point))
    np.testing.assert_allclose(diffs, 0.0, atol=1e-8)
    bad = spec.to_dict()
    bad["structure"]["anchor_family_scale_slopes"] = True
    bad["structure"]["centred_effects"] = [e for e in bad["structure"]["centred_effects"]
                                           if e != "log_slope"]
    with pytest.raises(ceg.errors.SpecError, match="anchor_family_scale_slopes"):
        ModelSpec.from_dict(bad, "x.toml")


def _deviation_fn(m, design, include_latent):
    """A function of a point: the model effects, plus each model's compute minus its estimate
    when ``include_latent`` (zero for a known compute): what the trend and line are taken over."""
    names = ["model_effect", "log10_flop"]
    fn = m.compile_fn(m.replace_rvs_by_values([m[n] for n in names]), inputs=m.value_vars,
                      on_unused_input="ignore", mode=QUICK_MODE)

    def deviation(point):
        eta, x = fn(point)
        return eta + (x - design.model_log10_flop) * include_latent
    return deviation


@pytest.mark.parametrize("include_latent", [False, True])
def test_anchoring_the_log_slopes_on_the_model_effects_trend_keeps_the_model(include_latent):
    # structure.anchor_model_effect_trend samples log alpha_b + sum_f w_bf c_f, c_f the
    # least-squares trend of family f's model effects in log compute (with
    # anchor_latent_deviation also of the latent-compute models' deviation from their
    # estimate): the same model (equal slopes and log density at corresponding points), and
    # the weights recover a linear trend over the models they take.
    from ceg.model import model_effect_trend_weights

    reg = ceg.load_registries()
    t = ceg.load_dataset(reg)
    design = make_design(t[t["benchmark"].isin(["GSM8K", "SVAMP", "BoolQ", "COPA"])], reg)
    h = model_effect_trend_weights(design, include_latent=include_latent)
    x = design.model_log10_flop
    known = (np.asarray(design.model_log10_sd) == 0) | include_latent
    if include_latent:  # Codex: every model's compute latent, so it has a trend only here
        codex = design.coords["family"].index("Codex")
        assert (np.asarray(design.model_log10_sd)[design.model_family == codex] > 0).all()
        assert h[codex].any()
    trend = h @ np.where(known, 0.3 + 0.2 * x, 0.0)
    per_family = pd.Series(known).groupby(design.model_family).sum()
    several = per_family.index[per_family >= 2].to_numpy()
    assert len(several) and (per_family < 2).any()
    spread = [np.ptp(x[known & (design.model_family == f)]) > 0 for f in several]
    np.testing.assert_allclose(trend[several[spread]], 0.2, atol=1e-10)
    np.testing.assert_allclose(np.delete(trend, several[spread]), 0.0, atol=1e-12)

    spec = ModelSpec.load("profiles_family_scale_genfloor")
    on = replace(spec, structure=replace(spec.structure, anchor_model_effect_trend=True,
                                         anchor_latent_deviation=include_latent))
    m_off, m_on = build_model(spec, design), build_model(on, design)
    share = benchmark_family_share(design)
    logp_off, logp_on = log_density(m_off), log_density(m_on)

    def fn(m, name):
        return m.compile_fn(m.replace_rvs_by_values([m[name]])[0], inputs=m.value_vars,
                            on_unused_input="ignore", mode=QUICK_MODE)

    slope_off, slope_on = fn(m_off, "slope"), fn(m_on, "slope")
    deviation = _deviation_fn(m_off, design, include_latent)
    rng = np.random.default_rng(4)
    diffs = []
    for _ in range(3):
        point = {k: v + rng.normal(0, 0.5, np.shape(v)) for k, v in
                 m_off.initial_point().items()}
        on_point = {k: v for k, v in point.items() if k != "log_slope_centred"}
        on_point["log_slope_anchored"] = point["log_slope_centred"] + share @ (h @ deviation(point))
        np.testing.assert_allclose(slope_on(on_point), slope_off(point), rtol=1e-12)
        diffs.append(logp_on(on_point) - logp_off(point))
    np.testing.assert_allclose(diffs, 0.0, atol=1e-8)


@pytest.mark.parametrize("include_latent", [False, True])
def test_anchoring_the_logits_on_the_model_effects_line_keeps_the_model(include_latent):
    # structure.anchor_model_effect_line samples l_b + alpha_b sum_f w_bf (delta_f + eta_f(x_ref)),
    # eta_f(x_ref) the family's least-squares line of model effects read at x_ref (with
    # anchor_latent_deviation the latent-compute models' deviations from their estimates
    # included): the same model, and the weights read a linear function of compute at x_ref.
    from ceg.model import model_effect_line_weights

    reg = ceg.load_registries()
    t = ceg.load_dataset(reg)
    design = make_design(t[t["benchmark"].isin(["GSM8K", "SVAMP", "BoolQ", "COPA"])], reg)
    spec = ModelSpec.load("profiles_family_scale_genfloor")
    w = model_effect_line_weights(design, spec.x_ref, include_latent=include_latent)
    x = design.model_log10_flop
    known = (np.asarray(design.model_log10_sd) == 0) | include_latent
    line = w @ np.where(known, 0.3 + 0.2 * (x - spec.x_ref), 0.0)
    for f in range(len(design.coords["family"])):
        xs = x[known & (design.model_family == f)]
        if len(xs) and np.ptp(xs) > 0:
            np.testing.assert_allclose(line[f], 0.3, atol=1e-10)
        elif len(xs):
            np.testing.assert_allclose(line[f], 0.3 + 0.2 * (xs.mean() - spec.x_ref), atol=1e-10)
        else:
            assert line[f] == 0.0
    on = replace(spec, structure=replace(spec.structure, anchor_model_effect_line=True,
                                         anchor_latent_deviation=include_latent))
    m_off, m_on = build_model(spec, design), build_model(on, design)
    share = benchmark_family_share(design)
    logp_off, logp_on = log_density(m_off), log_density(m_on)
    names = ("logit_at_ref", "slope", "family_effect")
    deviation = _deviation_fn(m_off, design, include_latent)
    natural = m_off.compile_fn(m_off.replace_rvs_by_values([m_off[n] for n in names]),
                               inputs=m_off.value_vars, on_unused_input="ignore", mode=QUICK_MODE)
    logit_on = m_on.compile_fn(m_on.replace_rvs_by_values([m_on["logit_at_ref"]])[0],
                               inputs=m_on.value_vars, on_unused_input="ignore", mode=QUICK_MODE)
    rng = np.random.default_rng(5)
    diffs = []
    for _ in range(3):
        point = {k: v + rng.normal(0, 0.5, np.shape(v)) for k, v in
                 m_off.initial_point().items()}
        logit, slope, fam = natural(point)
        on_point = dict(point)
        on_point["logit_at_ref_anchored"] = logit + slope * (share @ (fam + w @ deviation(point)))
        np.testing.assert_allclose(logit_on(on_point), logit, rtol=1e-10, atol=1e-10)
        diffs.append(logp_on(on_point) - logp_off(point))
    np.testing.assert_allclose(diffs, 0.0, atol=1e-8)


def test_latent_deviation_needs_a_line_or_trend_to_join():
    # anchor_latent_deviation only changes what the trend and line are taken over: alone it
    # would do nothing, so the spec refuses it and names what to turn on.
    spec = ModelSpec.load("profiles_family_scale_genfloor").to_dict()
    spec["structure"]["anchor_latent_deviation"] = True
    with pytest.raises(ceg.errors.SpecError, match="anchor_latent_deviation needs"):
        ModelSpec.from_dict(spec, "x.toml")
    spec["structure"]["anchor_model_effect_trend"] = True
    assert ModelSpec.from_dict(spec, "x.toml").structure.anchor_latent_deviation


def test_centring_the_anchored_deviations_keeps_the_model():
    """``"shift_deviation"`` in ``centred_effects`` samples v = sigma_u z instead of z.

    At jittered points of the non-centred form and the matching points of the centred one,
    the shifts are equal and the log densities differ by the log Jacobian of v = sigma_u z,
    -n log sigma_u (n deviations), to rounding.
    """
    design = make_design(small_table(), ceg.load_registries())
    spec = ModelSpec.load("default")
    assert spec.structure.anchor_enhancement_shifts
    centred = replace(spec, structure=replace(
        spec.structure, centred_effects=(*spec.structure.centred_effects, "shift_deviation")))
    plain_model, centred_model = build_model(spec, design), build_model(centred, design)
    assert ({v.name for v in centred_model.free_RVs} - {v.name for v in plain_model.free_RVs}
            == {"shift_deviation_centred"})
    names = ["shift_intercept", "shift_deviation"]
    plain_shifts = at_values(plain_model, [plain_model[n] for n in names])
    centred_shifts = at_values(centred_model, [centred_model[n] for n in names])
    plain_lp, centred_lp = log_density(plain_model), log_density(centred_model)
    n = len(design.coords["enhancement_benchmark"])
    rng = np.random.default_rng(5)
    for _ in range(3):
        point = {k: v + rng.normal(0, 0.5, np.shape(v))
                 for k, v in plain_model.initial_point().items()}
        sd_u = np.exp(point["benchmark_shift_sd_log__"])
        other = {k: v for k, v in point.items() if k != "shift_deviation_z"}
        other["shift_deviation_centred"] = sd_u * point["shift_deviation_z"]
        for got, want in zip(centred_shifts(other), plain_shifts(point), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
        assert centred_lp(other) - plain_lp(point) == pytest.approx(-n * np.log(sd_u), abs=1e-8)


@pytest.mark.parametrize("centred", [False, True])
def test_pinning_the_deviations_mean_keeps_the_model(centred):
    """``structure.pin_shift_deviation_mean`` narrows the prior of each enhancement's mean
    deviation variable, which no quantity depends on.

    At jittered points: the shifts are those without the pin, they do not move when a
    constant is added to one enhancement's deviation variables (the pinned direction), and
    the log densities differ by the potential -(K-1)/2 sum_e n_e mean_e^2 / s^2 alone (s = 1
    non-centred, sigma_u centred), to rounding.
    """
    from ceg.model import DEVIATION_MEAN_PIN

    design = make_design(small_table(), ceg.load_registries())
    spec = ModelSpec.load("default")
    if centred:
        spec = replace(spec, structure=replace(
            spec.structure, centred_effects=(*spec.structure.centred_effects,
                                             "shift_deviation")))
    pinned = replace(spec, structure=replace(spec.structure, pin_shift_deviation_mean=True))
    plain_model, pinned_model = build_model(spec, design), build_model(pinned, design)
    assert [v.name for v in plain_model.free_RVs] == [v.name for v in pinned_model.free_RVs]
    assert [p.name for p in pinned_model.potentials] == ["shift_deviation_mean_pin"]
    names = ["shift_intercept", "shift_deviation"]
    plain_shifts = at_values(plain_model, [plain_model[n] for n in names])
    pinned_shifts = at_values(pinned_model, [pinned_model[n] for n in names])
    plain_lp, pinned_lp = log_density(plain_model), log_density(pinned_model)
    free = "shift_deviation_centred" if centred else "shift_deviation_z"
    enh = design.enhancement_benchmark_pairs[:, 0]
    n = np.bincount(enh)
    assert n.max() >= 3  # an enhancement with several benchmarks, so a mean and a centred part
    rng = np.random.default_rng(6)
    for _ in range(3):
        point = {k: v + rng.normal(0, 0.5, np.shape(v))
                 for k, v in plain_model.initial_point().items()}
        s = np.exp(point["benchmark_shift_sd_log__"]) if centred else 1.0
        mean = np.bincount(enh, weights=point[free]) / n
        want = plain_shifts(point)
        for got, w in zip(pinned_shifts(point), want, strict=True):
            np.testing.assert_allclose(got, w, rtol=1e-12, atol=1e-14)
        moved = dict(point)
        moved[free] = point[free] + rng.normal(0, 1.0, len(n))[enh]
        for got, w in zip(plain_shifts(moved), want, strict=True):
            np.testing.assert_allclose(got, w, rtol=1e-10, atol=1e-12)
        potential = -0.5 * (DEVIATION_MEAN_PIN - 1) * np.sum(n * mean**2) / s**2
        assert pinned_lp(point) - plain_lp(point) == pytest.approx(potential, abs=1e-8)
        assert abs(potential) > 1e-3  # the check above could fail


def test_the_pin_leaves_the_deviation_scale_unweighted():
    # The potential multiplies the density of a mean m ~ N(0, s^2/n) by exp(-(K-1) n m^2 /
    # 2 s^2); integrated over m that is K^(-1/2) for every s, so the hyperparameter s keeps
    # its density (were it not, the pin would change the model). Quadrature to 1e-10.
    from scipy import integrate, stats

    from ceg.model import DEVIATION_MEAN_PIN as K

    for s, n in [(0.05, 40), (0.3, 40), (2.0, 3)]:
        sd = s / np.sqrt(n)
        mass, _ = integrate.quad(
            lambda m, sd=sd, n=n, s=s: (stats.norm.pdf(m, 0, sd)
                                        * np.exp(-0.5 * (K - 1) * n * m**2 / s**2)),
            -12 * sd, 12 * sd, epsabs=1e-12)
        assert mass == pytest.approx(K**-0.5, abs=1e-10)


def test_the_pin_needs_anchored_shifts():
    spec = ModelSpec.load("default").to_dict()
    spec["structure"]["pin_shift_deviation_mean"] = True
    assert ModelSpec.from_dict(spec, "x.toml").structure.pin_shift_deviation_mean
    spec["structure"]["anchor_enhancement_shifts"] = False
    with pytest.raises(ceg.errors.SpecError, match="pin_shift_deviation_mean needs"):
        ModelSpec.from_dict(spec, "x.toml")
