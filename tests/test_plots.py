"""The plots of ceg.plots on fake fits: what each figure shows, checked against the draws."""

from __future__ import annotations

import dataclasses

import matplotlib

matplotlib.use("Agg")

import arviz as az  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from scipy import special, stats  # noqa: E402

from ceg import derived  # noqa: E402
from ceg.errors import CegError  # noqa: E402
from ceg.plots import (  # noqa: E402
    ceg_forest,
    ceg_vs_compute,
    loo_pit,
    posterior_predictive,
    ppc,
    prior_posterior,
    scaling_curves,
)
from ceg.plots._common import CATEGORY_COLOURS  # noqa: E402
from ceg.plots.checks import loo_pit_values  # noqa: E402
from ceg.predictive import randomised  # noqa: E402
from ceg.spec import PRIOR_NAMES  # noqa: E402
from ceg.table import enhancements_of  # noqa: E402
from fakes import fake_fit, small_table  # noqa: E402

DRAWS, CHAINS = 50, 2


@pytest.fixture(scope="module")
def fit():
    """Prior draws of the default model on three benchmarks, shaped as a posterior."""
    return fake_fit(small_table(), method="prior", draws=DRAWS, chains=CHAINS, seed=3)


@pytest.fixture(scope="module")
def predictive(fit):
    return posterior_predictive(fit, max_draws=60)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def by_gid(ax, gid):
    return [a for a in ax.get_children() if a.get_gid() == gid]


def flat(da: xr.DataArray) -> np.ndarray:
    """Draws of a (chain, draw) variable as one vector."""
    return da.transpose("chain", "draw").to_numpy().ravel()


# ---------------------------------------------------------------- the base curve helper


def test_base_success_probability_is_half_way_at_the_midpoint(fit):
    post, d = fit.posterior, fit.design
    sel = dict(chain=0, draw=0)
    mid = float(post["midpoint"].sel(benchmark="SVAMP", **sel))
    delta = float(post["family_effect"].sel(family="PaLM", **sel))
    p = derived.base_success_probability(post.isel(chain=[0], draw=[0]), d, "SVAMP", "PaLM",
                                         np.array([mid - delta, mid - delta + 1.0]))
    slope = float(post["slope"].sel(benchmark="SVAMP", **sel))
    assert p.dims == ("chain", "draw", "log10_flop")
    np.testing.assert_allclose(p.to_numpy().ravel(), [0.5, special.expit(slope)])  # chance 0
    offset = float(post["protocol_offset"].isel(protocol=0, **sel))
    label = d.coords["protocol"][0]
    q = derived.base_success_probability(post.isel(chain=[0], draw=[0]), d, "SVAMP", "PaLM",
                                         np.array([mid - delta - offset]), protocol=label)
    assert q.item() == pytest.approx(0.5)


# ---------------------------------------------------------------- scaling curves


def test_scaling_curves_one_log_panel_per_benchmark_family_pair(fit):
    fig = scaling_curves(fit)
    t = fit.table
    pairs = sorted(set(zip(t["benchmark"], t["family"], strict=True)))
    assert [ax.get_title() for ax in fig.axes] == [f"{b} · {f}" for b, f in pairs]
    assert all(ax.get_xscale() == "log" for ax in fig.axes)
    assert all(ax.get_xlabel() == "training FLOP" and ax.get_ylabel() == "score"
               for ax in fig.axes)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    conditions = sorted(set(t["condition"]) - {"base"})
    assert labels[-len(conditions):] == conditions


def test_scaling_curves_selection(fit):
    fig = scaling_curves(fit, benchmarks=["SVAMP"], families=["PaLM", "GPT-J"])
    assert [ax.get_title() for ax in fig.axes] == ["SVAMP · PaLM", "SVAMP · GPT-J"]
    with pytest.raises(CegError, match=r"no benchmark 'GSM8k'.*Did you mean 'GSM8K'"):
        scaling_curves(fit, benchmarks=["GSM8k"])
    with pytest.raises(CegError, match="no rows of families"):
        scaling_curves(fit, benchmarks=["GSM8K"], families=["GPT-J"])


