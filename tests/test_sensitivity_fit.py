"""Power-scaling on a fit of the real model (prior draws as the posterior; no MCMC), and the CLI.

The fake fit holds draws of the default model's prior on the synthetic table,
with ``log_prior`` and ``log_likelihood`` computed by PyMC as ``ceg fit`` does
(compiles the model: some seconds).
"""

from __future__ import annotations

import json
import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest

from ceg.cli import app
from ceg.cli._common import run_guarded
from ceg.errors import CegWarning
from ceg.sensitivity import power_scaling
from ceg.sensitivity.power_scaling import QUANTITIES, fit_quantities, hyperprior_log_prior
from fakes import fake_fit

#: The hyperpriors of the default spec that its model uses on the synthetic table (it has
#: no protocol groups, so no protocol_sd), written out rather than read from the spec.
HYPERPRIORS = {
    "logit_ref_mean", "logit_ref_sd", "log_slope_mean", "log_slope_sd",
    "log_concentration_mean", "log_concentration_sd", "family_sd", "shift_mean",
    "category_sd", "enhancement_sd", "benchmark_shift_sd", "slope_mean", "slope_sd",
}
#: Its other free variables: effects given the hyperpriors, which must not be scaled.
EFFECTS = {
    "family_effect_centred", "log_slope_centred", "logit_at_ref_anchored",
    "log_concentration_centred", "category_mean_z", "shift_measured_mean",
    "shift_intercept_z", "shift_deviation_z", "shift_scale_slope_z",
}


