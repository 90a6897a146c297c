"""What a new user meets first (issue #15): readable tables, flags, --strict, progress lines.

In-process, on fake fits and fake replications; nothing samples.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from rich.console import Console

import ceg
import ceg.fit
from ceg.cli import app
from ceg.cli._common import Tracker, run_guarded
from ceg.cli.model import TABLE_COLUMNS, _fmt, frame_table
from ceg.dataset import load_dataset
from ceg.design import make_design
from ceg.fit import load_fit
from ceg.validate import sbc as sbc_mod
from ceg.validate.calibration import ecdf_band, gamma_statistic, uniformity_pvalue
from ceg.validate.sbc import sbc
from fakes import fake_fit, synthetic_table
from test_validate_sbc import NAMES, fake_replicate


def flat(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


@pytest.fixture(scope="module")
def bundled_fake():
    """A fake fit of the bundled dataset: its real, long labels (``ccnet_finetune``...)."""
    reg = ceg.load_registries()
    return fake_fit(load_dataset(reg), seed=3, draws=20, chains=2, registries=reg)


def render(table, width: int, terminal: bool = True) -> str:
    out = Console(file=io.StringIO(), width=width, force_terminal=terminal, color_system=None)
    out.print(table)
    return out.file.getvalue()


# ------------------------------------------------------------- tables never cut a number


@pytest.mark.parametrize("by", ["enhancement", "benchmark", "category", "observation"])
@pytest.mark.parametrize("width", [80, 120])
def test_tables_keep_every_number_whole_at_terminal_widths(bundled_fake, by, width):
    frame = bundled_fake.summary(by)
    text = render(frame_table(frame, "t", TABLE_COLUMNS[by], width=width), width)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    assert "…" not in text  # rich's mark of a cut cell
    body = [line for line in lines if line.startswith("│")]
    cells = [c.strip() for line in body for c in line.strip("│").split("│")]
    # every interval, median and probability printed is the frame's, whole
    shown = re.search(r"left out for width: (.*?) \(", " ".join(text.split()))
    left_out = shown.group(1).split(", ") if shown else []
    for _, row in frame.reset_index().iterrows():
        assert f"{_fmt('ceg_low', row['ceg_low'])}-{_fmt('ceg_high', row['ceg_high'])}" in cells
        assert _fmt("median_ceg", row["median_ceg"]) in cells
        if "P(>20x)" not in left_out:
            assert _fmt("p_gt_20", row["p_gt_20"]) in cells
    assert "P(>20x)" not in left_out and "median CEG" not in left_out


def test_a_narrow_table_names_what_it_left_out(bundled_fake):
    frame = bundled_fake.summary("enhancement")
    wide = render(frame_table(frame, "t", TABLE_COLUMNS["enhancement"], width=400), 400)
    narrow = render(frame_table(frame, "t", TABLE_COLUMNS["enhancement"], width=60), 60)
    assert "paper" in wide and "left out" not in wide
    assert "left out for width: paper" in " ".join(narrow.split())
    assert max(len(line) for line in narrow.splitlines()) <= 60


def test_labels_fold_in_pieces_not_letter_by_letter(bundled_fake):
    frame = bundled_fake.summary("enhancement")
    text = render(frame_table(frame, "t", TABLE_COLUMNS["enhancement"], width=80), 80)
    first = [c.strip() for c in text.splitlines()[5].strip("│").split("│")]
    assert len(first[0]) >= 7  # "minerva" whole on one line, not "minerv" / "a"


def test_summary_off_a_terminal_prints_full_width(tmp_path, bundled_fake, capsys):
    path = bundled_fake.save(tmp_path / "fit.nc")
    assert run_guarded(app, ["summary", str(path), "--by", "observation"]) == 0
    out = capsys.readouterr().out
    assert "left out" not in out and "…" not in out
    assert "paper" in out and max(len(line) for line in out.splitlines()) > 120


def test_titles_say_where_the_ceg_is_read(tmp_path, bundled_fake, capsys):
    path = bundled_fake.save(tmp_path / "fit.nc")
    assert run_guarded(app, ["summary", str(path)]) == 0
    out = flat(capsys.readouterr().out)
    x_ref = bundled_fake.spec.structure.x_ref_flop
    assert f"CEG by enhancement at {x_ref:.0e}".replace("e+", "e") + " FLOP" in out
    assert "x_ref" not in out
    assert run_guarded(app, ["summary", str(path), "--by", "observation"]) == 0
    out = flat(capsys.readouterr().out)  # a row's CEG is read at its own model's compute
    assert "CEG by observation each at its model's own compute" in out and "FLOP (" not in out


# ------------------------------------------------------------------------------ flags


@pytest.mark.parametrize("command", [["fit"], ["report"], ["validate", "sbc"],
                                     ["validate", "holdout"], ["data", "show"]])
def test_help_shows_no_value_after_a_flag(command, capsys):
    assert run_guarded(app, [*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "<bool>" not in out
    assert re.search(r"--help\s+Show this message", out)


def test_fit_strict_true_says_flags_take_no_value(tmp_path, capsys):
    assert run_guarded(app, ["fit", "--strict", "true", "--out", str(tmp_path / "f.nc")]) == 2
    err = flat(capsys.readouterr().err)
    assert "'true' is not a file" in err and "take no value" in err


@pytest.mark.parametrize("command", [["validate", "sbc"], ["validate", "holdout"], ["fit"],
                                     ["report"]])
def test_the_spec_option_is_called_model_everywhere(command, capsys):
    assert run_guarded(app, [*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "--model" in out and "--spec" not in out


def test_holdout_options_all_have_help_and_a_sampler(capsys):
    assert run_guarded(app, ["validate", "holdout", "--help"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "--" in line]
    for flag in ("--draws", "--tune", "--chains", "--seed", "--sampler"):
        (line,) = [line for line in lines if re.search(rf"{flag}\b", line)]
        assert len(line.replace("│", "").split()) > 3, line  # flag, type and some help


def test_holdout_old_spec_option_still_reads(tmp_path, capsys, monkeypatch):
    import ceg.validate.holdout as holdout_mod

    seen = {}

    def fake(table, cutoff, spec, **kwargs):
        seen.update(spec=spec, **kwargs)
        raise ceg.errors.CegError("stop here")

    monkeypatch.setattr(holdout_mod, "holdout", fake)
    data = tmp_path / "t.csv"
    synthetic_table().to_csv(data, index=False)
    assert run_guarded(app, ["validate", "holdout", str(data), "--spec", "default",
                             "--sampler", "pymc"]) == 2
    # the command loads the spec first (a bad one fails before the table is read)
    assert seen["spec"].name == "default" and seen["sampler"] == "pymc"
    assert run_guarded(app, ["validate", "holdout", str(data), "--spec", "default",
                             "--model", "other"]) == 2
    assert "disagree" in flat(capsys.readouterr().err)


# ------------------------------------------------------------ --strict keeps the sampling


def unconverged(table, spec, **kwargs):
    """A fake ``ceg.fit.fit``: the two chains sit apart, so R-hat is far above 1.01."""
    n_enh = len(set(ceg.table.enhancements_of("+".join(
        c for c in table["condition"] if c != "base")))) if len(table) else 1
    noise = np.random.default_rng(0).normal(0.0, 0.1, size=(2, 20, n_enh))
    apart = np.array([0.0, 2.0]).reshape(2, 1, 1) + noise  # chains 20 sd apart
    return fake_fit(table, spec, seed=1, draws=20, chains=2,
                    values={"shift_intercept": apart}, registries=kwargs["registries"])


def test_fit_strict_saves_the_fit_then_exits_3(tmp_path, capsys, monkeypatch):
    calls = []

    def fake(table, spec, **kwargs):
        calls.append(kwargs)
        return unconverged(table, spec, **kwargs)

    monkeypatch.setattr(ceg.fit, "fit", fake)
    data = tmp_path / "t.csv"
    synthetic_table().to_csv(data, index=False)
    out = tmp_path / "fit.nc"
    code = run_guarded(app, ["fit", str(data), "--out", str(out), "--strict", "--quiet"])
    captured = capsys.readouterr()
    assert code == 3, captured.err
    assert calls[0]["strict"] is False  # the library must not raise before the save
    err = flat(captured.err)
    assert "did not converge" in err and f"saved in {out}" in err and "R-hat" in err
    saved = load_fit(out)  # the sampling is kept, and its diagnostics read from it
    assert not saved.diagnostics().converged
    assert saved.diagnostics().max_rhat > 1.1


def test_fit_without_strict_warns_and_exits_0(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(ceg.fit, "fit", unconverged)
    data = tmp_path / "t.csv"
    synthetic_table().to_csv(data, index=False)
    out = tmp_path / "fit.nc"
    assert run_guarded(app, ["fit", str(data), "--out", str(out), "--quiet"]) == 0
    assert out.exists()
    assert "NOT converged" in flat(capsys.readouterr().out)


# --------------------------------------------------------------------- progress lines


def test_tracker_off_a_terminal_prints_done_left_and_time_per_step():
    out = Console(file=io.StringIO(), force_terminal=False, width=200)
    with Tracker(3, "replication", out) as tracker:
        tracker.step("rep 0: ok")
        tracker.step("rep 1: ok")
    lines = out.file.getvalue().splitlines()
    assert lines[0].startswith("rep 0: ok [1/3 done, 2 left")
    assert "per replication" in lines[1] and "2/3 done, 1 left" in lines[1]
    assert "left]" in lines[1]  # time left estimated


# ------------------------------------------------------------------ one-replication SBC


def test_calibration_of_one_value_is_defined():
    g = gamma_statistic(np.array([0.3]))
    assert 0 < g <= 1
    assert 0 < uniformity_pvalue(np.array([0.3]), n_sim=200) <= 1
    band = ecdf_band(1, n_sim=200)
    assert len(band.z) == 1 and band.lower[0] <= 0 <= band.upper[0]


def test_one_replication_sbc_writes_its_report(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sbc_mod, "quantity_names", lambda spec, design: list(NAMES))
    design = make_design(synthetic_table(), ceg.load_registries())
    out = tmp_path / "run"
    sbc("default", design, reps=1, seed=2, out=out, replicate=fake_replicate, command="x")
    assert run_guarded(app, ["validate", "sbc-report", str(out)]) == 0
    text = (out / "sbc.md").read_text()
    assert "Replications: 1" in text
    assert "too few to judge calibration" in text  # not a verdict on one replication


def test_sbc_report_says_when_most_replications_did_not_converge(monkeypatch):
    from ceg.validate.report import _caveats

    assert not _caveats(200, 150)
    (line, _) = _caveats(200, 5)
    assert line.startswith("**195 of 200 replications did not converge**")


# ------------------------------------------------------------------ one-chain diagnostics


def test_one_chain_says_rhat_needs_two_chains(caplog):
    diag = fake_fit(seed=1, draws=30, chains=1).diagnostics()
    text = str(diag)
    assert "R-hat not computed (it needs at least 2 chains)" in text
    assert "nan" not in text.lower()
    assert "Shape validation failed" not in caplog.text
    assert diag.min_ess_bulk > 0  # ESS is still computed from the one chain


# ------------------------------------------------------------------ noise and counts


def test_the_blas_warning_is_hidden_and_others_are_not(capsys):
    import warnings

    from ceg.cli._common import BLAS_WARNING

    assert run_guarded(app, ["--version"]) == 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.warn(f"{BLAS_WARNING}. Operations that might benefit from BLAS will be "
                      "severely degraded.", UserWarning, stacklevel=1)
        warnings.warn("something a user needs to see", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["something a user needs to see"]


def test_data_validate_counts_models_as_family_model_pairs(tmp_path, capsys):
    # two families each with models "S" and "L": four models, as the report counts them
    rows = [(fam, m, f, "GSM8K", cond, s)
            for fam in ("A", "B") for m, f in (("S", "1e21"), ("L", "1e22"))
            for cond, s in (("base", "0.1"), ("chain_of_thought", "0.2"))]
    path = tmp_path / "t.csv"
    path.write_text("family,model,train_flop,benchmark,condition,score\n"
                    + "\n".join(",".join(r) for r in rows) + "\n")
    assert run_guarded(app, ["data", "validate", str(path)]) == 0
    assert "2 families, 4 models" in flat(capsys.readouterr().out)


def test_sbc_prints_replications_done_and_left(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sbc_mod, "quantity_names", lambda spec, design: list(NAMES))
    real = sbc_mod.sbc
    monkeypatch.setattr(sbc_mod, "sbc",
                        lambda *a, **k: real(*a, **{**k, "replicate": fake_replicate}))
    data = tmp_path / "t.csv"
    synthetic_table().to_csv(data, index=False)
    out = tmp_path / "run"
    args = ["validate", "sbc", "--serial", "--reps", "3", "--data", str(data), "--out", str(out)]
    assert run_guarded(app, args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("rep 0: ok") and "[1/3 done, 2 left" in line for line in lines)
    assert any("[3/3 done, 0 left" in line for line in lines)
    # resumed with more replications: counts only what is left
    assert run_guarded(app, [*args[:4], "4", *args[5:]]) == 0
    assert "[1/1 done, 0 left" in capsys.readouterr().out


def test_fit_target_accept_reaches_the_spec_of_the_fit(tmp_path, capsys, monkeypatch):
    seen = []

    def fake(table, spec, **kwargs):
        seen.append(spec)
        return fake_fit(table, spec, seed=1, draws=20, chains=2,
                        registries=kwargs["registries"])

    monkeypatch.setattr(ceg.fit, "fit", fake)
    data = tmp_path / "t.csv"
    synthetic_table().to_csv(data, index=False)
    out = tmp_path / "fit.nc"
    args = ["fit", str(data), "--out", str(out), "--quiet", "--target-accept", "0.8"]
    assert run_guarded(app, args) == 0, capsys.readouterr().err
    assert seen[0].sampler.target_accept == 0.8
    assert load_fit(out).spec.sampler.target_accept == 0.8  # the saved fit records it
    assert "target_accept 0.8" in flat(capsys.readouterr().out)


@pytest.mark.parametrize("value", ["1.0", "0.2"])
def test_fit_target_accept_outside_its_range_exits_2(tmp_path, capsys, monkeypatch, value):
    monkeypatch.setattr(ceg.fit, "fit", lambda *a, **k: pytest.fail("sampled"))
    args = ["fit", "--out", str(tmp_path / "f.nc"), "--target-accept", value]
    assert run_guarded(app, args) == 2
    assert "--target-accept" in flat(capsys.readouterr().err)