def hand_curve(fit, benchmark, family, x, protocol=None, chance=None):
    """Median over draws of chance + (1 - chance) logistic(slope (x + delta (+ o) - midpoint))."""
    post = fit.posterior
    if chance is None:
        chance = float(fit.table.loc[fit.table["benchmark"] == benchmark, "chance"].iloc[0])
    theta = x[None, :] + flat(post["family_effect"].sel(family=family))[:, None]
    if protocol is not None:
        theta = theta + flat(post["protocol_offset"].sel(protocol=protocol))[:, None]
    z = (flat(post["slope"].sel(benchmark=benchmark))[:, None]
         * (theta - flat(post["midpoint"].sel(benchmark=benchmark))[:, None]))
    return np.median(chance + (1 - chance) * special.expit(z), axis=0)


def test_scaling_curve_panel_content(fit):
    fig = scaling_curves(fit, benchmarks=["GSM8K"], families=["PaLM"])
    (ax,) = fig.axes
    t = fit.table
    rows = t[(t["benchmark"] == "GSM8K") & (t["family"] == "PaLM")]
    base, enh = rows[rows["condition"] == "base"], rows[rows["condition"] != "base"]
    # the curve: median of the draws (no thinning at 100 draws), bands 50% inside 90%
    (median,) = by_gid(ax, "median")
    x = np.log10(median.get_xdata())
    np.testing.assert_allclose(median.get_ydata(), hand_curve(fit, "GSM8K", "PaLM", x),
                               rtol=1e-9)
    assert len(by_gid(ax, "band50")) == 1 and len(by_gid(ax, "band90")) == 1
    assert x.min() < np.log10(rows["train_flop"]).min()
    # chance floor of GSM8K is 0
    (chance,) = by_gid(ax, "chance")
    assert list(chance.get_ydata()) == [0, 0]
    # observed base points
    (pts,) = by_gid(ax, "base")
    np.testing.assert_allclose(pts.get_offsets(), base[["train_flop", "score"]].to_numpy())
    # one arrow per enhanced row, as long (in decades) as its median log10 CEG
    arrows = by_gid(ax, "ceg_arrow")
    assert len(arrows) == len(enh) == 12
    obs = fit.quantities["log10_ceg_observation"].median(("chain", "draw"))
    expected = obs.sel(enhanced_observation=enh.index.to_numpy()).to_numpy()
    lengths = [np.log10(a.xy[0]) - np.log10(a.xyann[0]) for a in arrows]
    np.testing.assert_allclose(lengths, expected, rtol=1e-9)
    (own,) = by_gid(ax, "enhanced_own")
    (effective,) = by_gid(ax, "enhanced_effective")
    np.testing.assert_allclose(np.log10(effective.get_offsets()[:, 0]),
                               np.log10(own.get_offsets()[:, 0]) + expected)
    # PaLM's base rows are 3 of Wei et al. (GSM8K's reference source) and 3 of Minerva: on a
    # tie the curve is the reference's, and rows of other sources are hollow
    assert base["source"].str.startswith("wei2022_cot").sum() == 3
    for gid, part in (("base", base), ("enhanced_own", enh)):
        (points,) = by_gid(ax, gid)
        other = ~part["source"].str.startswith("wei2022_cot").to_numpy()
        assert 0 < other.sum() < len(part)
        assert list(points.get_facecolors()[:, 3] == 0) == list(other)


def test_scaling_curve_uses_the_panels_protocol(fit):
    # GPT-J on SVAMP is measured only by the Toolformer paper, a protocol group of SVAMP
    fig = scaling_curves(fit, benchmarks=["SVAMP"], families=["GPT-J"])
    (median,) = by_gid(fig.axes[0], "median")
    label = next(p for p in fit.design.coords["protocol"] if p.startswith("SVAMP|schick"))
    x = np.log10(median.get_xdata())
    np.testing.assert_allclose(median.get_ydata(),
                               hand_curve(fit, "SVAMP", "GPT-J", x, protocol=label), rtol=1e-9)
    assert x.max() - x.min() >= 2.0  # one size: the axis still spans two decades
    (own,) = by_gid(fig.axes[0], "enhanced_own")
    assert (own.get_facecolors()[:, 3] > 0).all()  # same source as the curve: filled