def flat(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


@pytest.fixture(scope="module")
def fit():
    from ceg.sampling import CompiledModel

    f = fake_fit(method="prior", draws=250, chains=4, seed=1)
    # the library's own pointwise densities (checked against PyMC's in test_fit_io.py):
    # one numba compile for both groups, where PyMC's two functions were two C compiles
    # (73 s of fixture setup on an empty compile cache, session 36)
    compiled = CompiledModel.build(f.spec, f.design, "pymc")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        log_likelihood, log_prior = compiled.log_densities(f.posterior)
    f.idata.add_groups(log_likelihood=log_likelihood, log_prior=log_prior)
    return f


@pytest.fixture(scope="module")
def saved(fit, tmp_path_factory):
    return fit.save(tmp_path_factory.mktemp("fit") / "fit.nc")


def run(args, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CegWarning)  # prior draws: Pareto k may be high
        code = run_guarded(app, [str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, flat(out.err)


def test_the_log_prior_subset_is_exactly_the_hyperpriors(fit):
    log_prior = fit.idata.log_prior
    assert set(log_prior.data_vars) == HYPERPRIORS | EFFECTS  # what the model stores
    sub = hyperprior_log_prior(log_prior, fit.spec.priors)
    assert set(sub.data_vars) == HYPERPRIORS


def test_prior_sensitivity_scales_only_the_hyperpriors(fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CegWarning)
        result = power_scaling(fit)
    assert set(result.prior_terms) == HYPERPRIORS
    # The same numbers as arviz's own var-name selection of the hyperprior terms ...
    q = fit_quantities(fit)
    idata = az.InferenceData(posterior=q, log_prior=fit.idata.log_prior,
                             log_likelihood=fit.idata.log_likelihood)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        by_name = az.psens(idata, component="prior", component_var_names=sorted(HYPERPRIORS))
        everything = az.psens(idata, component="prior")
    rows = result.table[result.table["quantity"] == QUANTITIES["ceg_enhancement"]]
    expected = by_name["ceg_enhancement"].sel(enhancement=rows["label"].to_list()).to_numpy()
    np.testing.assert_allclose(rows["prior"].to_numpy(), expected, rtol=1e-10)
    # ... and not those of scaling every prior term (which psens does by default).
    allterms = everything["ceg_enhancement"].sel(enhancement=rows["label"].to_list()).to_numpy()
    assert np.max(np.abs(rows["prior"].to_numpy() - allterms)) > 0.01


def test_the_table_has_every_quantity(fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CegWarning)
        t = power_scaling(fit).table
    d = fit.design.coords
    counts = t["quantity"].value_counts()
    assert counts[QUANTITIES["ceg_enhancement"]] == len(d["enhancement"])
    assert counts[QUANTITIES["ceg_category"]] == len(d["category"])
    assert counts[QUANTITIES["ceg_new_enhancement"]] == len(d["category"])
    for v in ("headline_share", "headline_most", "headline_some"):
        assert list(t.loc[t["quantity"] == QUANTITIES[v], "label"]) == ["5x", "20x"]
    enh = t[t["quantity"] == QUANTITIES["ceg_enhancement"]]
    cats = fit.registries.enhancements["category"]
    assert list(enh["category"]) == list(cats.reindex(enh["label"]))
    # The headline rows' estimates are fit.headline()'s probabilities.
    head = fit.headline()
    most = t[t["quantity"] == QUANTITIES["headline_most"]]["estimate"].to_numpy()
    some = t[t["quantity"] == QUANTITIES["headline_some"]]["estimate"].to_numpy()
    np.testing.assert_allclose(most, head["p_most"].to_numpy())
    np.testing.assert_allclose(some, head["p_some"].to_numpy())
    assert set(t["diagnosis"]) <= {"prior-data conflict", "prior dominates (weak likelihood)",
                                   "fine"}
    assert (t["threshold"] == 0.05).all()


def test_cli_csv_matches_the_api(fit, saved, capsys):
    code, out, _ = run(["sensitivity", saved, "--format", "csv"], capsys)
    assert code == 0
    from io import StringIO

    csv = pd.read_csv(StringIO(out))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CegWarning)
        api = power_scaling(fit).table
    np.testing.assert_allclose(csv["prior"], api["prior"], rtol=1e-9)
    np.testing.assert_allclose(csv["likelihood"], api["likelihood"], rtol=1e-9)
    assert list(csv["diagnosis"]) == list(api["diagnosis"])


def test_cli_json_to_a_file_and_the_long_command_name(saved, tmp_path, capsys):
    out = tmp_path / "s.json"
    code, _, err = run(["sensitivity", "power-scaling", saved, "--format", "json", "--out",
                        out], capsys)
    assert code == 0 and f"Wrote {out}" in err
    doc = json.loads(out.read_text())
    assert set(doc["prior_terms"]) == HYPERPRIORS
    assert doc["threshold"] == 0.05 and set(doc["pareto_k"]) == {"prior", "likelihood"}
    assert len(doc["rows"]) > 6 and {"prior", "likelihood", "diagnosis"} <= set(doc["rows"][0])


def test_cli_table_prints_the_diagnosis_and_threshold(saved, capsys):
    code, out, _ = run(["sensitivity", saved], capsys)
    assert code == 0
    text = flat(out)
    assert "threshold 0.05" in text and "Pareto k" in text and "shift_mean" in text


def test_cli_missing_file_exits_2(tmp_path, capsys):
    code, out, err = run(["sensitivity", tmp_path / "nope.nc"], capsys)
    assert code == 2 and "nope.nc: file not found" in err and "Traceback" not in out + err


def test_cli_netcdf_that_is_not_a_fit_exits_2(tmp_path, capsys):
    path = tmp_path / "other.nc"
    az.from_dict(posterior={"a": np.zeros((1, 5))}).to_netcdf(path)
    code, _, err = run(["sensitivity", path], capsys)
    assert code == 2 and "not a ceg fit" in err


def test_cli_fit_without_log_prior_exits_2(fit, tmp_path, capsys):
    from ceg.fit import Fit

    idata = az.InferenceData(**{g: fit.idata[g] for g in fit.idata.groups()
                                if g != "log_prior"})
    bare = Fit(idata=idata, spec=fit.spec, table=fit.table, registries=fit.registries,
               sampler=fit.sampler, seed=fit.seed)
    path = bare.save(tmp_path / "bare.nc")
    code, _, err = run(["sensitivity", path], capsys)
    assert code == 2 and "no log_prior group" in err and "ceg fit" in err


def test_cli_out_needs_a_machine_format(saved, tmp_path, capsys):
    code, _, err = run(["sensitivity", saved, "--out", tmp_path / "s.txt"], capsys)
    assert code == 2 and "--format csv or json" in err
    assert not (tmp_path / "s.txt").exists()


def test_cli_bad_delta_exits_2(saved, capsys):
    code, _, err = run(["sensitivity", saved, "--delta", "0"], capsys)
    assert code == 2 and "delta must be positive" in err



def test_cli_figure_is_a_png(saved, tmp_path, capsys):
    fig = tmp_path / "s.png"
    code, _, err = run(["sensitivity", saved, "--format", "csv", "--figure", fig], capsys)
    assert code == 0 and f"Wrote {fig}" in err
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_missing_output_folder_exits_2(saved, tmp_path, capsys):
    code, _, err = run(["sensitivity", saved, "--format", "csv", "--out",
                        tmp_path / "no" / "s.csv"], capsys)
    assert code == 2 and "does not exist; create it first" in err


def test_influence_groups_every_row_once_and_reweights_every_quantity(fit):
    from ceg.sensitivity.influence import group_influence

    result = group_influence(fit, by="family")
    families = sorted(fit.table["family"].unique())
    assert sorted(result.groups["family"]) == families
    assert result.groups["n_rows"].sum() == len(fit.table)
    assert set(result.shifts["quantity"]) == set(fit_quantities(fit).data_vars)
    # one row per (family, quantity element)
    elements = sum(int(np.prod([n for d, n in da.sizes.items() if d not in ("chain", "draw")]))
                   for da in fit_quantities(fit).data_vars.values())
    assert len(result.shifts) == elements * len(families)


def test_cli_influence_writes_the_rows_and_prints_the_groups(fit, saved, tmp_path, capsys):
    out = tmp_path / "influence.csv"
    png = tmp_path / "influence.png"
    code = run_guarded(app, ["sensitivity", "influence", str(saved), "--by", "benchmark",
                             "--out", str(out), "--figure", str(png)])
    assert code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = pd.read_csv(out)
    assert set(rows["benchmark"]) == set(fit.table["benchmark"])
    assert {"quantity", "label", "estimate", "without", "change", "reliable"} <= set(rows)
    assert "Leave-one-benchmark-out influence" in capsys.readouterr().out


def test_cli_influence_of_an_unknown_grouping_exits_2(saved, capsys):
    assert run_guarded(app, ["sensitivity", "influence", str(saved), "--by", "condition"]) == 2
    assert "condition" in flat(capsys.readouterr().err)


def test_one_group_per_row_is_arviz_loo(fit):
    # The grouped leave-out must reduce to ArviZ's PSIS-LOO when every row is its own group
    # (same weights: reff 1); checked on the bundled default fit too (79 of 1,668 rows with
    # k > 0.7 both ways, elpd -8129.1 both ways).
    from scipy.special import logsumexp

    from ceg.sensitivity.influence import group_log_likelihood, leave_group_out_weights

    da = fit.idata.log_likelihood[next(iter(fit.idata.log_likelihood.data_vars))]
    labels = np.array([f"row{i:05d}" for i in range(len(fit.table))])
    grouped = group_log_likelihood(da, labels)
    lw, k = leave_group_out_weights(grouped)
    ll = grouped.stack(s=("chain", "draw")).transpose("s", "group").to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        loo = az.loo(fit.idata, pointwise=True, reff=1.0)
    np.testing.assert_allclose(k, loo.pareto_k.to_numpy(), atol=1e-10)
    assert logsumexp(lw + ll, axis=0).sum() == pytest.approx(float(loo.elpd_loo), abs=1e-8)
