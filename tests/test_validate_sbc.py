"""SBC records, resume, refusal of mixed settings, failure recording and the report.

No sampling: the replication function is replaced by fakes that return hand-made
ranks (or raise). One test checks the real rank bookkeeping on a simulated truth
without a sampler.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import ceg
from ceg.design import make_design
from ceg.spec import ModelSpec
from ceg.validate import sbc as sbc_mod
from ceg.validate.report import quantity_table, sbc_report, variable_table
from ceg.validate.sbc import (
    RECORDS_FILE,
    SbcRecordsError,
    SbcSettings,
    calibrated_quantities,
    flatten,
    names_digest,
    read_records,
    replication_seeds,
    sbc,
)
from fakes import synthetic_table

NAMES = ["log10_ceg_enhancement[a]", "log10_ceg_enhancement[b]", "log10_ceg_category[k]",
         "shift_mean"]


@pytest.fixture(scope="module")
def spec():
    return ModelSpec.load("default")


@pytest.fixture(scope="module")
def design():
    return make_design(synthetic_table(), ceg.load_registries())


@pytest.fixture(autouse=True)
def fixed_names(monkeypatch):
    """Quantity names without simulating (sbc() asks for them before any replication)."""
    monkeypatch.setattr(sbc_mod, "quantity_names", lambda spec, design: list(NAMES))


def fake_replicate(rep, spec, design, settings, seed, cores):
    """Calibrated fake: uniform ranks among 19 draws, PIT from the rank."""
    rng = np.random.default_rng([seed, rep])
    r = rng.integers(0, 20, size=len(NAMES))
    return {"rep": rep, "status": "ok", "problems": [], "error": None, "seconds": 0.0,
            "rank_draws": 19, "names_sha": names_digest(NAMES), "rank": r.tolist(),
            "pit": ((r + 0.5) / 20).tolist(), "mean_n_steps": 7.0}


def raising_replicate(rep, spec, design, settings, seed, cores):
    if rep == 1:
        raise FloatingPointError("the sampler blew up")
    record = fake_replicate(rep, spec, design, settings, seed, cores)
    if rep == 2:
        record |= {"status": "not_converged", "problems": ["R-hat 1.2 > 1.01"]}
    return record


def test_replication_seeds_are_fixed_distinct_and_int():
    a = replication_seeds(5, 0)
    assert a == replication_seeds(5, 0)
    assert a != replication_seeds(5, 1) and a != replication_seeds(6, 0)
    assert all(isinstance(s, int) and 0 <= s < 2**31 for s in a) and a[0] != a[1]


def test_records_one_line_per_replication_and_resume_skips_them(tmp_path, spec, design):
    calls = []

    def counting(rep, *args):
        calls.append(rep)
        return fake_replicate(rep, *args)

    out = tmp_path / "run"
    run = sbc(spec, design, reps=3, seed=1, out=out, replicate=counting)
    assert calls == [0, 1, 2]
    assert len((out / RECORDS_FILE).read_text().splitlines()) == 3
    assert [r["rep"] for r in run.records] == [0, 1, 2]
    run = sbc(spec, design, reps=5, seed=1, out=out, replicate=counting)
    assert calls == [0, 1, 2, 3, 4]  # 0-2 were recorded: not run again
    assert sorted(r["rep"] for r in run.records) == [0, 1, 2, 3, 4]
    assert run.header["names_sha"] == names_digest(NAMES)


def test_a_torn_last_line_is_dropped_and_that_replication_rerun(tmp_path, spec, design):
    out = tmp_path / "run"
    sbc(spec, design, reps=2, seed=1, out=out, replicate=fake_replicate)
    with open(out / RECORDS_FILE, "a") as fh:
        fh.write('{"rep": 2, "status": "ok", "ra')  # interrupted mid-write
    calls = []
    run = sbc(spec, design, reps=3, seed=1, out=out,
              replicate=lambda rep, *a: calls.append(rep) or fake_replicate(rep, *a))
    assert calls == [2]
    lines = (out / RECORDS_FILE).read_text().splitlines()
    assert [json.loads(x)["rep"] for x in lines] == [0, 1, 2]
    assert len(run.records) == 3


def test_an_archived_gzipped_run_reads_the_same(tmp_path, spec, design):
    import gzip
    import shutil

    out = tmp_path / "run"
    sbc(spec, design, reps=3, seed=1, out=out, replicate=fake_replicate)
    archive = tmp_path / "archive"
    archive.mkdir()
    shutil.copy(out / sbc_mod.SETTINGS_FILE, archive)
    (archive / (RECORDS_FILE + ".gz")).write_bytes(gzip.compress((out / RECORDS_FILE).read_bytes()))
    assert read_records(archive).records == read_records(out).records


def test_a_damaged_middle_line_is_an_error(tmp_path, spec, design):
    out = tmp_path / "run"
    sbc(spec, design, reps=2, seed=1, out=out, replicate=fake_replicate)
    path = out / RECORDS_FILE
    path.write_text("garbage\n" + path.read_text())
    with pytest.raises(SbcRecordsError, match="line 1"):
        read_records(out)


@pytest.mark.parametrize(("change", "key"), [
    ({"seed": 2}, "seed"),
    ({"settings": SbcSettings(draws=50)}, "draws"),
    ({"settings": SbcSettings(min_ess=10)}, "min_ess"),
])
def test_resuming_with_other_settings_is_refused(tmp_path, spec, design, change, key):
    out = tmp_path / "run"
    sbc(spec, design, reps=2, seed=1, out=out, replicate=fake_replicate)
    kwargs = {"seed": 1, "settings": None} | change
    with pytest.raises(SbcRecordsError, match=key) as err:
        sbc(spec, design, reps=3, out=out, replicate=fake_replicate, **kwargs)
    assert "another folder" in str(err.value)
    assert len((out / RECORDS_FILE).read_text().splitlines()) == 2  # nothing appended


def test_resuming_with_another_spec_or_design_is_refused(tmp_path, spec, design):
    out = tmp_path / "run"
    sbc(spec, design, reps=1, seed=1, out=out, replicate=fake_replicate)
    other = ModelSpec.from_dict({**spec.to_dict(), "structure": {
        **spec.to_dict()["structure"], "likelihood": "binomial"}})
    with pytest.raises(SbcRecordsError, match="spec_digest"):
        sbc(other, design, reps=2, seed=1, out=out, replicate=fake_replicate)
    smaller = make_design(synthetic_table().iloc[:-1], ceg.load_registries())
    with pytest.raises(SbcRecordsError, match="design_digest"):
        sbc(spec, smaller, reps=2, seed=1, out=out, replicate=fake_replicate)


@pytest.mark.parametrize("executor", [None, "threads"])
def test_failures_and_non_convergence_are_recorded_never_dropped(tmp_path, spec, design,
                                                                 executor):
    out = tmp_path / "run"
    if executor == "threads":
        with ThreadPoolExecutor(2) as pool:
            run = sbc(spec, design, reps=4, seed=3, out=out, executor=pool,
                      replicate=raising_replicate)
    else:
        run = sbc(spec, design, reps=4, seed=3, out=out, replicate=raising_replicate)
    status = {r["rep"]: r["status"] for r in run.records}
    assert status == {0: "ok", 1: "failed", 2: "not_converged", 3: "ok"}
    failed = run.by_status("failed")[0]
    assert "FloatingPointError: the sampler blew up" in failed["error"]
    assert (failed["sim_seed"], failed["fit_seed"]) == replication_seeds(3, 1)
    assert [r["rep"] for r in run.ranked()] == [0, 2, 3]
    assert [r["rep"] for r in run.ranked(converged_only=True)] == [0, 3]
    # a failed replication is not retried on resume (retrying would select on the data)
    calls = []
    sbc(spec, design, reps=4, seed=3, out=out,
        replicate=lambda rep, *a: calls.append(rep) or fake_replicate(rep, *a))
    assert calls == []


def test_a_record_of_other_quantities_is_recorded_as_failed(spec, design):
    def wrong(rep, *args):
        return fake_replicate(rep, *args) | {"names_sha": "0" * 16}

    run = sbc(spec, design, reps=1, seed=1, replicate=wrong)
    assert run.records[0]["status"] == "failed"
    assert "other quantities" in run.records[0]["error"]


def test_report_tables_from_hand_made_records(tmp_path, spec, design):
    out = tmp_path / "run"
    run = sbc(spec, design, reps=30, seed=4, out=out, replicate=raising_replicate)
    q = quantity_table(run)
    ranked = run.ranked()
    assert (q["n"] == len(ranked)).all() and len(ranked) == 29
    pit = np.array([r["pit"] for r in ranked])
    expected = ((pit >= 0.05) & (pit <= 0.95)).mean(0)
    np.testing.assert_allclose(q["coverage_90"].to_numpy(), expected)
    v = variable_table(q)
    assert v.loc["log10_ceg_enhancement", "n_quantities"] == 2
    assert v.loc["log10_ceg_enhancement", "coverage_90"] == pytest.approx(expected[:2].mean())
    report = sbc_report(out)
    md = report.write(tmp_path / "docs", command="ceg validate sbc --reps 30")
    text = md.read_text()
    assert "ceg validate sbc --reps 30" in text and "failed 1" in text
    assert "FloatingPointError" in text  # the failure is listed, not hidden
    for name in report.figures:
        assert (tmp_path / "docs" / "figures" / f"{name}.png").stat().st_size > 1000
    assert (tmp_path / "docs" / "sbc_quantities.csv").read_text().count("\n") == len(NAMES) + 1


def test_flattened_truth_and_posterior_name_the_same_quantities(spec, design):
    from ceg.simulate import simulate_design

    sim = simulate_design(spec, design, seed=5)
    truth = sim.truth.expand_dims(chain=[0], draw=[0])
    names, values = flatten(calibrated_quantities(truth, design, spec.x_ref))
    assert values.shape == (1, 1, len(names))
    kinds = {n.split("[")[0] for n in names}
    assert {"log10_ceg_enhancement", "log10_ceg_enhancement_benchmark", "log10_ceg_category",
            "log10_ceg_observation", "shift_mean", "enhancement_sd"} <= kinds
    assert "log10_ceg_new_enhancement" not in kinds
    n_enhanced = int((design.table["condition"] != "base").sum())
    assert sum(n.startswith("log10_ceg_observation[") for n in names) == n_enhanced
    # the simulated counts are the design's and lie within the items
    assert np.all((sim.design.n_correct >= 0) & (sim.design.n_correct <= design.n_items))
    np.testing.assert_allclose(sim.table["score"], sim.design.n_correct / design.n_items)


def test_the_truth_reads_observation_cegs_at_the_compute_the_fit_reads_them_at(design):
    """Regression: the truth once held only the reported deterministics, so under
    ``scale_compute = "effective"`` its per-observation CEGs fell back to raw compute while
    the fit's used effective compute (SBC then showed them under-covered, 0.834 at 90%)."""
    from ceg import derived
    from ceg.model import build_model
    from ceg.simulate import simulate_design

    spec = ModelSpec.load("candidate")
    assert spec.structure.scale_compute == "effective"
    sim = simulate_design(spec, design, seed=3)
    truth = sim.truth.expand_dims(chain=[0], draw=[0])
    # every variable a posterior of this model holds is in the truth
    model = build_model(spec, design)
    unobserved = {v.name for v in model.free_RVs + model.deterministics}
    assert unobserved <= set(truth.data_vars)
    # and it matters: without the effective compute the same draw gives other CEGs
    with_scale = derived.log10_ceg_observation(truth, design, spec.x_ref)
    raw_only = derived.log10_ceg_observation(truth.drop_vars("scale_log10_flop"), design,
                                             spec.x_ref)
    assert not np.allclose(with_scale, raw_only, atol=1e-6)


