// The default ceg model (models/default.toml as built by ceg.model.build_model), in Stan.
//
// Same priors (passed as data from the spec by benchmarks/stan_data.py), same centred and
// non-centred choices, same zero-sum construction, latent compute, protocol offsets and
// beta-binomial likelihood with the probability clip. Compute is in decades from x_ref, as
// in the PyMC graph. Every parameter is named after the PyMC value variable it mirrors
// (without PyMC's transform suffix), so a PyMC point maps onto Stan's parameters by name.
//
// Coordinates. With anchored = 1 the sampler moves in the coordinates PyMC samples the
// default in (structure.anchor_family_effects and anchor_enhancement_shifts; docs/model.md,
// "Parameterisation"): latent compute plus its family's effect
// (effective_log10_flop_latent), each benchmark's logit at x_ref as its own families see it
// (logit_at_ref_anchored), each enhancement's mean shift over its benchmarks
// (shift_measured_mean). These are changes of coordinates with Jacobian 1: the same model,
// so ESS per second can be compared like for like. With anchored = 0, the plain coordinates.
//
// Zero sums. PyMC's ZeroSumNormal(sigma) over n values has n - 1 free values y and
// value v = extend(y) (pymc.distributions.transforms.ZeroSumTransform.extend_axis), an
// isometry onto the sum-to-zero plane: sum(v^2) == sum(y^2), constant Jacobian. Its log
// density is -0.5 sum(v^2) / sigma^2 - (n - 1) log(sigma) + const, which is exactly
// "y ~ normal(0, sigma)" over the n - 1 free values; the marginal variance of each v_i is
// sigma^2 (1 - 1/n). The Stan shipped with httpstan 4.13 (2.35) has no sum_to_zero_vector,
// and this construction also gives both samplers the same unconstrained geometry.
functions {
  vector zero_sum(vector y) {
    int n = rows(y) + 1;
    real s = sum(y);
    real norm = s / (sqrt(n) + n);
    real fill = norm - s / sqrt(n);
    return append_row(y, fill) - norm;
  }
}
data {
  int<lower=1> N;   // observations
  int<lower=1> S;   // stacking slots (most enhancements in one condition, at least 1)
  int<lower=1> M;   // models
  int<lower=0> L;   // models whose compute is latent
  int<lower=1> F;   // families
  int<lower=0> P;   // protocol groups
  int<lower=1> B;   // benchmarks
  int<lower=2> K;   // categories (PyMC uses a plain Normal for one: not mirrored here)
  int<lower=2> E;   // enhancements (likewise)
  int<lower=0> EB;  // enhancement x benchmark pairs
  vector[M] model_x;                                   // log10 train_flop - x_ref
  vector<lower=0>[M] model_sd;                         // its sd (0 = stated)
  array[L] int<lower=1, upper=M> latent_index;
  array[M] int<lower=1, upper=F> model_family;
  array[E] int<lower=1, upper=K> enhancement_category;
  vector<lower=0, upper=1>[B] chance;
  array[N] int<lower=1, upper=M> obs_model;
  array[N] int<lower=1, upper=B> obs_benchmark;
  array[N] int<lower=1, upper=P + 1> obs_protocol;     // 1: reference protocol (no offset)
  array[S, N] int<lower=1, upper=E + 1> obs_enhancement;            // 1: empty slot
  array[S, N] int<lower=1, upper=EB + 1> obs_enhancement_benchmark;  // 1: empty slot
  array[N] int<lower=1> n_items;
  array[N] int<lower=0> n_correct;
  real<lower=0, upper=0.5> probability_clip;
  real x_ref;
  int<lower=0, upper=1> anchored;                      // 1: PyMC's anchored coordinates
  matrix<lower=0, upper=1>[B, F] family_share;         // family f's share of benchmark b's rows
  array[EB] int<lower=1, upper=E> pair_enhancement;    // enhancement of each pair
  vector<lower=1>[E] n_bench_of;                       // benchmarks of each enhancement
  // Priors from the spec: Normal(mu, sigma) as {mu, sigma}; HalfNormal(sigma) as sigma.
  array[2] real prior_logit_ref_mean;
  real<lower=0> prior_logit_ref_sd;
  array[2] real prior_log_slope_mean;
  real<lower=0> prior_log_slope_sd;
  array[2] real prior_log_concentration_mean;
  real<lower=0> prior_log_concentration_sd;
  real<lower=0> prior_family_sd;
  real<lower=0> prior_protocol_sd;
  array[2] real prior_shift_mean;
  real<lower=0> prior_category_sd;
  real<lower=0> prior_enhancement_sd;
  real<lower=0> prior_benchmark_shift_sd;
  array[2] real prior_slope_mean;
  real<lower=0> prior_slope_sd;
}
transformed data {
  array[N] int obs_family = model_family[obs_model];
  vector[N] obs_chance = chance[obs_benchmark];
}
parameters {
  vector[anchored ? 0 : L] log10_flop_z;
  vector[anchored ? L : 0] effective_log10_flop_latent;  // x_m + delta_f of latent models
  array[F > 1] real<lower=0> family_sd;
  vector[F - 1] family_effect_centred;        // ZeroSumNormal(family_sd), centred
  array[P > 0] real<lower=0> protocol_sd;
  vector[P] protocol_offset_z;
  real logit_ref_mean;
  real<lower=0> logit_ref_sd;
  vector[anchored ? 0 : B] logit_at_ref_centred;
  vector[anchored ? B : 0] logit_at_ref_anchored;   // l_b + slope_b * (share * delta)_b
  real log_slope_mean;
  real<lower=0> log_slope_sd;
  vector[B] log_slope_centred;
  real log_concentration_mean;
  real<lower=0> log_concentration_sd;
  vector[B] log_concentration_centred;
  real shift_mean;
  real<lower=0> category_sd;
  vector[K - 1] category_mean_z;              // ZeroSumNormal(1), non-centred
  real<lower=0> enhancement_sd;
  vector[anchored ? E : 0] shift_measured_mean;     // a_e + mean of u_e over its benchmarks
  vector[E] shift_intercept_z;
  real<lower=0> benchmark_shift_sd;
  vector[EB] shift_deviation_z;
  real slope_mean;
  real<lower=0> slope_sd;
  vector[E - 1] shift_scale_slope_z;          // ZeroSumNormal(1), non-centred
}
transformed parameters {
  vector[M] xc = model_x;                      // decades from x_ref
  vector[F] family_effect = zero_sum(family_effect_centred);
  vector[P] protocol_offset = protocol_offset_z;
  vector[B] slope = exp(log_slope_centred);
  vector[B] on_bench = slope .* (family_share * family_effect);
  vector[B] logit_at_ref;
  vector[B] concentration = exp(log_concentration_centred);
  vector[K] category_mean = shift_mean + category_sd * zero_sum(category_mean_z);
  vector[E] shift_mu = category_mean[enhancement_category];
  vector[E] var_mean = square(benchmark_shift_sd) ./ n_bench_of;
  vector[E] var_c = square(enhancement_sd) + var_mean;
  vector[E] shift_intercept;
  vector[EB] shift_deviation = benchmark_shift_sd * shift_deviation_z;
  vector[E] shift_scale_slope = slope_mean + slope_sd * zero_sum(shift_scale_slope_z);
  if (anchored) {
    xc[latent_index] = effective_log10_flop_latent - family_effect[model_family[latent_index]];
    logit_at_ref = logit_at_ref_anchored - on_bench;
    // a_e given its measured mean c_e (the normal conditional), deviations: c_e - a_e plus
    // the centred part of sd_u z (ceg.model._anchored_shifts)
    shift_intercept = shift_mu + square(enhancement_sd) * (shift_measured_mean - shift_mu) ./ var_c
                      + sqrt(square(enhancement_sd) * var_mean ./ var_c) .* shift_intercept_z;
    vector[E] v_mean = rep_vector(0, E);
    for (j in 1:EB) {
      v_mean[pair_enhancement[j]] += shift_deviation[j];
    }
    v_mean = v_mean ./ n_bench_of;
    shift_deviation = (shift_measured_mean - shift_intercept)[pair_enhancement]
                      + shift_deviation - v_mean[pair_enhancement];
  } else {
    xc[latent_index] = xc[latent_index] + model_sd[latent_index] .* log10_flop_z;
    logit_at_ref = logit_at_ref_centred;
    shift_intercept = shift_mu + enhancement_sd * shift_intercept_z;
  }
  if (P > 0) {
    protocol_offset *= protocol_sd[1];
  }
}
model {
  if (anchored) {
    effective_log10_flop_latent ~ normal(model_x[latent_index]
                                         + family_effect[model_family[latent_index]],
                                         model_sd[latent_index]);
  } else {
    log10_flop_z ~ std_normal();
  }
  if (F > 1) {
    family_sd[1] ~ normal(0, prior_family_sd);
    family_effect_centred ~ normal(0, family_sd[1]);   // see "Zero sums" above
  }
  if (P > 0) {
    protocol_sd[1] ~ normal(0, prior_protocol_sd);
  }
  protocol_offset_z ~ std_normal();
  logit_ref_mean ~ normal(prior_logit_ref_mean[1], prior_logit_ref_mean[2]);
  logit_ref_sd ~ normal(0, prior_logit_ref_sd);
  if (anchored) {
    logit_at_ref_anchored ~ normal(logit_ref_mean + on_bench, logit_ref_sd);
  } else {
    logit_at_ref_centred ~ normal(logit_ref_mean, logit_ref_sd);
  }
  log_slope_mean ~ normal(prior_log_slope_mean[1], prior_log_slope_mean[2]);
  log_slope_sd ~ normal(0, prior_log_slope_sd);
  log_slope_centred ~ normal(log_slope_mean, log_slope_sd);
  log_concentration_mean ~ normal(prior_log_concentration_mean[1],
                                  prior_log_concentration_mean[2]);
  log_concentration_sd ~ normal(0, prior_log_concentration_sd);
  log_concentration_centred ~ normal(log_concentration_mean, log_concentration_sd);
  shift_mean ~ normal(prior_shift_mean[1], prior_shift_mean[2]);
  category_sd ~ normal(0, prior_category_sd);
  category_mean_z ~ std_normal();
  enhancement_sd ~ normal(0, prior_enhancement_sd);
  if (anchored) {
    shift_measured_mean ~ normal(shift_mu, sqrt(var_c));
  }
  shift_intercept_z ~ std_normal();
  benchmark_shift_sd ~ normal(0, prior_benchmark_shift_sd);
  shift_deviation_z ~ std_normal();
  slope_mean ~ normal(prior_slope_mean[1], prior_slope_mean[2]);
  slope_sd ~ normal(0, prior_slope_sd);
  shift_scale_slope_z ~ std_normal();
  {
    // index 1 of each padded vector means "nothing"
    vector[E + 1] a_p = append_row(0, shift_intercept);
    vector[EB + 1] u_p = append_row(0, shift_deviation);
    vector[E + 1] g_p = append_row(0, shift_scale_slope);
    vector[N] x_obs = xc[obs_model];
    vector[N] theta = x_obs + family_effect[obs_family]
                      + append_row(0, protocol_offset)[obs_protocol];
    for (s in 1:S) {
      theta += a_p[obs_enhancement[s]] + u_p[obs_enhancement_benchmark[s]]
               + g_p[obs_enhancement[s]] .* x_obs;
    }
    vector[B] midpoint_c = -logit_at_ref ./ slope;
    vector[N] p = obs_chance + (1 - obs_chance)
                  .* inv_logit(slope[obs_benchmark] .* (theta - midpoint_c[obs_benchmark]));
    p = probability_clip + (1 - 2 * probability_clip) * p;
    vector[N] kappa = concentration[obs_benchmark];
    n_correct ~ beta_binomial(n_items, p .* kappa, (1 - p) .* kappa);
  }
}
generated quantities {
  vector[M] log10_flop = xc + x_ref;
  vector[B] midpoint = -logit_at_ref ./ slope + x_ref;
}