def test_scaling_curve_floor_is_the_chance_level(fit):
    # the three benchmarks have chance 0: give SVAMP a floor of 0.25 in the design
    chance = fit.design.benchmark_chance.copy()
    chance[fit.design.coords["benchmark"].index("SVAMP")] = 0.25
    floored = dataclasses.replace(fit)
    floored.__dict__["design"] = dataclasses.replace(fit.design, benchmark_chance=chance)
    (ax,) = scaling_curves(floored, ["SVAMP"], ["PaLM"]).axes
    (line,) = by_gid(ax, "chance")
    assert list(line.get_ydata()) == [0.25, 0.25]
    (median,) = by_gid(ax, "median")
    x = np.log10(median.get_xdata())
    np.testing.assert_allclose(median.get_ydata(),
                               hand_curve(fit, "SVAMP", "PaLM", x, chance=0.25), rtol=1e-9)
    assert (median.get_ydata() > 0.25).all()


# ---------------------------------------------------------------- forest


def test_forest_rows_labels_and_reference_lines(fit):
    fig = ceg_forest(fit)
    (ax,) = fig.axes
    d = fit.design
    n_enh, cats = len(d.coords["enhancement"]), d.coords["category"]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == n_enh + 2 * len(cats) == len(by_gid(ax, "median"))
    assert ax.get_xscale() == "log"
    assert sorted(line.get_xdata()[0] for line in by_gid(ax, "reference")) == [1, 5, 20]
    # grouped by category: each block is its enhancements, then pooled mean, then new one
    cat = fit.registries.enhancements["category"]
    category_of, i = {}, 0
    for c in cats:
        members = sorted(e for e in d.coords["enhancement"] if cat[e] == c)
        block = labels[i:i + len(members) + 2]
        assert sorted(block[:-2]) == members
        assert block[-2:] == [f"{c}: pooled mean", f"{c}: new enhancement"]
        category_of.update(dict.fromkeys(block, c))
        i += len(members) + 2
    # coloured by category
    for tick in ax.get_yticklabels():
        assert to_rgba(tick.get_color()) == to_rgba(CATEGORY_COLOURS[category_of[tick.get_text()]])


def test_forest_medians_and_intervals_match_the_draws(fit):
    (ax,) = ceg_forest(fit).axes
    labels = [t.get_text() for t in ax.get_yticklabels()]
    y_of = dict(zip(labels, ax.get_yticks(), strict=True))
    medians = {line.get_ydata()[0]: line.get_xdata()[0] for line in by_gid(ax, "median")}
    wide = {line.get_ydata()[0]: line.get_xdata() for line in by_gid(ax, "interval90")}
    q = fit.quantities
    for e in fit.design.coords["enhancement"]:
        draws = flat(q["log10_ceg_enhancement"].sel(enhancement=e))
        assert medians[y_of[e]] == pytest.approx(10 ** np.median(draws))
        np.testing.assert_allclose(wide[y_of[e]], 10 ** np.quantile(draws, [0.05, 0.95]))
    c = "prompting"
    assert medians[y_of[f"{c}: pooled mean"]] == pytest.approx(
        10 ** np.median(flat(q["log10_ceg_category"].sel(category=c))))
    assert medians[y_of[f"{c}: new enhancement"]] == pytest.approx(
        10 ** np.median(flat(q["log10_ceg_new_enhancement"].sel(new_category=c))))


def test_forest_marks_the_paper_value(fit):
    (ax,) = ceg_forest(fit).axes
    paper = fit.summary("enhancement")["paper_ceg"].dropna()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    y_of = dict(zip(labels, ax.get_yticks(), strict=True))
    marks = {line.get_ydata()[0]: line.get_xdata()[0] for line in by_gid(ax, "paper")}
    assert len(marks) == len(paper) == 2  # chain_of_thought and minerva are measured alone
    for e, v in paper.items():
        assert marks[y_of[e]] == pytest.approx(v)