def test_an_effective_compute_model_refuses_a_posterior_without_its_scale_compute(design):
    """The raw-compute fallback that hid the bug above must not apply silently to a model
    that reads scale slopes at effective compute: given the spec (or a saved fit's attrs),
    a posterior without ``scale_log10_flop`` raises; a raw-compute model keeps the fallback."""
    from ceg import derived
    from ceg.errors import CegError
    from ceg.simulate import simulate_design

    spec = ModelSpec.load("candidate")
    trimmed = simulate_design(spec, design, seed=3).truth.expand_dims(
        chain=[0], draw=[0]).drop_vars("scale_log10_flop")
    with pytest.raises(CegError, match="scale_log10_flop.*effective"):
        derived.log10_ceg_observation(trimmed, design, spec.x_ref, spec.structure)
    # a saved fit carries its spec in the posterior's attrs: enough without the structure
    with pytest.raises(CegError, match="scale_log10_flop"):
        derived.log10_ceg_observation(trimmed.assign_attrs(ceg_spec=spec.to_json()), design,
                                      spec.x_ref)

    raw = ModelSpec.load("default")
    assert raw.structure.scale_compute == "raw"
    truth = simulate_design(raw, design, seed=3).truth.expand_dims(chain=[0], draw=[0])
    np.testing.assert_allclose(
        derived.log10_ceg_observation(truth.drop_vars("scale_log10_flop"), design, raw.x_ref,
                                      raw.structure),
        derived.log10_ceg_observation(truth, design, raw.x_ref, raw.structure))


