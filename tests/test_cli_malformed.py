"""Every command and sub-command, given malformed arguments and inputs: exit 2, a message.

The commands are found by walking the ``ceg`` app, so a new command is swept
too. For each, every path parameter gets, in turn, a missing file, an empty
file, a directory (or a file where a folder is expected), bytes that are not
text, a NetCDF file that is not a fit and a CSV file that is not an evaluation
table; count options get 0, -1 and a word; choices get an unknown choice; and
every command gets an unknown option. Each must exit with status 2, print a
message on stderr and no traceback. Nothing samples: the sampler, the model
compiler, the SBC runner and the Dask cluster are replaced by functions that
fail the test if reached.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass

import numpy as np
import pytest
import typer.main
import xarray as xr

import ceg.fit
import ceg.sampling
import ceg.validate.cluster
import ceg.validate.holdout
import ceg.validate.sbc
from ceg.cli import app
from ceg.cli._common import run_guarded

#: Options that count something: 0 and negative values are malformed.
COUNTS = {"draws", "tune", "chains", "reps", "workers", "predictive_draws", "folds"}
#: Options that may be 0 but not negative.
NON_NEGATIVE = {"min_ess"}
#: Path parameters that are written to, not read.
OUTPUTS = {"out", "output", "save_fit", "figure"}
KINDS = ("missing", "empty", "folder", "bytes", "netcdf", "csv")


def _leaves(command, words=()):
    if hasattr(command, "commands"):
        for name, sub in sorted(command.commands.items()):
            yield from _leaves(sub, (*words, name))
    else:
        yield words, command


COMMANDS = list(_leaves(typer.main.get_command(app)))


def _is_path(param) -> bool:
    ann = param.type_descriptor.annotation
    return ann is pathlib.Path or "Path" in str(ann)


def _is_output(words, param) -> bool:
    # `ceg export --draws FILE` (an older export) writes its draws there
    return param.name in OUTPUTS or (param.name == "draws" and _is_path(param))


def _folder_expected(param) -> bool:
    return getattr(param.type_descriptor.parameter_info, "file_okay", True) is False


@dataclass
class Inputs:
    root: pathlib.Path

    def bad(self, kind: str, param) -> str:
        """Return a path of ``kind`` for ``param`` (a file where a folder is expected)."""
        r = self.root
        if kind == "missing":
            return str(r / "no_such_folder" / "missing.csv")
        if kind == "folder":
            return str(r / "a_file.csv") if _folder_expected(param) else str(r / "a_folder")
        return str(r / {"empty": "empty.csv", "bytes": "bytes.csv", "netcdf": "not_a_fit.nc",
                        "csv": "not_a_table.csv"}[kind])

    def good_output(self, param) -> str:
        return str(self.root / "outputs" / ("folder" if _folder_expected(param) else "out.csv"))


@pytest.fixture
def inputs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # default outputs (fit.nc, out/sbc, report.html) land here
    (tmp_path / "a_folder").mkdir()
    (tmp_path / "outputs").mkdir()
    (tmp_path / "a_file.csv").write_text("family,model\n")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "bytes.csv").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "not_a_table.csv").write_text("a,b\n1,2\n")
    xr.Dataset({"x": ("i", np.arange(3.0))}).to_netcdf(tmp_path / "not_a_fit.nc",
                                                       engine="h5netcdf")
    return Inputs(tmp_path)


@pytest.fixture(autouse=True)
def nothing_samples(monkeypatch):
    def reached(*args, **kwargs):
        raise AssertionError("malformed input reached the sampler, compiler or cluster")

    monkeypatch.setattr(ceg.sampling.CompiledModel, "sample", reached)
    monkeypatch.setattr(ceg.sampling, "compiled_model", reached)
    monkeypatch.setattr(ceg.fit, "compiled_model", reached)
    monkeypatch.setattr(ceg.fit, "fit", reached)
    monkeypatch.setattr(ceg.validate.sbc, "sbc", reached)
    monkeypatch.setattr(ceg.validate.cluster, "dask_client", reached)
    monkeypatch.setattr(ceg.validate.holdout, "holdout", reached)


def _required_rest(words, command, inputs, skip, kind) -> list[str]:
    """Arguments for the required parameters other than ``skip``: bad inputs, good outputs."""
    args, options = [], []
    for p in command.params:
        if p is skip or not p.required:
            continue
        if _is_path(p) and _is_output(words, p):
            value = inputs.good_output(p)
        elif _is_path(p):
            value = inputs.bad(kind, p)
        else:
            value = "x"
        if p.param_type_name == "argument":
            args.append(value)
        else:
            options += [p.opts[0], value]
    return args + options


def _cases():
    for words, command in COMMANDS:
        name = " ".join(words)
        yield pytest.param(words, None, "unknown-option", id=f"{name}:unknown-option")
        for p in command.params:
            if getattr(p, "hidden", False):
                continue
            if _is_path(p):
                if not _is_output(words, p):
                    kinds = KINDS
                elif _folder_expected(p):  # a missing output folder is made: not malformed
                    kinds = ("folder",)
                else:  # an output file's folder must exist
                    kinds = ("missing", "folder")
                for kind in kinds:
                    yield pytest.param(words, p.name, kind, id=f"{name}:{p.name}={kind}")
            elif p.type_descriptor.is_choice:
                yield pytest.param(words, p.name, "no-such-choice", id=f"{name}:{p.name}=choice")
            elif p.type_descriptor.annotation in (int, float):
                values = (("0", "-1", "many") if p.name in COUNTS
                          else ("-1", "many") if p.name in NON_NEGATIVE else ("many",))
                for v in values:
                    yield pytest.param(words, p.name, v, id=f"{name}:{p.name}={v}")


def _invoke(words, name, kind, inputs) -> list[str]:
    command = dict(COMMANDS)[words]
    if name is None:
        return [*words, *_required_rest(words, command, inputs, None, "missing"),
                "--no-such-option"]
    (param,) = [p for p in command.params if p.name == name]
    if _is_path(param):
        value = inputs.bad(kind, param)
        rest = _required_rest(words, command, inputs, param, kind)
    else:
        value = kind
        rest = _required_rest(words, command, inputs, param, "missing")
    if param.param_type_name == "argument":
        # a list argument (several fits) takes its one bad value like any other
        return [*words, value, *rest]
    return [*words, *rest, param.opts[0], value]


@pytest.mark.parametrize(("words", "name", "kind"), list(_cases()))
def test_malformed_input_exits_2_with_a_message(words, name, kind, inputs, capsys):
    args = _invoke(words, name, kind, inputs)
    code = run_guarded(app, args)
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert code == 2, f"ceg {' '.join(args)} -> {code}\n{text}"
    assert captured.err.strip(), f"ceg {' '.join(args)}: no message"
    assert "Traceback" not in text


def test_the_sweep_reaches_every_command():
    names = {" ".join(w) for w, _ in COMMANDS}
    assert {"fit", "summary", "export", "report", "data validate", "data show",
            "data import obsscaling", "data import sloth", "validate sbc",
            "validate sbc-report", "validate holdout", "validate ppc"} <= names


def test_a_path_the_system_refuses_exits_2_naming_it(capsys):
    # An output folder that is not writable (or a full disk) surfaces as an OSError, often only
    # after a long fit: it must read as a message naming the path, with status 2, not a traceback.
    refusing = typer.Typer()

    @refusing.command()
    def write() -> None:
        raise PermissionError(13, "Permission denied", "/read-only/fit.nc")

    assert run_guarded(refusing, []) == 2
    err = capsys.readouterr().err
    assert "/read-only/fit.nc" in err and "Permission denied" in err
    assert "Traceback" not in err
