r"""Build the PyMC model from a :class:`~ceg.spec.ModelSpec` and a :class:`~ceg.design.Design`.

This is the one place that knows the model's priors and parameterisation; how
the pieces combine into effective compute, the success probability and the
CEG is :mod:`ceg.engine`, which this builder calls on tensors. Observation :math:`i`
(model :math:`m` of family :math:`f`, benchmark :math:`b`, condition
:math:`c_i`, protocol group :math:`g`) has

.. math::

    \theta_i &= x_m + \delta_f + o_g + \sum_{e \in c_i} s_{e,b}(x_m) \\
    p_i &= g_b + (1 - g_b)\,\operatorname{logistic}(\alpha_b(\theta_i - \beta_b)) \\
    k_i &\sim \operatorname{BetaBinomial}(n_i,\ p_i\kappa_b,\ (1 - p_i)\kappa_b)

with :math:`s_{e,b}(x) = a_e + u_{e,b} + \gamma_e (x - x_{ref})`,
:math:`a_e \sim N(\mu_{k(e)}, \sigma_a)`, :math:`\mu_k \sim N(\mu_0, \tau)`,
:math:`u_{e,b} \sim N(0, \sigma_u)`, :math:`\gamma_e \sim N(\gamma_0, \sigma_\gamma)`,
hierarchical effects non-centred except those the spec lists in
``structure.centred_effects`` (by default the data-rich benchmark curves,
concentrations and family effects). With ``structure.anchor_family_effects`` and
``structure.anchor_enhancement_shifts`` the sampler moves in coordinates the
data pin down (a benchmark's logit as its own families see it, a latent
compute plus its family's effect, an enhancement's mean shift over its
benchmarks): changes of coordinates, the same model. Compute is handled in decades from
:math:`x_{ref}` inside the graph; the named deterministics report absolute
log10 FLOP. See ``docs/model.md``.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ceg import engine, likelihood
from ceg.design import SEP, Design
from ceg.spec import ModelSpec

#: Deterministics every model exposes; derived quantities are computed from these.
REPORTED = (
    "log10_flop", "family_effect", "protocol_offset", "logit_at_ref", "midpoint", "slope",
    "concentration",
    "category_mean", "shift_intercept", "shift_deviation", "shift_scale_slope",
)


def _prior(spec: ModelSpec, name: str, dims: str | None = None) -> pt.TensorVariable:
    p = spec.priors[name]
    if p.dist == "HalfNormal":
        return pm.HalfNormal(name, sigma=p.sigma, dims=dims)
    if p.dist == "HalfStudentT":
        return pm.HalfStudentT(name, nu=p.nu, sigma=p.sigma, dims=dims)
    if p.dist == "StudentT":
        return pm.StudentT(name, nu=p.nu, mu=p.mu, sigma=p.sigma, dims=dims)
    return pm.Normal(name, mu=p.mu, sigma=p.sigma, dims=dims)


def _pooled(spec: ModelSpec, stem: str, mean: str | None, sd: str, dims: str,
            size: int, loc: pt.TensorVariable | None = None,
            student_t_nu: float | None = None) -> pt.TensorVariable:
    """Hierarchical effect over ``dims`` with a pooled mean (0 if ``mean`` is None) and sd.

    Non-centred, ``mean + sd * z``, unless ``stem`` is listed in the spec's
    ``structure.centred_effects``: then ``Normal(mean, sd)`` directly, which
    samples better where the data pin every effect down (benchmark curves
    measured at many sizes), as the non-centred form then ties ``sd`` to all
    ``z`` in a funnel.

    With a mean and the non-centred form, ``z`` sums to zero
    (``ZeroSumNormal``): the common level of the effects is then carried by
    the mean alone. Without that, when the
    data pin every effect down, all ``z`` move together against the mean
    (posterior correlations above 0.9 across benchmarks), which forces tiny
    sampler steps. The implied prior on the effects is the same exchangeable
    normal up to the ``(1 - 1/n)`` variance factor of the sum-to-zero part.

    With ``student_t_nu`` the population is a Student-t with that many degrees
    of freedom instead of a normal (centred: ``StudentT(nu, mean, sd)``;
    non-centred: ``mean + sd * z`` with ``z ~ StudentT(nu, 0, 1)``, no sum to zero).
    """
    if loc is None:
        loc = _prior(spec, mean) if mean is not None else 0.0
    scale = _prior(spec, sd)
    if student_t_nu is not None:
        if stem in spec.structure.centred_effects:
            return pm.StudentT(f"{stem}_centred", nu=student_t_nu, mu=loc, sigma=scale,
                               dims=dims, shape=size)
        z = pm.StudentT(f"{stem}_z", nu=student_t_nu, mu=0.0, sigma=1.0, dims=dims, shape=size)
        return loc + scale * z
    if stem in spec.structure.centred_effects:
        return pm.Normal(f"{stem}_centred", loc, scale, dims=dims, shape=size)
    if mean is not None and size > 1:
        z = pm.ZeroSumNormal(f"{stem}_z", sigma=1.0, dims=dims)
    else:
        z = pm.Normal(f"{stem}_z", 0.0, 1.0, dims=dims, shape=size)
    return loc + scale * z


def build_model(spec: ModelSpec, design: Design,
                held_out: np.ndarray | None = None, *,
                observe_held_out: bool = False) -> pm.Model:
    """Return the PyMC model of ``spec`` for the data in ``design``.

    Parameters
    ----------
    spec
        The model specification (structure, priors).
    design
        Coordinates and index arrays of the evaluation table.
    held_out
        Optional boolean mask over observations: the rows left out of the
        likelihood, for held-out prediction. Their models, benchmarks and
        enhancements keep their parameters; families without a training row
        are parameterised apart (:func:`data_free_families`), so the model
        with the same mask and ``observe_held_out=True`` has this model's free
        variables and predicts the held-out rows from its posterior
        (``pm.sample_posterior_predictive``). ``None`` (the default): every
        row is observed.
    observe_held_out
        With ``held_out``: parameterise the model as the masked fit but
        observe every row. Its free variables are the masked fit's, so it
        evaluates the held-out rows' predictive and log likelihood at the
        masked posterior's draws, where units without a training row are
        draws of new units.

    Returns
    -------
    pymc.Model
        A model with named coords and dims, one observed variable
        ``n_correct`` (dims ``observation``; with ``held_out``, dims
        ``training_observation``, the labels of the rows kept) and the
        deterministics of :data:`REPORTED`.

    Raises
    ------
    ValueError
        If ``held_out`` is not a boolean vector over the observations, or
        holds out every row.
    """
    s = spec.structure
    x_ref = spec.x_ref
    c = design.coords
    n_bench, n_enh, n_eb = len(c["benchmark"]), len(c["enhancement"]), len(
        c["enhancement_benchmark"])
    with pm.Model(coords=c) as model:
        training_rows = None if held_out is None else _training_rows(design, held_out)
        if s.family_effects and len(c["family"]) > 1:
            fam_sd = _prior(spec, "family_sd")
            centred = "family_effect" in s.centred_effects
            data_free = data_free_families(design, held_out)
            if s.family_population == "student_t":
                fam = _family_effects_student_t(model, design, data_free, fam_sd, centred,
                                                s.family_population_nu)
            elif len(data_free):
                fam = _family_effects_with_data_free(model, design, data_free, fam_sd, centred)
            elif centred:
                fam = pm.ZeroSumNormal("family_effect_centred", sigma=fam_sd, dims="family")
            else:
                fam = fam_sd * pm.ZeroSumNormal("family_effect_z", sigma=1.0, dims="family")
        else:
            fam = pt.zeros(len(c["family"]))
        pm.Deterministic("family_effect", fam, dims="family")

        # Compute: decades from x_ref; latent where train_flop is an estimate. A model
        # effect (its own efficiency beyond its family's) is merged into the latent
        # compute of estimated models: the two are not separable there.
        model_sd = _prior(spec, "model_sd") if s.model_effects else None
        xc = pt.as_tensor_variable(design.model_log10_flop - x_ref)
        if s.latent_compute and len(design.latent_model_index):
            idx = design.latent_model_index
            sd_latent = design.model_log10_sd[idx]
            if model_sd is not None:
                sd_latent = pt.sqrt(sd_latent**2 + model_sd**2)
            if s.anchor_family_effects:
                xc = pt.set_subtensor(xc[idx], _anchored_latent_compute(
                    design, fam, xc[idx], sd_latent))
            else:
                z = pm.Normal("log10_flop_z", 0.0, 1.0, dims="latent_model")
                xc = pt.set_subtensor(xc[idx], xc[idx] + sd_latent * z)
        if model_sd is not None:
            # Tried and not kept: centring eta within families and removing its trend with
            # compute (docs/model.md, "Structural variants").
            eta = _model_effects(spec, design, model_sd, training_rows)
        else:
            eta = pt.zeros(len(c["model"]))
        pm.Deterministic("model_effect", eta, dims="model")
        pm.Deterministic("log10_flop", xc + x_ref, dims="model")

        if s.protocol_offsets and len(c["protocol"]):
            offset = _pooled(spec, "protocol_offset", None, "protocol_sd", "protocol",
                             len(c["protocol"]))
        else:
            offset = pt.zeros(len(c["protocol"]))
        pm.Deterministic("protocol_offset", offset, dims="protocol")

        if s.family_scale_slopes and len(c["family"]) > 1:
            # A common part of the lambdas would trade off against the benchmark slopes
            # (every curve 10% steeper, every family's compute 10% narrower), so it is
            # removed: the lambdas' mean weighted by each family's within-family spread
            # of training compute is zero (family_compute_spread). A plain zero sum over
            # the families with data was not enough: families with one training model
            # (or none) have no spread that sees their lambda, so they took up the sum at
            # no cost to the likelihood while the other families narrowed their compute
            # together (ObsScaling split: R-hat 1.10-1.16 along that direction, the mean
            # log slope correlating 0.5 with the compute offsets of small-compute models).
            # With zero weight a family's lambda is a free draw from the population, as
            # a new family's is. Non-centred: a lambda rests on a decade or less of its
            # own models' compute, so the data rarely pin it down.
            # With family_scale_population = "student_t" the z are t_nu: a few families
            # may scale far from the pool (a heavier tail than the normal's) while most
            # stay close to it.
            lam_sd = _prior(spec, "family_scale_sd")
            spread = family_compute_spread(design, held_out)
            if s.family_scale_population == "student_t":
                z = pm.StudentT("family_scale_slope_z", nu=s.family_scale_population_nu,
                                mu=0.0, sigma=1.0, dims="family")
            else:
                z = pm.Normal("family_scale_slope_z", 0.0, 1.0, dims="family")
            if spread.sum() > 0:
                z = z - spread * pt.dot(spread, z) / float(spread @ spread)
            lam = lam_sd * z
        else:
            lam = pt.zeros(len(c["family"]))
        lam = pm.Deterministic("family_scale_slope", lam, dims="family")

        # The curve is parameterised by its logit at x_ref and its slope, which the
        # data pin down nearly independently; the midpoint is derived from them.
        nu = s.slope_population_nu if s.slope_population == "student_t" else None
        # What the trend and line of model effects are taken over: the model effects, and
        # with anchor_latent_deviation also each latent-compute model's deviation from its
        # estimate (where its model effect went). A family whose compute is all latent
        # (Codex) then has a line of w_m - x_hat_m, free of its family effect, which its
        # rows do not see apart from the latent compute.
        include_latent = s.anchor_latent_deviation
        deviation = (eta + xc - (design.model_log10_flop - x_ref)) if include_latent else eta
        if s.anchor_family_scale_slopes or s.anchor_model_effect_trend:
            per_family = pt.zeros(len(c["family"]))
            if s.anchor_family_scale_slopes:
                per_family = per_family + lam
            if s.anchor_model_effect_trend:
                per_family = per_family + pt.dot(pt.as_tensor_variable(
                    model_effect_trend_weights(design, training_rows, include_latent)),
                    deviation)
            log_slope = _anchored_log_slope(spec, design, per_family, training_rows, nu)
        else:
            log_slope = _pooled(spec, "log_slope", "log_slope_mean", "log_slope_sd",
                                "benchmark", n_bench, student_t_nu=nu)
        slope = pm.Deterministic("slope", engine.benchmark_slope(log_slope, s.slope_max, pt),
                                 dims="benchmark")
        if s.anchor_family_effects and "logit_at_ref" in s.centred_effects:
            family_shift = fam
            if s.anchor_model_effect_line:
                # each family's line of model effects read at x_ref (mean and trend)
                family_shift = fam + pt.dot(pt.as_tensor_variable(
                    model_effect_line_weights(design, x_ref, training_rows, include_latent)),
                    deviation)
            logit_ref = _anchored_logit_at_ref(spec, design, family_shift, slope, training_rows)
        else:
            logit_ref = _pooled(spec, "logit_at_ref", "logit_ref_mean", "logit_ref_sd",
                                "benchmark", n_bench)
        logit_ref = pm.Deterministic("logit_at_ref", logit_ref, dims="benchmark")
        midpoint_c = engine.curve_midpoint(logit_ref, slope)
        pm.Deterministic("midpoint", midpoint_c + x_ref, dims="benchmark")
        if s.likelihood == "beta_binomial":
            if s.concentration == "per_benchmark":
                log_kappa = _pooled(spec, "log_concentration", "log_concentration_mean",
                                    "log_concentration_sd", "benchmark", n_bench)
            else:
                log_kappa = _prior(spec, "log_concentration_mean") * pt.ones(n_bench)
            kappa = pm.Deterministic("concentration", engine.benchmark_concentration(
                log_kappa, s.concentration_max, pt), dims="benchmark")
        else:
            pm.Deterministic("concentration", pt.fill(pt.zeros(n_bench), np.inf),
                             dims="benchmark")

        # Enhancement shifts, pooled by category.
        mu_cat = pm.Deterministic("category_mean", _pooled(
            spec, "category_mean", "shift_mean", "category_sd", "category",
            len(c["category"])), dims="category")
        if s.anchor_enhancement_shifts:
            a, u = _anchored_shifts(spec, design, mu_cat[design.enhancement_category])
        else:
            a = _pooled(spec, "shift_intercept", None, "enhancement_sd", "enhancement", n_enh,
                        loc=mu_cat[design.enhancement_category])
            u = _pooled(spec, "shift_deviation", None, "benchmark_shift_sd",
                        "enhancement_benchmark", n_eb)
        a = pm.Deterministic("shift_intercept", a, dims="enhancement")
        u = pm.Deterministic("shift_deviation", u, dims="enhancement_benchmark")
        if s.scale_dependence:
            gamma = _pooled(spec, "shift_scale_slope", "slope_mean", "slope_sd", "enhancement",
                            n_enh)
        else:
            gamma = pt.zeros(n_enh)
        gamma = pm.Deterministic("shift_scale_slope", gamma, dims="enhancement")

        # Each model's compute as its rows see it (decades from x_ref), and the compute
        # the scale slope multiplies: raw pre-training compute, or the effective compute
        # of the model's base rows (family efficiency and model effect included).
        x_eff = engine.model_compute(xc, fam[design.model_family], eta,
                                     lam[design.model_family], 0.0)
        x_scale = engine.scale_compute(s, xc, x_eff)
        pm.Deterministic("scale_log10_flop", x_scale + x_ref, dims="model")

        # Observations. Index 0 of the padded vectors means "nothing".
        pad = pt.zeros(1)
        a_p, u_p, g_p = (pt.concatenate([pad, v]) for v in (a, u, gamma))
        e_idx, eb_idx = design.obs_enhancement, design.obs_enhancement_benchmark
        # Compute is in decades from x_ref here, so the engine's x_ref is 0.
        shift_total = engine.condition_log10_ceg(a_p[e_idx], u_p[eb_idx], g_p[e_idx],
                                                 x_scale[design.obs_model], 0.0)
        theta = engine.effective_compute(x_eff[design.obs_model],
                                         pt.concatenate([pad, offset])[design.obs_protocol],
                                         shift_total)
        b = design.obs_benchmark
        floor, psi, cap = _floor(spec, design)
        floor = pm.Deterministic("floor", floor, dims="benchmark")
        if s.family_floor:
            rows_all = (np.arange(design.n_obs) if training_rows is None else training_rows)
            pair_floor = pm.Deterministic(
                "family_floor", _family_floor(spec, design, psi, cap, floor, rows_all),
                dims="family_benchmark")
            row_floor = pair_floor[design.obs_family_benchmark]
        else:
            row_floor = floor[b]
        logit_offset = _ability_offsets(spec, design, training_rows)
        p = engine.probability(s, theta, midpoint_c[b], slope[b], row_floor, logit_offset,
                               lib=pt)
        n_items = pm.Data("n_items", design.n_items, dims="observation")
        counts = likelihood.count_data(design.n_items, design.n_correct)
        n_correct = pm.Data(likelihood.COUNTS, counts[likelihood.COUNTS], dims="observation")
        log_coef = pm.Data(likelihood.LOG_COEFFICIENT, counts[likelihood.LOG_COEFFICIENT],
                           dims="observation")
        obs_dim = "observation"
        if held_out is not None and not observe_held_out:
            rows = training_rows
            model.add_coord("training_observation", [c["observation"][i] for i in rows])
            p, b, n_items, n_correct = p[rows], b[rows], n_items[rows], n_correct[rows]
            log_coef = log_coef[rows]
            obs_dim = "training_observation"
        if s.likelihood == "beta_binomial":
            likelihood.beta_binomial("n_correct", n_items, p, kappa, b, log_coef,
                                     observed=n_correct, dims=obs_dim)
        else:
            pm.Binomial("n_correct", n=n_items, p=p, observed=n_correct, dims=obs_dim)
    return model


def family_compute_spread(design: Design, held_out: np.ndarray | None) -> np.ndarray:
    r"""Return each family's within-family spread of training compute.

    The sum over the family's models that have a training row of
    :math:`(x_m - \bar x_f)^2`, with :math:`x_m` the model's log10
    pre-training compute and :math:`\bar x_f` their mean: the leverage
    with which the training rows see the family's scale slope
    :math:`\lambda_f` once its family effect has taken up the family's mean.
    Zero for a family with one training model, several of one size, or none.

    Parameters
    ----------
    design
        Coordinates and index arrays of the evaluation table.
    held_out
        Boolean mask of the held-out rows, or ``None`` (nothing held out).

    Returns
    -------
    numpy.ndarray
        One non-negative value per family, in ``design.coords["family"]`` order.
    """
    rows = np.arange(design.n_obs) if held_out is None else _training_rows(design, held_out)
    models = np.unique(design.obs_model[rows])
    x = design.model_log10_flop[models]
    fam = design.model_family[models]
    n_fam = len(design.coords["family"])
    count = np.bincount(fam, minlength=n_fam)
    mean = np.bincount(fam, weights=x, minlength=n_fam) / np.maximum(count, 1)
    return np.bincount(fam, weights=(x - mean[fam]) ** 2, minlength=n_fam)


def data_free_families(design: Design, held_out: np.ndarray | None) -> np.ndarray:
    """Return the indices of the families all of whose rows are held out.

    Parameters
    ----------
    design
        Coordinates and index arrays of the evaluation table.
    held_out
        Boolean mask of the held-out rows, or ``None`` (nothing held out).

    Returns
    -------
    numpy.ndarray
        Sorted family indices; empty when nothing is held out.
    """
    if held_out is None:
        return np.array([], dtype=int)
    kept = np.zeros(len(design.coords["family"]), bool)
    kept[design.model_family[design.obs_model[_training_rows(design, held_out)]]] = True
    return np.flatnonzero(~kept)


def _family_coords(model: pm.Model, design: Design, data_free: np.ndarray) -> np.ndarray:
    """Add the coords of families with and without data (once); return those with data."""
    families = design.coords["family"]
    seen = np.setdiff1d(np.arange(len(families)), data_free)
    if "family_with_data" not in model.coords:
        model.add_coord("family_with_data", [families[i] for i in seen])
        model.add_coord("family_without_data", [families[i] for i in data_free])
    return seen


def _family_effects_student_t(model: pm.Model, design: Design, data_free: np.ndarray,
                              family_sd: pt.TensorVariable, centred: bool,
                              nu: float) -> pt.TensorVariable:
    """Family effects from a Student-t population (``family_population = "student_t"``).

    A few families far from the rest (on ObsScaling XGLM at -1.4 and Phi at +1.3
    decades) inflate a normal population's sd, and with it every new family's
    interval; a t population lets them sit in its tails while its scale follows
    the typical family. Each family with data is ``t_nu(0, family_sd)`` (centred
    or ``family_sd * z`` non-centred, as the spec says), minus their mean: as
    with the normal zero sum, the common level belongs to the benchmark curves.
    (For a normal population this is exactly ``ZeroSumNormal``; for a t it is
    the centred version of independent t effects.) A family without a training
    row is a free ``family_sd * t_nu`` draw around that common level: a new
    family, as held-out prediction reads it.
    """
    families = design.coords["family"]
    seen = _family_coords(model, design, data_free)
    if centred:
        raw = pm.StudentT("family_effect_with_data_centred", nu=nu, mu=0.0, sigma=family_sd,
                          dims="family_with_data")
    else:
        raw = family_sd * pm.StudentT("family_effect_with_data_z", nu=nu, mu=0.0, sigma=1.0,
                                      dims="family_with_data")
    fam = pt.zeros(len(families))
    fam = pt.set_subtensor(fam[seen], raw - raw.mean())
    if len(data_free):
        without = family_sd * pm.StudentT("family_effect_without_data_z", nu=nu, mu=0.0,
                                          sigma=1.0, dims="family_without_data")
        fam = pt.set_subtensor(fam[data_free], without)
    return fam


def _family_effects_with_data_free(model: pm.Model, design: Design, data_free: np.ndarray,
                                   family_sd: pt.TensorVariable, centred: bool,
                                   name: str = "family_effect") -> pt.TensorVariable:
    """Family effects of a masked fit where some families have no training row.

    In one zero-sum vector over all families, the effects of families without
    data are pinned only by the sum and the prior: centred, each is a funnel
    against ``family_sd`` (on the ObsScaling split, seven such families left
    R-hat 1.48 on ``family_sd``). Here the families with data sum to zero
    among themselves (centred or not, as the spec says) and each data-free
    family is ``family_sd * z`` with ``z ~ N(0, 1)``, non-centred, where the
    prior alone moves it, so its posterior draws are draws of a new family
    around the (zero) common level of the families with data: held-out
    prediction reads them as they are (``build_model(...,
    observe_held_out=True)``). ``name`` prefixes the free variables (the
    family scale slopes use the same construction).
    """
    families = design.coords["family"]
    seen = _family_coords(model, design, data_free)
    if len(seen) == 1:
        with_data = pt.zeros(1)  # one family with data: its effect is the common level
    elif centred:
        with_data = pm.ZeroSumNormal(f"{name}_with_data_centred", sigma=family_sd,
                                     dims="family_with_data")
    else:
        with_data = family_sd * pm.ZeroSumNormal(f"{name}_with_data_z", sigma=1.0,
                                                 dims="family_with_data")
    without = family_sd * pm.Normal(f"{name}_without_data_z", 0.0, 1.0,
                                    dims="family_without_data")
    fam = pt.zeros(len(families))
    fam = pt.set_subtensor(fam[seen], with_data)
    return pt.set_subtensor(fam[data_free], without)


def _model_effects(spec: ModelSpec, design: Design, model_sd: pt.TensorVariable,
                   rows: np.ndarray | None = None) -> pt.TensorVariable:
    r"""Return each model's effect :math:`\eta_m \sim N(0, \sigma_\eta)`, 0 where compute is latent.

    A model whose compute is an estimate has its effect merged into its latent
    compute (the two are not separable), so only the other models get one.
    With ``structure.model_effects_within_family = "detrended"``,
    :math:`\eta = \sigma_\eta Q z`, where :math:`Q` projects each family's models
    (compute known) off the constant and their log compute: the family's mean
    is its family effect and its linear trend in compute its scale slope, so the
    model effects keep only what neither carries (curvature, one model's quirk),
    and a family of one or two such models has none.

    Non-centred (:math:`\eta = \sigma_\eta z`) by default; centred when
    ``"model_effect"`` is in ``structure.centred_effects``: a model measured on
    dozens of benchmarks has its effect pinned down by its rows, where the
    non-centred form ties every :math:`z` to :math:`\sigma_\eta`.
    """
    s = spec.structure
    n_model = len(design.coords["model"])
    latent = (design.latent_model_index if s.latent_compute
              else np.zeros(0, dtype=np.int64))
    if s.model_effects_within_family == "detrended":
        z = pm.Normal("model_effect_z", 0.0, 1.0, dims="model")
        trained = None if rows is None else np.unique(design.obs_model[rows])
        q = detrend_within_families(design, latent, trained)
        return model_sd * pt.dot(pt.as_tensor_variable(q), z)
    if "model_effect" not in s.centred_effects:
        eta = model_sd * pm.Normal("model_effect_z", 0.0, 1.0, dims="model")
        return pt.set_subtensor(eta[latent], 0.0) if len(latent) else eta
    free = np.setdiff1d(np.arange(n_model), latent)
    model = pm.modelcontext(None)
    if "effect_model" not in model.coords:
        model.add_coord("effect_model", [design.coords["model"][i] for i in free])
    eta_free = pm.Normal("model_effect_centred", 0.0, model_sd, dims="effect_model")
    return pt.set_subtensor(pt.zeros(n_model)[free], eta_free)


def detrend_within_families(design: Design, latent: np.ndarray,
                            trained: np.ndarray | None = None) -> np.ndarray:
    r"""Return the projection that removes each family's mean and log-compute trend.

    Parameters
    ----------
    design
        Coordinates and index arrays of the evaluation table.
    latent
        Positions of the models whose compute is latent (they get no model effect).
    trained
        Positions of the models with a training row (a masked fit's); ``None``: all.
        The others (held-out models) keep a free effect :math:`\sigma_\eta z`, as a
        new model of the family draws, and do not enter their family's projection.

    Returns
    -------
    numpy.ndarray
        Shape ``(model, model)``, block diagonal by family: for a family's models
        with known compute, :math:`I - X (X^T X)^{-1} X^T` with
        :math:`X = [1, \log_{10} C]`; zero for a family with fewer than three
        such models and for latent models; the identity for models without a
        training row (``trained``).
    """
    n_model = len(design.coords["model"])
    q = np.zeros((n_model, n_model))
    known = np.setdiff1d(np.arange(n_model), latent)
    if trained is not None:
        untrained = np.setdiff1d(known, trained)
        q[untrained, untrained] = 1.0
        known = np.intersect1d(known, trained)
    for f in np.unique(design.model_family[known]):
        idx = known[design.model_family[known] == f]
        if len(idx) < 3:
            continue
        x = design.model_log10_flop[idx]
        basis = np.column_stack([np.ones(len(idx)), x - x.mean()])
        hat = basis @ np.linalg.pinv(basis)
        q[np.ix_(idx, idx)] = np.eye(len(idx)) - hat
    return q


def _floor(spec: ModelSpec, design: Design) -> tuple[pt.TensorVariable, pt.TensorVariable,
                                                     np.ndarray]:
    r"""Return each benchmark's floor (chance, zero, or learned in [0, cap]), its logit and cap.

    ``floor = "learned"``: :math:`g_b = c_b\,\operatorname{logistic}(\psi_b)`,
    :math:`\psi_b = \mu_\psi + \sigma_\psi z_b` for benchmarks with chance
    :math:`c_b > 0` (failed answer extraction can score below chance); 0
    where chance is 0, unless ``structure.generative_floor_max`` is set: then
    a benchmark with chance 0 (free-form answers) has
    :math:`g_b = G\,\operatorname{logistic}(\psi^g_b)`,
    :math:`\psi^g_b = \mu_g + \sigma_g z^g_b`, the score reached without the
    ability (common answers, formats), from its own population.

    Returns
    -------
    tuple
        The floor :math:`g_b`, its logit :math:`\psi_b` (0 where the floor is not
        learned) and its cap (:math:`c_b`, :math:`G`, or 0 where the floor is not
        learned: :func:`floor_cap`).
    """
    chance = design.benchmark_chance
    mode = spec.structure.floor
    cap = floor_cap(spec, design)
    if mode == "chance":
        return pt.as_tensor_variable(chance), pt.zeros(len(chance)), cap
    if mode == "zero":
        return pt.zeros(len(chance)), pt.zeros(len(chance)), cap
    out = pt.zeros(len(chance))
    psi = pt.zeros(len(chance))
    model = pm.modelcontext(None)
    groups = [("floored_benchmark", "floor_logit", np.flatnonzero(chance > 0))]
    if spec.structure.generative_floor_max is not None:
        groups.append(("generative_benchmark", "generative_floor_logit",
                       np.flatnonzero(chance == 0)))
    for dim, stem, idx in groups:
        if not len(idx):
            continue
        mean, sd = _prior(spec, f"{stem}_mean"), _prior(spec, f"{stem}_sd")
        if dim not in model.coords:
            model.add_coord(dim, [design.coords["benchmark"][i] for i in idx])
        z = pm.Normal(f"{stem}_z", 0.0, 1.0, dims=dim)
        psi = pt.set_subtensor(psi[idx], mean + sd * z)
        out = pt.set_subtensor(out[idx], engine.learned_floor(cap[idx], psi[idx], lib=pt))
    return out, psi, cap


def floor_cap(spec: ModelSpec, design: Design) -> np.ndarray:
    """Return each benchmark's learned-floor cap (:func:`ceg.engine.floor_caps`).

    0 where the floor is not learned (``floor`` is ``"chance"`` or ``"zero"``, or
    chance is 0 without ``generative_floor_max``).
    """
    return engine.floor_caps(design.benchmark_chance, spec.structure)


def _family_floor(spec: ModelSpec, design: Design, psi: pt.TensorVariable, cap: np.ndarray,
                  floor: pt.TensorVariable, rows: np.ndarray) -> pt.TensorVariable:
    r"""Return the floor each (family, benchmark) pair sees (``structure.family_floor``).

    :math:`g_{f,b} = c_b\,\operatorname{logistic}(\psi_b + \zeta_{f,b})`,
    :math:`\zeta = \sigma_\zeta (z - \bar z_b)`, :math:`z \sim N(0, 1)`: a family
    may sit below (or above) the benchmark's floor, as when its answers favour one
    distractor before it learns the task (ObsScaling, BBH temporal_sequences:
    four newer families at 0.06-0.12 under base prompting, chance 0.25, while the
    older ones sit at chance). Centred within the benchmark over the pairs with a
    training row, so :math:`g_b` is the floor of the typical family; a benchmark's
    only family has none (its floor is the benchmark's); pairs without a training
    row (a held-out family) keep an uncentred draw, as a new family does. Reported
    as ``family_floor`` (dims ``family_benchmark``).
    """
    pair_bench, _ = pair_benchmark_family(design)
    n_pair = len(pair_bench)
    seen = np.zeros(n_pair, dtype=bool)
    seen[design.obs_family_benchmark[rows]] = True
    learned = cap[pair_bench] > 0
    kept = learned & seen & ~sole_family_pairs(design, rows)
    sd = _prior(spec, "family_floor_sd")
    z = pm.Normal("family_floor_z", 0.0, 1.0, dims="family_benchmark")
    # Centred where kept, 0 where not (so also where the floor is not learned), plus the
    # free draw of pairs without a training row. Masks enter as 0/1 weights.
    unseen = (learned & ~seen).astype(float)
    zeta = _centred_within(z, pair_bench, kept) + unseen * z
    value = engine.learned_floor(cap[pair_bench], psi[pair_bench] + sd * zeta, lib=pt)
    weight = learned.astype(float)
    return weight * value + (1.0 - weight) * floor[pair_bench]


def _ability_offsets(spec: ModelSpec, design: Design,
                     rows: np.ndarray | None = None) -> pt.TensorVariable | float:
    r"""Return each observation's offset on the logit (ability) scale.

    - ``family_benchmark_effects``: :math:`\phi_{f,b}`, a family's strength on a
      benchmark beyond its overall efficiency (a code family weak on language
      tasks), for every (family, benchmark) pair of the table.
    - ``ability_residual``: :math:`r_{m,b}`, one per (model, benchmark), shared
      by every condition of that model on that benchmark, so base and enhanced
      rows of one model are a paired contrast.

    Each is :math:`\sigma (z - \bar z_g)`, :math:`z \sim N(0, 1)`, centred within
    a group, so that it does not trade off along a ridge the prior alone would have
    to close. ``structure.offset_centring`` chooses the groups:

    - ``"model"``: the profile within its family (its common part is the family
      effect), the residual within its model (its common part is the model effect).
      Measured: the uncentred form on the ObsScaling split left R-hat 1.28 on the
      CEGs of a one-model family, Phi, whose family effect its 24 profile terms
      could absorb.
    - ``"nested"``: the residual within its (family, benchmark), over the units with
      a training row (its common part there is the profile, so a one-model family has
      none); the profile as above, but none for a benchmark's only training family
      (there it is the benchmark's own curve). Units without a training row keep an
      uncentred draw :math:`\sigma z`, as a new unit would.

    A new family or model draws its terms from the same population. Reported as
    ``family_benchmark_effect`` and ``ability_residual``.
    """
    s = spec.structure
    rows = np.arange(design.n_obs) if rows is None else np.asarray(rows)
    nested = s.offset_centring == "nested"
    terms = []
    if s.family_benchmark_effects:
        sd = _prior(spec, "family_benchmark_sd")
        z = pm.Normal("family_benchmark_effect_z", 0.0, 1.0, dims="family_benchmark")
        group = _pair_groups(design.coords["family_benchmark"])
        kept = ~sole_family_pairs(design, rows) if nested else None
        phi = pm.Deterministic("family_benchmark_effect", sd * _centred_within(z, group, kept),
                               dims="family_benchmark")
        terms.append(phi[design.obs_family_benchmark])
    if s.ability_residual:
        sd = _prior(spec, "ability_residual_sd")
        z = pm.Normal("ability_residual_z", 0.0, 1.0, dims="model_benchmark")
        if nested:
            group, seen = _residual_family_benchmark(design, rows)
            centred = _centred_within(z, group, seen, keep_unseen=True)
        else:
            centred = _centred_within(z, _pair_groups(design.coords["model_benchmark"]))
        r = pm.Deterministic("ability_residual", sd * centred, dims="model_benchmark")
        terms.append(r[design.obs_model_benchmark])
    return engine.ability_offset(*terms)


def sole_family_pairs(design: Design, rows: np.ndarray) -> np.ndarray:
    """Return, per (family, benchmark) pair, whether its family is its benchmark's only one.

    Counted over the observations at ``rows`` (a masked fit's training rows): a pair
    is flagged when its family holds all of its benchmark's rows there
    (:func:`benchmark_family_share` is 1).
    """
    pair_bench, pair_family = pair_benchmark_family(design)
    return benchmark_family_share(design, rows)[pair_bench, pair_family] == 1.0


def pair_benchmark_family(design: Design) -> tuple[np.ndarray, np.ndarray]:
    """Return the benchmark and the family of each (family, benchmark) pair, as indices."""
    n_pair = len(design.coords["family_benchmark"])
    pair_bench = np.zeros(n_pair, dtype=np.int64)
    pair_family = np.zeros(n_pair, dtype=np.int64)
    pair_bench[design.obs_family_benchmark] = design.obs_benchmark
    pair_family[design.obs_family_benchmark] = design.model_family[design.obs_model]
    return pair_bench, pair_family


def _residual_family_benchmark(design: Design, rows: np.ndarray
                               ) -> tuple[np.ndarray, np.ndarray]:
    """Return each (model, benchmark) unit's (family, benchmark) pair and whether it has a row."""
    n_unit = len(design.coords["model_benchmark"])
    group = np.zeros(n_unit, dtype=np.int64)
    group[design.obs_model_benchmark] = design.obs_family_benchmark
    seen = np.zeros(n_unit, dtype=bool)
    seen[design.obs_model_benchmark[rows]] = True
    return group, seen


def _pair_groups(labels: list[str]) -> np.ndarray:
    """Return the group of each ``"group|benchmark"`` label (the text before the last ``|``)."""
    groups = [lab.rsplit(SEP, 1)[0] for lab in labels]
    order = {g: i for i, g in enumerate(dict.fromkeys(groups))}
    return np.array([order[g] for g in groups], dtype=np.int64)


def _centred_within(z: pt.TensorVariable, group: np.ndarray, kept: np.ndarray | None = None,
                    *, keep_unseen: bool = False) -> pt.TensorVariable:
    """Return ``z`` minus the mean of ``z`` within each group.

    With ``kept``, the mean is over the kept entries only; the others are 0, or with
    ``keep_unseen`` left as ``z`` (uncentred).
    """
    if kept is None:
        kept = np.ones(len(group), dtype=bool)
    kept = np.asarray(kept, dtype=bool)
    n = np.bincount(group[kept], minlength=int(group.max()) + 1).astype(float)
    total = pt.zeros(len(n))[group[kept]].inc(z[np.flatnonzero(kept)])
    mean = total / np.maximum(n, 1.0)
    centred = z - mean[group]
    if kept.all():
        return centred
    return pt.where(kept, centred, z if keep_unseen else 0.0)


def benchmark_family_share(design: Design, rows: np.ndarray | None = None) -> np.ndarray:
    """Return each family's share of each benchmark's observations.

    Parameters
    ----------
    design
        Coordinates and index arrays of the evaluation table.
    rows
        Positions of the observations to count (a masked fit counts its
        training rows only); ``None``: all.

    Returns
    -------
    numpy.ndarray
        Shape ``(benchmark, family)``; every row with an observation sums to
        1, a benchmark without one is all zeros.
    """
    rows = np.arange(design.n_obs) if rows is None else np.asarray(rows)
    share = np.zeros((len(design.coords["benchmark"]), len(design.coords["family"])))
    np.add.at(share, (design.obs_benchmark[rows], design.model_family[design.obs_model[rows]]),
              1.0)
    total = share.sum(axis=1, keepdims=True)
    return np.divide(share, total, out=np.zeros_like(share), where=total > 0)


def _models_on_line(design: Design, rows: np.ndarray | None,
                    include_latent: bool = False) -> np.ndarray:
    """Return, per model, whether a family's line of model effects takes it.

    A model with a training row (at ``rows``) and a known compute; with
    ``include_latent`` a model with a training row, whatever its compute.
    """
    rows = np.arange(design.n_obs) if rows is None else np.asarray(rows)
    known = np.zeros(len(design.coords["model"]), dtype=bool)
    known[np.unique(design.obs_model[rows])] = True
    return known if include_latent else known & (np.asarray(design.model_log10_sd) == 0)


def model_effect_trend_weights(design: Design, rows: np.ndarray | None = None,
                               include_latent: bool = False) -> np.ndarray:
    r"""Return the weights that give each family's trend of model effects in log compute.

    :math:`c_f = \sum_{m \in f} h_{fm}\eta_m`, the least-squares slope of the
    model effects of family :math:`f`'s models with a training row and known compute
    on their log10 compute, :math:`h_{fm} = (x_m - \bar x_f)/\sum_{m'} (x_{m'} - \bar x_f)^2`;
    zero for a family with fewer than two such models or one compute. A trend
    :math:`c_f` stretches the family's compute spacing by :math:`1 + c_f`, which the
    slopes of benchmarks measured by that family alone trade against one for one.

    Parameters
    ----------
    design
        Coordinates and index arrays of the evaluation table.
    rows
        Positions of the training observations; ``None``: all.
    include_latent
        Also take the models whose compute is latent, at their estimated compute
        (``anchor_latent_deviation``: their deviation from the estimate stands in
        for their model effect).

    Returns
    -------
    numpy.ndarray
        Shape ``(family, model)``.
    """
    known = _models_on_line(design, rows, include_latent)
    h = np.zeros((len(design.coords["family"]), len(known)))
    for f in np.unique(design.model_family[known]):
        idx = np.flatnonzero(known & (design.model_family == f))
        x = design.model_log10_flop[idx] - design.model_log10_flop[idx].mean()
        if len(idx) >= 2 and (x @ x) > 0:
            h[f, idx] = x / (x @ x)
    return h


def model_effect_line_weights(design: Design, x_ref: float, rows: np.ndarray | None = None,
                              include_latent: bool = False) -> np.ndarray:
    r"""Return the weights that read each family's line of model effects at ``x_ref``.

    :math:`\hat\eta_f(x_{ref}) = \bar\eta_f + c_f (x_{ref} - \bar x_f)`, the
    least-squares line of family :math:`f`'s model effects (models with a training
    row and known compute) in log compute, with :math:`c_f` from
    :func:`model_effect_trend_weights`; the mean alone for a family of one compute.
    A benchmark measured by family :math:`f` alone pins down its logit at
    :math:`x_{ref}` plus :math:`\alpha_b(\delta_f + \hat\eta_f(x_{ref}))`
    (``anchor_model_effect_line`` anchors the logits on it). ``rows`` and
    ``include_latent`` as in :func:`model_effect_trend_weights`; the weights of
    a family's models sum to 1 where it has any, so a family whose models are
    all latent has :math:`\delta_f` cancel from :math:`\delta_f + \hat\eta_f`.

    Returns
    -------
    numpy.ndarray
        Shape ``(family, model)``.
    """
    known = _models_on_line(design, rows, include_latent)
    weights = model_effect_trend_weights(design, rows, include_latent)
    for f in np.unique(design.model_family[known]):
        idx = np.flatnonzero(known & (design.model_family == f))
        x_bar = design.model_log10_flop[idx].mean()
        weights[f, idx] = 1.0 / len(idx) + (x_ref - x_bar) * weights[f, idx]
    return weights


def _anchored_log_slope(spec: ModelSpec, design: Design, family_scale: pt.TensorVariable,
                        rows: np.ndarray | None, nu: float | None) -> pt.TensorVariable:
    r"""Return the benchmarks' log slopes, sampled as their own families' compute sees them.

    ``family_scale`` is the per-family stretch of compute that a benchmark's slope
    trades against: the family scale slopes :math:`\lambda_f`
    (``anchor_family_scale_slopes``), the trend of the family's model effects
    :math:`c_f` (``anchor_model_effect_trend``, :func:`model_effect_trend_weights`),
    or their sum; written for :math:`\lambda_f` below.

    With family scale slopes a family's effective compute grows as
    :math:`(1 + \lambda_f)(x - x_{ref})`, so a benchmark measured by one family pins
    down :math:`\alpha_b (1 + \lambda_f)`: its slope and that family's scale slope
    trade off, and every such benchmark's slope moves with :math:`\lambda_f` (on
    the bundled data GPT-3's, against its ~60 GPT-3-only benchmarks). The free
    variable is :math:`\lambda'_b = \log\alpha_b + \bar\lambda_b`,
    :math:`\bar\lambda_b = \sum_f w_{bf}\lambda_f` (row shares,
    :func:`benchmark_family_share`), with prior
    :math:`N(\mu_\alpha + \bar\lambda_b, \sigma_\alpha)` (or the Student-t), and
    :math:`\log\alpha_b = \lambda'_b - \bar\lambda_b`: a shift given the
    :math:`\lambda_f` (Jacobian 1), so the model is unchanged (the first-order form
    of :math:`\log(1 + \bar\lambda_b)`, exact as a change of coordinates at any
    :math:`\lambda`). Centred, as the log slopes are wherever this is used.
    """
    on_bench = pt.dot(benchmark_family_share(design, rows), family_scale)
    mean, sd = _prior(spec, "log_slope_mean"), _prior(spec, "log_slope_sd")
    if nu is not None:
        anchored = pm.StudentT("log_slope_anchored", nu=nu, mu=mean + on_bench, sigma=sd,
                               dims="benchmark")
    else:
        anchored = pm.Normal("log_slope_anchored", mean + on_bench, sd, dims="benchmark")
    return anchored - on_bench


def _anchored_logit_at_ref(spec: ModelSpec, design: Design, family_effect: pt.TensorVariable,
                           slope: pt.TensorVariable,
                           rows: np.ndarray | None = None) -> pt.TensorVariable:
    r"""Return the benchmarks' logits at x_ref, sampled as their own families see them.

    A benchmark measured by one family pins down only
    :math:`\ell_b + \alpha_b \delta_f`: its difficulty and that family's
    efficiency trade off one for one, and the sampler has to walk that ridge for
    every such benchmark at once. So the free variable is the logit at x_ref of
    the benchmark's own families (their effects averaged by rows,
    :math:`\bar\delta_b`), :math:`\ell'_b = \ell_b + \alpha_b\bar\delta_b`,
    with prior :math:`N(\mu_\ell + \alpha_b\bar\delta_b, \sigma_\ell)`; and
    :math:`\ell_b = \ell'_b - \alpha_b\bar\delta_b`. Given the family
    effects and slopes this is a shift (Jacobian 1), so the model's density
    over :math:`\ell_b` is unchanged: only the coordinates the sampler moves
    in change. A masked fit (``rows``, its training rows) anchors on the
    families of its training rows: a family with held-out rows only then does
    not enter the sampler's coordinates of any benchmark.
    """
    share = benchmark_family_share(design, rows)
    on_bench = slope * pt.dot(share, family_effect)
    mean, sd = _prior(spec, "logit_ref_mean"), _prior(spec, "logit_ref_sd")
    anchored = pm.Normal("logit_at_ref_anchored", mean + on_bench, sd, dims="benchmark")
    return anchored - on_bench


def _anchored_shifts(spec: ModelSpec, design: Design, category_mean: pt.TensorVariable
                     ) -> tuple[pt.TensorVariable, pt.TensorVariable]:
    r"""Return the enhancement intercepts and deviations, sampled as the data see them.

    The rows of enhancement :math:`e` pin down :math:`a_e + u_{e,b}` on each of
    its :math:`n_e` benchmarks; the common part of :math:`a_e` and the
    :math:`u_{e,b}` is set by the prior alone, so in the plain coordinates
    :math:`a_e` and all its deviations drift together (the largest posterior
    correlations of the bundled fit: one-shot, few-shot and chain-of-thought
    deviations). Here the free variables are the enhancement's mean shift over
    its benchmarks, :math:`c_e = a_e + \bar u_e`, the deviations' centred part
    and a standardised residual of :math:`a_e` given :math:`c_e`. With
    :math:`s_e^2 = \sigma_u^2 / n_e` and :math:`v_e = \sigma_a^2 + s_e^2`,

    .. math::

        c_e &\sim N(\mu_{k(e)}, \sqrt{v_e}), \quad
        a_e = \mu_{k(e)} + \tfrac{\sigma_a^2}{v_e}(c_e - \mu_{k(e)})
              + \sqrt{\sigma_a^2 s_e^2 / v_e}\,\zeta_e, \quad \zeta_e \sim N(0, 1), \\
        u_{e,b} &= (c_e - a_e) + \sigma_u (z_{e,b} - \bar z_e), \quad z_{e,b} \sim N(0, 1),

    which is the model's own joint distribution of :math:`(a_e, u_{e,\cdot})`
    (:math:`a_e \sim N(\mu_k, \sigma_a)` and :math:`u_{e,b} \sim N(0, \sigma_u)`
    independent): the mean and the centred part of i.i.d. normals are
    independent, and :math:`a_e \mid c_e` is the normal conditional. The mean
    :math:`\bar z_e` does not enter the model (a direction the prior alone
    sets, independent of everything else).

    With ``"shift_deviation"`` in ``structure.centred_effects`` the deviations
    are sampled centred, :math:`v_{e,b} = \sigma_u z_{e,b} \sim N(0, \sigma_u)`
    (free variable ``shift_deviation_centred``), the same model: for data where
    an enhancement is measured on many benchmarks (chain-of-thought on every
    benchmark of the ObsScaling split), whose rows pin its deviations down.

    Returns
    -------
    tuple of TensorVariable
        :math:`a_e` (dims enhancement) and :math:`u_{e,b}` (dims enhancement_benchmark).
    """
    pairs_enh = design.enhancement_benchmark_pairs[:, 0]
    n_enh = len(design.coords["enhancement"])
    # every enhancement has at least one benchmark: the pairs come from its rows
    n_bench_of = np.bincount(pairs_enh, minlength=n_enh).astype(float)
    sd_a, sd_u = _prior(spec, "enhancement_sd"), _prior(spec, "benchmark_shift_sd")
    var_mean = sd_u**2 / n_bench_of
    var_c = sd_a**2 + var_mean
    c = pm.Normal("shift_measured_mean", category_mean, pt.sqrt(var_c), dims="enhancement")
    zeta = pm.Normal("shift_intercept_z", 0.0, 1.0, dims="enhancement")
    a = (category_mean + sd_a**2 / var_c * (c - category_mean)
         + pt.sqrt(sd_a**2 * var_mean / var_c) * zeta)
    if "shift_deviation" in spec.structure.centred_effects:
        # centred: v = sd_u z, the same model; for data where an enhancement is measured
        # on many benchmarks and its deviations are pinned down by its rows
        free = v = pm.Normal("shift_deviation_centred", 0.0, sd_u, dims="enhancement_benchmark")
        free_sd = sd_u
    else:
        free = pm.Normal("shift_deviation_z", 0.0, 1.0, dims="enhancement_benchmark")
        v, free_sd = sd_u * free, 1.0
    v_mean = pt.zeros(n_enh)[pairs_enh].inc(v) / n_bench_of
    if spec.structure.pin_shift_deviation_mean:
        _pin_deviation_mean(free, free_sd, pairs_enh, n_bench_of)
    return a, (c - a)[pairs_enh] + (v - v_mean[pairs_enh])


#: How much narrower ``pin_shift_deviation_mean`` makes the prior of the deviations' mean:
#: its variance is divided by this.
DEVIATION_MEAN_PIN = 16.0


def _pin_deviation_mean(free: pt.TensorVariable, free_sd: float | pt.TensorVariable,
                        pairs_enh: np.ndarray, n_bench_of: np.ndarray) -> None:
    r"""Narrow the prior of each enhancement's mean deviation variable (no quantity sees it).

    Under :math:`z_{e,b} \sim N(0, s)` i.i.d., the mean :math:`\bar z_e \sim N(0, s^2/n_e)`
    and the centred part are independent, and the anchored shifts use only the centred
    part. So :math:`\bar z_e`'s distribution can be changed without changing the model: a
    potential :math:`-\tfrac12 (K-1)\, n_e \bar z_e^2 / s^2` makes it
    :math:`N(0, s^2/(K n_e))`, and its normalising factor :math:`K^{-1/2}` does not depend
    on :math:`s`, so every hyperparameter's density is unchanged too. Why: where an
    enhancement's rows pin its deviations down (one-shot and few-shot on 40 GPT-3
    benchmarks), :math:`\bar z_e` keeps its prior spread while each :math:`z_{e,b}`'s own
    spread is small, so the :math:`n_e` variables move together as one block, the
    posterior's widest direction after a diagonal mass matrix (correlation eigenvalues
    9-16 on the bundled fits: docs/model.md, "Parameterisation"). Measured (session 45,
    seed 3): no help to the candidate, and the default's trees 12% shorter but its
    effective draws fewer, so no shipped spec turns it on. Prior draws ignore the
    potential (PyMC's prior predictive does), which changes only :math:`\bar z_e`.
    """
    n_enh = len(n_bench_of)
    mean = pt.zeros(n_enh)[pairs_enh].inc(free) / n_bench_of
    pm.Potential("shift_deviation_mean_pin",
                 -0.5 * (DEVIATION_MEAN_PIN - 1.0) * pt.sum(n_bench_of * mean**2) / free_sd**2)


def _anchored_latent_compute(design: Design, family_effect: pt.TensorVariable,
                            log10_flop_estimate: pt.TensorVariable,
                            sd: np.ndarray | pt.TensorVariable) -> pt.TensorVariable:
    r"""Return the latent compute of estimated models, sampled as the data see it.

    The rows of model :math:`m` see :math:`x_m + \delta_f` (its compute plus its
    family's efficiency), so for a family whose compute is all estimated the two
    trade off one for one. The free variable is that sum,
    :math:`w_m \sim N(\hat x_m + \delta_f, \mathrm{sd}_m)`, and
    :math:`x_m = w_m - \delta_f`: given the family effect a shift, so the
    model's density over :math:`x_m` (:math:`N(\hat x_m, \mathrm{sd}_m)`) is
    unchanged (``sd`` is :math:`\mathrm{sd}_m`, or with model effects
    :math:`\sqrt{\mathrm{sd}_m^2 + \sigma_\eta^2}`). Returns :math:`x_m - x_{ref}` of
    the latent models.
    """
    idx = design.latent_model_index
    fam = family_effect[design.model_family[idx]]
    seen = pm.Normal("effective_log10_flop_latent", log10_flop_estimate + fam, sd,
                     dims="latent_model")
    return seen - fam


def _training_rows(design: Design, held_out: np.ndarray) -> np.ndarray:
    """Return the positions of the observed (not held-out) rows, checking the mask."""
    mask = np.asarray(held_out)
    if mask.dtype != bool or mask.shape != (design.n_obs,):
        raise ValueError(f"held_out must be a boolean vector of length {design.n_obs} "
                         f"(one per observation); got dtype {mask.dtype}, shape {mask.shape}")
    rows = np.flatnonzero(~mask)
    if not len(rows):
        raise ValueError("held_out holds out every observation: nothing is left to fit")
    return rows