def test_the_fit_gate_judges_the_cegs_and_not_the_pooled_parameters(spec):
    """SBC's status also judges pooled parameters; ``fit_gate`` judges what ``ceg fit`` does:
    chains that disagree on a pooled sd fail the first and not the second."""
    import xarray as xr

    from ceg.diagnostics import diagnose
    from ceg.validate.sbc import fit_gate_quantities

    rng = np.random.default_rng(0)
    well_mixed = rng.standard_normal((4, 1000, 3))
    stuck = rng.standard_normal((4, 1000)) + np.array([0.0, 0.0, 0.0, 2.0])[:, None]
    q = xr.Dataset({
        "log10_ceg_enhancement": (("chain", "draw", "enhancement"), well_mixed),
        "family_sd": (("chain", "draw"), stuck)})
    assert list(fit_gate_quantities(q).data_vars) == ["log10_ceg_enhancement"]
    every = diagnose(q, None, spec.convergence).problems()
    assert any("family_sd" in p for p in every)
    # 4 x 1000 independent draws: R-hat of 3 quantities stays within 1.01 (sd ~ 0.002)
    assert diagnose(fit_gate_quantities(q), None, spec.convergence).problems() == []


def test_the_report_counts_replications_by_the_fit_gate_when_recorded(tmp_path, spec, design):
    def replicate(rep, *args):
        record = fake_replicate(rep, *args)
        if rep < 3:  # SBC's gate missed on a pooled sd; the fit gate met by reps 0 and 1
            record |= {"status": "not_converged", "problems": ["R-hat 1.2 > 1.01"],
                       "fit_gate": "ok" if rep < 2 else "not_converged"}
        else:
            record |= {"fit_gate": "ok"}
        return record

    sbc(spec, design, reps=6, seed=4, out=tmp_path / "new", replicate=replicate)
    text = sbc_report(tmp_path / "new", figures=False).markdown()
    assert "ok 3, not converged 3" in text and "5 of 6 met it" in text
    sbc(spec, design, reps=6, seed=4, out=tmp_path / "old", replicate=fake_replicate)
    assert "predate the `fit_gate` field" in sbc_report(tmp_path / "old",
                                                         figures=False).markdown()


