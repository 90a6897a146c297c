"""Saving and loading fits (NetCDF + attrs). The real sampling run is in test_real_fits.py."""

from __future__ import annotations

import os

import arviz as az
import numpy as np
import pytest
import xarray as xr

from ceg.errors import FitFileError
from ceg.fit import FIT_FORMAT, Fit, load_fit, table_digest
from fakes import fake_fit


@pytest.fixture(scope="module")
def fake() -> Fit:
    return fake_fit(seed=42, draws=30, chains=2)


@pytest.fixture
def saved(fake, tmp_path):
    return fake.save(tmp_path / "fit.nc")


def test_round_trip_keeps_posterior_spec_table_registries_seed(fake, saved):
    back = load_fit(saved)
    for name, da in fake.posterior.data_vars.items():
        np.testing.assert_array_equal(back.posterior[name].to_numpy(), da.to_numpy())
        assert back.posterior[name].dims == da.dims
    assert back.spec.to_dict() == fake.spec.to_dict()
    assert back.spec.digest() == fake.spec.digest()
    assert back.table.equals(fake.table)
    assert table_digest(back.table) == table_digest(fake.table)
    assert back.registries.benchmarks.equals(fake.registries.benchmarks)
    assert back.registries.enhancements.equals(fake.registries.enhancements)
    assert (back.seed, back.sampler) == (42, "fake")
    assert back.versions == fake.versions
    assert set(fake.idata.groups()) <= set(back.idata.groups())


def test_loaded_fit_summarises_like_the_original(fake, saved):
    back = load_fit(saved)
    for by in ("enhancement", "benchmark", "category", "observation"):
        a, b = fake.summary(by), back.summary(by)
        assert list(a.columns) == list(b.columns)
        np.testing.assert_allclose(a.select_dtypes("number").to_numpy(),
                                   b.select_dtypes("number").to_numpy(), equal_nan=True)


def test_saving_does_not_touch_the_fit_in_memory(fake, saved):
    assert not any(k.startswith("ceg_") for k in fake.posterior.attrs)


def test_missing_file(tmp_path):
    with pytest.raises(FitFileError, match="file not found"):
        load_fit(tmp_path / "nope.nc")


def test_not_netcdf(tmp_path):
    path = tmp_path / "fit.nc"
    path.write_text("family,model\n")
    with pytest.raises(FitFileError, match="not a NetCDF file written by ceg"):
        load_fit(path)


def test_netcdf_that_is_not_a_ceg_fit(tmp_path):
    path = tmp_path / "other.nc"
    xr.Dataset({"x": ("i", np.arange(3.0))}).to_netcdf(path, engine="h5netcdf")
    with pytest.raises(FitFileError, match=FIT_FORMAT):
        load_fit(path)
    idata_path = tmp_path / "idata.nc"
    az.from_dict(posterior={"mu": np.zeros((2, 5))}).to_netcdf(str(idata_path),
                                                                engine="h5netcdf")
    with pytest.raises(FitFileError, match="not a ceg fit"):
        load_fit(idata_path)


def rewrite_attr(path, key: str, edit) -> None:
    idata = az.from_netcdf(path)
    idata.load()
    idata.posterior.attrs[key] = edit(idata.posterior.attrs[key])
    os.unlink(path)
    idata.to_netcdf(str(path), engine="h5netcdf")


def test_tampered_table_is_refused(saved):
    # Change one score to another valid score: the table validates, its hash does not.
    def edit(csv: str) -> str:
        lines = csv.split("\n")
        lines[1] = lines[1].replace(",0.05,", ",0.06,")
        assert lines[1] != csv.split("\n")[1]
        return "\n".join(lines)

    rewrite_attr(saved, "ceg_table_csv", edit)
    with pytest.raises(FitFileError, match="does not match its SHA-256"):
        load_fit(saved)


def test_invalid_stored_table_is_a_fit_file_error(saved):
    rewrite_attr(saved, "ceg_table_csv", lambda csv: csv.replace(",0.05,", ",45,", 1))
    with pytest.raises(FitFileError):
        load_fit(saved)


def test_missing_attr_is_a_fit_file_error(saved):
    idata = az.from_netcdf(saved)
    idata.load()
    del idata.posterior.attrs["ceg_table_sha256"]
    os.unlink(saved)
    idata.to_netcdf(str(saved), engine="h5netcdf")
    with pytest.raises(FitFileError):
        load_fit(saved)


def test_other_format_version_is_refused(saved):
    rewrite_attr(saved, "ceg_format", lambda _: "ceg-fit-0")
    with pytest.raises(FitFileError, match="ceg-fit-0"):
        load_fit(saved)


def test_save_is_atomic_and_replaces_an_existing_file(fake, tmp_path):
    path = tmp_path / "fit.nc"
    path.write_bytes(b"an older file")
    fake.save(path)
    assert os.listdir(tmp_path) == ["fit.nc"]  # no temporary file left
    assert load_fit(path).seed == 42


def test_failed_save_leaves_the_old_file_and_no_temp(fake, tmp_path, monkeypatch):
    path = tmp_path / "fit.nc"
    path.write_bytes(b"an older file")

    def broken(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(az.InferenceData, "to_netcdf", broken)
    with pytest.raises(OSError, match="disk full"):
        fake.save(path)
    assert path.read_bytes() == b"an older file"
    assert os.listdir(tmp_path) == ["fit.nc"]


def test_save_creates_the_folder(fake, tmp_path):
    path = fake.save(tmp_path / "a" / "b" / "fit.nc")
    assert path.exists()


def test_stored_registry_covers_benchmarks_known_only_from_the_table():
    # ObsScaling-style rows carry their own n_items and chance for benchmarks the
    # bundled registry does not list; the registry stored with a fit must still
    # cover every benchmark of the stored table (a fit once crashed here after
    # 30 minutes of sampling).
    import pandas as pd

    import ceg
    from ceg.fit import registries_used

    rows = []
    for flop, score in ((1e21, 0.2), (1e22, 0.4)):
        for cond, bump in (("base", 0.0), ("chain_of_thought", 0.1)):
            rows.append({"family": "F", "model": f"m{flop:.0e}", "train_flop": flop,
                         "benchmark": "BBH made_up_task", "condition": cond,
                         "score": score + bump, "n_items": 250, "chance": 0.25})
    reg = ceg.load_registries()
    table = ceg.validate_table(pd.DataFrame(rows), reg)
    used = registries_used(reg, table)
    assert list(used.benchmarks.index) == ["BBH made_up_task"]
    assert used.benchmarks.loc["BBH made_up_task", "n_items"] == 250
    assert used.benchmarks.loc["BBH made_up_task", "chance"] == 0.25
    assert list(used.enhancements.index) == ["chain_of_thought"]
