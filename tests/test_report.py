"""``ceg report`` and ceg.report: a self-contained page with every section, opened and parsed."""

from __future__ import annotations

import base64
import io
import os
import shutil
import struct
import subprocess
import warnings
from html.parser import HTMLParser

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import ceg.fit  # noqa: E402
from ceg.cli import app  # noqa: E402
from ceg.cli._common import run_guarded  # noqa: E402
from ceg.errors import ConvergenceWarning  # noqa: E402
from ceg.report import (  # noqa: E402
    OPTIONAL_SECTIONS,
    SECTIONS,
    curve_benchmarks,
    html_table,
    sensitivity_section,
    write_report,
)
from ceg.spec import PRIOR_NAMES  # noqa: E402
from fakes import fake_fit, small_table, synthetic_table  # noqa: E402
from graph_eval import quick_compile  # noqa: E402

#: What the issue asks the page to hold, written out here rather than read from SECTIONS.
REQUIRED = ["headline", "tables", "forest", "curves", "scale", "checks", "priors",
            "diagnostics", "spec", "provenance"]
PNG = b"\x89PNG\r\n\x1a\n"


class Page(HTMLParser):
    """Collects what the tests look at: sections, headings, images, tables, references."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.headings: list[str] = []
        self.images: list[dict[str, str]] = []
        self.tags: set[str] = set()
        self.references: list[str] = []  # every href/src/action/poster/data attribute
        self.tables: list[list[list[str]]] = []
        self.text: list[str] = []
        self._in_h2 = False
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        if tag == "section":
            self.sections.append(a.get("id", ""))
        if tag == "h2":
            self._in_h2 = True
            self.headings.append("")
        if tag == "img":
            self.images.append(a)
        for key in ("href", "src", "action", "poster", "data", "srcset"):
            if a.get(key) is not None:
                self.references.append(a[key])
        if tag == "table":
            self.tables.append([])
        if tag == "tr":
            self.tables[-1].append([])
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "h2":
            self._in_h2 = False
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self._in_h2:
            self.headings[-1] += data
        if self._cell is not None:
            self._cell.append(data)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG, "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def fake():
    return fake_fit(small_table(), method="prior", draws=40, chains=2, seed=7)


@pytest.fixture(scope="module")
def fit_file(fake, tmp_path_factory):
    return fake.save(tmp_path_factory.mktemp("fit") / "fit.nc")


@pytest.fixture(scope="module")
def report(fit_file, tmp_path_factory):
    """The page written by ``ceg report FIT -o report.html``."""
    out = tmp_path_factory.mktemp("report") / "report.html"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pareto k of prior draws used as a posterior
        assert run_guarded(app, ["report", str(fit_file), "-o", str(out),
                                 "--predictive-draws", "40"]) == 0
    return out


@pytest.fixture(scope="module")
def page(report):
    return Page(report.read_text(encoding="utf-8"))


def table_with(page: Page, header: list[str]) -> list[list[str]]:
    (table,) = [t for t in page.tables if t and t[0][:len(header)] == header]
    return table


# ---------------------------------------------------------------- structure


def test_every_section_is_present_in_order(page):
    assert [s for s, _ in SECTIONS if s not in OPTIONAL_SECTIONS] == REQUIRED
    assert page.sections == REQUIRED  # the sensitivity section only when asked for
    assert page.headings == [h for s, h in SECTIONS if s not in OPTIONAL_SECTIONS]


def test_every_image_is_an_embedded_png(page, fake):
    # forest, one scaling-curve figure per benchmark (three here), CEG vs compute, PPC,
    # LOO-PIT, prior vs posterior
    assert len(page.images) == 1 + 3 + 1 + 1 + 1 + 1
    for img in page.images:
        src = img["src"]
        assert src.startswith("data:image/png;base64,")
        data = base64.b64decode(src.split(",", 1)[1], validate=True)
        w, h = png_size(data)
        assert w > 200 and h > 150
        assert mpimg.imread(io.BytesIO(data), format="png").shape[:2] == (h, w)
        assert img.get("alt")


def test_nothing_is_fetched_from_elsewhere(report, page):
    text = report.read_text(encoding="utf-8")
    assert not page.tags & {"script", "link", "iframe", "object", "embed", "base"}
    for ref in page.references:
        assert ref.startswith(("data:", "#")), ref
    assert "url(" not in text and "@import" not in text
    assert "http://" not in text and "https://" not in text  # no URL in this data either


# ---------------------------------------------------------------- content


def test_headline_and_enhancement_table_with_the_paper_method(page, fake):
    text = " ".join(page.text)
    assert "CEG > 5x: share of enhancements" in text and "P(most)" in text
    table = table_with(page, ["enhancement", "category", "median CEG"])
    header, rows = table[0], table[1:]
    assert header[-2:] == ["extrapolated", "paper method"]
    summary = fake.summary("enhancement")
    assert [r[0] for r in rows] == list(summary.index)
    for r in rows:
        paper = summary.loc[r[0], "paper_ceg"]
        assert r[-1] == ("–" if pd.isna(paper) else f"{paper:.3g}")
        assert r[2] == f"{summary.loc[r[0], 'median_ceg']:.3g}"


def test_all_four_ceg_tables(page, fake):
    by_category = table_with(page, ["category", "quantity", "n"])
    assert len(by_category) - 1 == 2 * len(fake.design.coords["category"])
    by_benchmark = table_with(page, ["enhancement", "benchmark"])
    assert len(by_benchmark) - 1 == len(fake.design.coords["enhancement_benchmark"])
    by_observation = table_with(page, ["observation", "model"])
    assert len(by_observation) - 1 == int((fake.table["condition"] != "base").sum())
    assert by_observation[0][-2:] == ["paper method", "paper: how"]


def test_provenance_spec_and_diagnostics(page, fake, fit_file):
    text = " ".join(page.text)
    assert ceg.fit.table_digest(fake.table) in text
    counts = dict(r for r in table_with(page, ["what", "count"])[1:])
    assert counts["rows"] == "138" and counts["benchmarks"] == "3"
    assert int(counts["base rows"]) + int(counts["enhanced rows"]) == 138
    sources = table_with(page, ["source", "rows", "benchmarks"])[1:]
    assert {r[0] for r in sources} == set(fake.table["source"])
    assert sum(int(r[1]) for r in sources) == 138
    assert f"Fit file: {fit_file}" in text
    priors = table_with(page, ["prior", "dist", "mu", "sigma"])[1:]
    assert [r[0] for r in priors] == list(PRIOR_NAMES)  # the loaded spec's are sorted
    assert "R-hat" in text and "E-BFMI per chain" in text
    assert "PSIS-LOO over 40 draws" in text


def test_curve_benchmarks_by_enhanced_rows(fake):
    t = fake.table
    counts = t[t["condition"] != "base"].groupby("benchmark").size()
    assert curve_benchmarks(fake) == list(counts.sort_values(ascending=False).index)
    assert curve_benchmarks(fake, 1) == ["GSM8K"] == [counts.idxmax()]


def test_html_table_escapes_and_formats():
    frame = pd.DataFrame({"name": ["<b>x</b>"], "p_gt_5": [0.123456], "median_ceg": [12345.6],
                          "paper_ceg": [float("nan")]})
    out = html_table(frame)
    assert "&lt;b&gt;x&lt;/b&gt;" in out and "<b>" not in out
    assert ">0.12<" in out and ">12,346<" in out and ">–<" in out


# ---------------------------------------------------------------- command line


def test_report_writes_atomically_and_keeps_the_old_file_on_error(fake, fit_file, tmp_path,
                                                                  capsys):
    out = tmp_path / "r.html"
    out.write_text("old")
    assert run_guarded(app, ["report", str(fit_file), "-o", str(out), "-b", "GSM8k"]) == 2
    assert "Did you mean 'GSM8K'" in " ".join(capsys.readouterr().err.split())
    assert out.read_text() == "old"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_report(fake, out, benchmarks=["SVAMP"], predictive_draws=20)
    assert os.listdir(tmp_path) == ["r.html"]
    page = Page(out.read_text(encoding="utf-8"))
    assert len(page.images) == 1 + 1 + 1 + 1 + 1 + 1  # one scaling-curve figure
    assert out.stat().st_mode & 0o044  # readable by others, like any page to share


def test_help_lists_report_and_its_options(capsys):
    assert run_guarded(app, ["--help"]) == 0
    assert "report" in capsys.readouterr().out
    assert run_guarded(app, ["report", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--out", "--benchmark", "--draws", "--tune", "--chains", "--seed",
                   "--save-fit"):
        assert option in out


def test_report_refuses_fit_options_with_a_fit(fit_file, tmp_path, capsys):
    code = run_guarded(app, ["report", str(fit_file), "-o", str(tmp_path / "r.html"),
                             "--draws", "10"])
    assert code == 2
    assert "--draws only apply when fitting" in " ".join(capsys.readouterr().err.split())
    assert not (tmp_path / "r.html").exists()


def test_report_missing_folder_or_fit(fit_file, tmp_path, capsys):
    assert run_guarded(app, ["report", str(fit_file), "-o", str(tmp_path / "no" / "r.html")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert run_guarded(app, ["report", str(tmp_path / "nope.nc"), "-o",
                             str(tmp_path / "r.html")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_report_without_a_fit_fits_the_bundled_data_first(tmp_path, monkeypatch, capsys):
    import ceg.dataset

    calls = []

    def fake_sampler(table, spec, **kwargs):
        calls.append(kwargs)
        warnings.warn("the fit did not converge: R-hat 1.2 > 1.01", ConvergenceWarning,
                      stacklevel=2)
        return fake_fit(table, spec, method="prior", seed=kwargs["seed"], draws=20, chains=2,
                        registries=kwargs["registries"])

    monkeypatch.setattr(ceg.fit, "fit", fake_sampler)
    monkeypatch.setattr(ceg.dataset, "load_dataset", lambda reg=None: synthetic_table())
    out = tmp_path / "report.html"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        code = run_guarded(app, ["report", "-o", str(out), "--draws", "20", "--tune", "30",
                                 "--chains", "2", "--seed", "5", "--sampler", "pymc",
                                 "--quiet", "--predictive-draws", "20"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    (call,) = calls
    assert (call["draws"], call["tune"], call["chains"], call["seed"]) == (20, 30, 2, 5)
    assert call["sampler"] == "pymc" and call["progress"] is False
    saved = tmp_path / "report.nc"
    assert ceg.fit.load_fit(saved).seed == 5
    assert "of the bundled dataset" in captured.out
    page = Page(out.read_text(encoding="utf-8"))
    assert page.sections == REQUIRED
    assert "This fit did not converge" in " ".join(page.text)  # 40 draws: ESS < 400
    assert f"Fit file: {saved}" in " ".join(page.text)


# ---------------------------------------------------------------- in a browser


CHECK = """<script>
window.addEventListener('load', () => {
  const imgs = Array.from(document.images);
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.setAttribute('data-images', ok + '/' + imgs.length);
});
</script>"""


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="chromium is not installed: the page is only parsed, not rendered "
                           "(apt-get install chromium to run this test)")
def test_every_image_loads_in_a_headless_browser(report, tmp_path):
    probe = tmp_path / "probe.html"
    probe.write_text(report.read_text(encoding="utf-8").replace("</body>", CHECK + "</body>"),
                     encoding="utf-8")
    result = subprocess.run(
        [shutil.which("chromium"), "--headless", "--no-sandbox", "--disable-gpu",
         "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    n = len(Page(report.read_text(encoding="utf-8")).images)
    assert f'data-images="{n}/{n}"' in result.stdout


# ---------------------------------------------------------------- sensitivity section


def test_a_sweep_gets_its_own_section_with_one_row_per_variant(fake, tmp_path):
    from ceg.sensitivity.refits import run_sweep
    from test_sensitivity_sweep import SETTINGS, fake_run, grid

    out = tmp_path / "sweep"
    run_sweep(grid(), out=out, settings=SETTINGS, table=synthetic_table(), run=fake_run)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        page = Page(sensitivity_section(fake, power_scaling=False, sweep=out, dpi=40))
    ids = [s for s, _ in SECTIONS]
    assert ids.index("diagnostics") < ids.index("sensitivity") < ids.index("spec")
    (table,) = [t for t in page.tables if t and t[0][0] == "variant"]
    assert sorted(row[0] for row in table[1:]) == ["default", "floor_zero", "shift_mean_0"]


def test_power_scaling_in_the_report_needs_the_fits_log_prior(fake):
    from ceg.errors import CegError

    assert "log_prior" not in fake.idata.groups()
    with pytest.raises(CegError, match="log_prior"):
        sensitivity_section(fake, power_scaling=True)


def test_report_refuses_a_missing_sweep_folder(fit_file, tmp_path, capsys):
    code = run_guarded(app, ["report", str(fit_file), "-o", str(tmp_path / "r.html"),
                             "--sweep", str(tmp_path / "nowhere")])
    assert code == 2
    assert "no such folder" in " ".join(capsys.readouterr().err.split())
    assert not (tmp_path / "r.html").exists()



def test_power_scaling_section_lists_every_quantity_and_the_pareto_k():
    import pymc as pm

    from ceg.model import build_model

    f = fake_fit(small_table(), method="prior", draws=40, chains=2, seed=8)
    model = build_model(f.spec, f.design)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pm.compute_log_prior(f.idata, model=model, extend_inferencedata=True, progressbar=False,
                             compile_kwargs=quick_compile())  # no C (tests/graph_eval.py)
        pm.compute_log_likelihood(f.idata, model=model, extend_inferencedata=True,
                                  progressbar=False, compile_kwargs=quick_compile())
        page = Page(sensitivity_section(f, power_scaling=True, dpi=40))
    text = " ".join(page.text)
    assert "Pareto k of the importance weights: prior" in text
    enhancements = set(f.design.coords["enhancement"])
    cells = {c for t in page.tables for row in t for c in row}
    assert any(e in c for e in enhancements for c in cells)  # per-enhancement rows are there