def test_the_report_says_which_checks_replications_failed_and_on_what():
    import pandas as pd

    from ceg.validate.report import convergence_table

    reps = pd.DataFrame({
        "status": ["not_converged", "not_converged", "ok", "failed"],
        "max_rhat": [1.30, 1.02, 1.001, None], "min_ess_bulk": [12.0, 300.0, 900.0, None],
        "min_ess_tail": [40.0, 500.0, 800.0, None], "divergences": [7, 0, 0, None],
        "min_bfmi": [0.5, 0.7, 0.9, None],
        "problems": ["R-hat 1.300 > 1.01 (worst: log_slope_sd[0]); bulk ESS 12 < 100 (worst: "
                     "family_sd); tail ESS 40 < 100 (worst: family_sd); 7 divergent "
                     "transitions (> 0)",
                     "R-hat 1.020 > 1.01 (worst: log_slope_sd[0])", "", ""]})
    t = convergence_table(reps)
    assert t.loc["R-hat", "n_failing"] == 2 and t.loc["divergences", "n_failing"] == 1
    assert t.loc["bulk ESS", "n_failing"] == 1 and t.loc["E-BFMI", "n_failing"] == 0
    # the failed replication (no fit) is left out of the medians and extremes
    assert t.loc["R-hat", "worst"] == 1.30 and t.loc["R-hat", "median"] == 1.02
    assert t.loc["bulk ESS", "worst"] == 12.0 and t.loc["divergences", "median"] == 0
    assert t.loc["R-hat", "most_often_worst"] == "log_slope_sd (2)"
    assert t.loc["tail ESS", "most_often_worst"] == "family_sd (1)"
    assert t.loc["divergences", "most_often_worst"] == "–"