def test_forest_marks_extrapolated_cegs():
    # synthetic table, fixed draws: self_consistency at 10**1.5 lies beyond the base compute
    flop = fake_fit(draws=1, chains=1).design.model_log10_flop
    f = fake_fit(draws=10, chains=2, values={
        "shift_intercept": {"calculator": 0.0, "chain_of_thought": 1.0, "self_consistency": 1.5},
        "shift_deviation": 0.0, "shift_scale_slope": 0.0, "log10_flop": flop})
    assert f.summary("enhancement")["extrapolated_share"].to_dict() == {
        "calculator": 0.0, "chain_of_thought": 0.0, "self_consistency": 1.0}
    fig, ax = plt.subplots()
    assert ceg_forest(f, ax=ax) is fig
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "self_consistency †" in labels
    assert "calculator" in labels and "chain_of_thought" in labels
    y_of = dict(zip(labels, ax.get_yticks(), strict=True))
    hollow = {line.get_ydata()[0]: line.get_markerfacecolor() == "white"
              for line in by_gid(ax, "median")}
    assert hollow[y_of["self_consistency †"]]
    assert not hollow[y_of["chain_of_thought"]] and not hollow[y_of["calculator"]]
    styles = {line.get_ydata()[0]: line.get_linestyle() for line in by_gid(ax, "interval90")}
    assert styles[y_of["self_consistency †"]] == ":" and styles[y_of["calculator"]] == "-"
    medians = {line.get_ydata()[0]: line.get_xdata()[0] for line in by_gid(ax, "median")}
    assert medians[y_of["chain_of_thought"]] == pytest.approx(10.0)
    # nothing is extrapolated when the threshold is above every share
    (ax2,) = ceg_forest(f, extrapolated_at=1.01).axes
    assert not any(t.get_text().endswith("†") for t in ax2.get_yticklabels())


# ---------------------------------------------------------------- CEG against compute


def sizes_by_hand(table) -> dict[str, int]:
    out: dict[str, set] = {}
    for cond, flop in zip(table["condition"], table["train_flop"], strict=True):
        for e in enhancements_of(cond):
            out.setdefault(e, set()).add(flop)
    return {e: len(v) for e, v in out.items()}


def test_ceg_vs_compute_panels_are_enhancements_measured_at_several_sizes(fit):
    fig = ceg_vs_compute(fit)
    sizes = sizes_by_hand(fit.table)
    expected = sorted(e for e, n in sizes.items() if n >= 2)
    assert sorted(e for e, n in sizes.items() if n < 2) == [
        "ccnet_finetune", "toolformer", "toolformer_disabled"]  # GPT-J only
    cat = fit.registries.enhancements["category"]
    assert [ax.get_title() for ax in fig.axes] == [f"{e} ({cat[e]})" for e in expected]
    for ax in fig.axes:
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
        assert sorted(line.get_ydata()[0] for line in by_gid(ax, "reference")) == [1, 5, 20]
        (x_ref,) = by_gid(ax, "x_ref")
        assert x_ref.get_xdata()[0] == pytest.approx(1e23)
        assert len(by_gid(ax, "band50")) == len(by_gid(ax, "band90")) == 1
    assert len(ceg_vs_compute(fit, min_sizes=3).axes) == sum(n >= 3 for n in sizes.values())


def test_ceg_vs_compute_curve_and_points(fit):
    fig = ceg_vs_compute(fit, ["chain_of_thought"])
    (ax,) = fig.axes
    (median,) = by_gid(ax, "median")
    x = np.log10(median.get_xdata())
    post = fit.posterior
    a = flat(post["shift_intercept"].sel(enhancement="chain_of_thought"))
    g = flat(post["shift_scale_slope"].sel(enhancement="chain_of_thought"))
    np.testing.assert_allclose(median.get_ydata(),
                               10 ** np.median(a[:, None] + g[:, None] * (x - 23.0), axis=0))
    t = fit.table
    alone = t[t["condition"] == "chain_of_thought"]
    (points,) = [c for c in ax.containers]  # one errorbar container
    xs, ys = points.lines[0].get_data()
    assert len(xs) == len(alone)
    obs = fit.quantities["log10_ceg_observation"].sel(enhanced_observation=alone.index)
    np.testing.assert_allclose(ys, 10 ** obs.median(("chain", "draw")).to_numpy())
    # every finite paper value is drawn: on the scale as a cross, else at the edge
    paper = fit.summary("observation").loc[alone.index, "paper_ceg"].to_numpy(dtype=float)
    shown = by_gid(ax, "paper") + by_gid(ax, "paper_off_scale")
    assert sum(len(line.get_xdata()) for line in shown) == np.isfinite(paper).sum()
    lo, hi = ax.get_ylim()
    for line in by_gid(ax, "paper"):
        assert ((line.get_ydata() >= lo) & (line.get_ydata() <= hi)).all()


def test_ceg_vs_compute_errors(fit):
    with pytest.raises(CegError, match="Did you mean 'chain_of_thought'"):
        ceg_vs_compute(fit, ["chain_of_thougt"])
    with pytest.raises(CegError, match="100 or more model sizes"):
        ceg_vs_compute(fit, min_sizes=100)


# ---------------------------------------------------------------- predictive checks


def test_posterior_predictive_draws(fit, predictive):
    pp = predictive.posterior_predictive["n_correct"]
    assert pp.sizes["chain"] * pp.sizes["draw"] <= 60
    assert pp.sizes["observation"] == len(fit.table)
    assert predictive.log_likelihood["n_correct"].shape == pp.shape
    n = fit.design.n_items
    assert ((pp >= 0).all() and (pp.to_numpy() <= n).all())
    np.testing.assert_array_equal(predictive.observed_data["n_correct"], fit.design.n_correct)
    # replicates follow the posterior: the fake's probabilities differ between draws, so the
    # replicated scores of one row spread out
    assert float((pp / n).std(("chain", "draw")).mean()) > 0.01
    again = posterior_predictive(fit, max_draws=60)
    np.testing.assert_array_equal(again.posterior_predictive["n_correct"], pp)  # seeded


def test_posterior_predictive_refuses_a_posterior_without_the_model_variables():
    with pytest.raises(CegError, match=r"lacks the model variables \[.*log_slope_centred"):
        posterior_predictive(fake_fit(draws=5))


def test_ppc_panels_and_coverage(fit, predictive):
    fig = ppc(fit, predictive=predictive)
    assert len(fig.axes) == 3
    rep = predictive.posterior_predictive["n_correct"].stack(s=("chain", "draw")).to_numpy()
    rep = rep / fit.design.n_items[:, None]
    lo, hi = np.quantile(rep, [0.05, 0.95], axis=1)
    observed = fit.design.n_correct / fit.design.n_items
    inside = (observed >= lo) & (observed <= hi)
    for ax, b in zip(fig.axes, fit.design.coords["benchmark"], strict=True):
        mask = (fit.table["benchmark"] == b).to_numpy()
        assert ax.get_title() == f"{b}\n{inside[mask].sum()}/{mask.sum()} inside 90%"
        (diag,) = by_gid(ax, "diagonal")
        assert list(diag.get_xdata()) == [0, 1] == list(diag.get_ydata())
        scatters = [c for c in by_gid(ax, "inside") + by_gid(ax, "outside")
                    if isinstance(c, PathCollection)]
        offsets = np.concatenate([c.get_offsets() for c in scatters])
        assert len(offsets) == mask.sum()
        np.testing.assert_allclose(np.sort(offsets[:, 0]), np.sort(observed[mask]))
    assert [ax.get_title().split("\n")[0] for ax in ppc(fit, ["SVAMP"],
                                                        predictive=predictive).axes] == ["SVAMP"]


def test_randomised_pit_of_counts_is_uniform_where_the_plain_pit_is_not():
    rng = np.random.default_rng(0)
    n_obs, n_draws = 400, 500
    y = rng.poisson(2.0, n_obs)
    y_rep = rng.poisson(2.0, (1, n_draws, n_obs))  # the right model, many ties
    dims = {"observation": np.arange(n_obs)}
    idata = az.InferenceData(
        posterior=xr.Dataset({"mu": (("chain", "draw"), np.zeros((1, n_draws)))}),
        posterior_predictive=xr.Dataset({"n_correct": (("chain", "draw", "observation"),
                                                       y_rep)}, coords=dims),
        log_likelihood=xr.Dataset({"n_correct": (("chain", "draw", "observation"),
                                                 np.zeros((1, n_draws, n_obs)))}, coords=dims),
        observed_data=xr.Dataset({"n_correct": ("observation", y)}, coords=dims))
    as_float = az.InferenceData(
        posterior=idata.posterior, log_likelihood=idata.log_likelihood,
        posterior_predictive=idata.posterior_predictive.astype(float),
        observed_data=idata.observed_data.astype(float))
    plain = np.asarray(az.loo_pit(as_float, y="n_correct"))  # P(y_rep <= y): steps
    fair = loo_pit_values(idata, seed=1)
    assert stats.kstest(plain, "uniform").pvalue < 1e-6
    assert stats.kstest(fair, "uniform").pvalue > 0.01
    assert ((fair >= 0) & (fair <= 1)).all()
    jittered = randomised(idata, seed=1)
    gap = jittered.observed_data["n_correct"] - idata.observed_data["n_correct"]
    assert float(gap.min()) >= 0 and float(gap.max()) < 1


def test_loo_pit_plots_the_randomised_values(fit, predictive):
    fig = loo_pit(fit, predictive=predictive)
    (ax,) = fig.axes
    (ecdf,) = [line for line in ax.lines if line.get_label() == "LOO-PIT ECDF"]
    values = loo_pit_values(predictive, fit.seed)
    np.testing.assert_allclose(ecdf.get_xdata()[1:-1], np.sort(values))
    assert ((values >= 0) & (values <= 1)).all()
    assert f"LOO-PIT of {len(fit.table)} observations" in ax.get_title()
    assert ax.get_xlabel() == "LOO-PIT"


# ---------------------------------------------------------------- prior and posterior


def test_prior_posterior_one_panel_per_pooled_parameter(fit):
    fig = prior_posterior(fit)
    assert [ax.get_title() for ax in fig.axes] == list(PRIOR_NAMES)
    for ax, name in zip(fig.axes, PRIOR_NAMES, strict=True):
        prior = fit.spec.priors[name]
        (line,) = by_gid(ax, "prior")
        x = line.get_xdata()
        pdf = (stats.halfnorm(scale=prior.sigma) if prior.dist == "HalfNormal"
               else stats.norm(prior.mu, prior.sigma)).pdf(x)
        np.testing.assert_allclose(line.get_ydata(), pdf)
        bars = by_gid(ax, "posterior")
        heights = np.array([b.get_height() for b in bars])
        widths = np.array([b.get_width() for b in bars])
        assert np.sum(heights * widths) == pytest.approx(1.0)  # a density
        draws = flat(fit.posterior[name])
        assert min(b.get_x() for b in bars) <= draws.min()
        assert ax.get_xlabel().startswith(f"prior {prior.dist}(")


def test_prior_posterior_selection_and_unused_priors(fit):
    assert [ax.get_title() for ax in prior_posterior(fit, ["slope_sd", "shift_mean"]).axes] == [
        "slope_sd", "shift_mean"]
    without = dataclasses.replace(fit, idata=az.InferenceData(
        posterior=fit.posterior.drop_vars("family_sd")))
    titles = [ax.get_title() for ax in prior_posterior(without).axes]
    assert "family_sd" not in titles and len(titles) == len(PRIOR_NAMES) - 1
    with pytest.raises(CegError, match="no pooled parameter 'family_sd'"):
        prior_posterior(without, ["family_sd"])
