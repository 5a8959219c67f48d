"""scslab in a notebook: short reprs and headline tables, a saved run reopened, bars, static figures."""

from __future__ import annotations

import importlib.util
import json
import shutil
import struct
import warnings
from pathlib import Path

import pandas as pd
import pytest

import scslab
from scslab import progress_bars
from scslab.errors import ScslabError
from scslab.experiments import Options, ensemble
from scslab.experiments.executors import LocalExecutor

TINY = {"population.size": 1500, "days": 40, "blacklist.threshold": 790}  # lists people within days


@pytest.fixture(scope="module")
def result() -> scslab.Result:
    return scslab.simulate(scslab.load_scenario("beijing-2020").with_overrides(TINY), seed=4)


@pytest.fixture(scope="module")
def saved(result: scslab.Result, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return result.save(tmp_path_factory.mktemp("saved") / "run", people=True)


def test_reprs_are_one_short_line_and_html_a_headline_table(result: scslab.Result) -> None:
    text = repr(result)
    assert "\n" not in text and len(text) < 300 and "'beijing-2020' seed 4" in text and "1,500 citizens" in text
    page = result._repr_html_()
    assert len(page) < 6000 and page.count("<tr>") <= 13  # the header and at most 12 figures
    head = result.headline()
    assert f"<td>{head['figure'].iloc[0]}</td>" in page and "more rows" in page
    sc = result.scenario
    assert "\n" not in repr(sc) and len(repr(sc)) < 300 and "1,500 citizens for 22,000,000" in repr(sc)
    assert "population.size" in sc._repr_html_() and "sources.cameras" in sc._repr_html_()
    assert "<td>--set blacklist.threshold</td><td>790</td>" in sc._repr_html_()


def test_comparison_and_experiment_results_show_their_main_table(tmp_path: Path) -> None:
    small = {"population.size": 600, "days": 8}
    comparison = scslab.compare("beijing-2020", "rights-respecting", seeds=2, overrides=small)
    assert "'beijing-2020' vs B 'rights-respecting': 2 seeds" in repr(comparison)
    page = comparison._repr_html_()
    assert "<th>difference</th>" in page and "<th>low</th>" in page and len(page) < 6000
    res = ensemble(scslab.load_scenario("beijing-2020").with_overrides(small), seeds=2,
                   options=Options(executor=LocalExecutor(0), root=tmp_path))  # fmt: skip
    assert repr(res).startswith(f"<EnsembleResult {res.experiment_id}: 2 runs (2 executed now)")
    assert "\n" not in repr(res)
    assert "<th>ci_low</th>" in res._repr_html_() and f"<td>{res.intervals['metric'].iloc[0]}</td>" in res._repr_html_()


def test_load_run_reopens_a_saved_run_as_a_result(result: scslab.Result, saved: Path) -> None:
    back = scslab.load_run(saved)
    assert back.state is None and back.directory == saved
    assert back.summary == json.loads((saved / "summary.json").read_text())
    pd.testing.assert_frame_equal(back.timeseries, result.timeseries)
    pd.testing.assert_frame_equal(back.breakdowns, result.breakdowns, check_dtype=False)
    pd.testing.assert_frame_equal(back.headline(), result.headline())
    pd.testing.assert_frame_equal(back.people, result.people, check_dtype=False)
    assert back.listings_table().equals(result.listings_table())
    assert back.scenario.params == result.scenario.params and dict(back.scenario.overrides) == TINY
    figures = scslab.plot(back)
    assert figures.keys() == scslab.plot(result).keys()
    assert figures["blacklist"].to_json() == scslab.plot(result)["blacklist"].to_json()
    assert "read from" in repr(back)


def test_load_run_says_what_a_folder_lacks(result: scslab.Result, tmp_path: Path) -> None:
    out = result.save(tmp_path / "run")  # without people
    back = scslab.load_run(out)
    with pytest.raises(ScslabError, match=r"people.parquet: file not found: the run was saved without --save-people"):
        _ = back.people
    (out / "timeseries.parquet").unlink()
    with pytest.raises(ScslabError, match=r"timeseries.parquet: file not found"):
        scslab.load_run(out)


def test_a_notebook_without_ipywidgets_gets_a_plain_bar_and_no_warning(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(progress_bars, "plain_bar_needed", lambda console: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scslab.simulate(scslab.load_scenario("beijing-2020").with_overrides({"population.size": 300, "days": 45}),
                        progress=True)  # fmt: skip
    err = capsys.readouterr().err
    assert err.endswith("\rbeijing-2020: 45 of 45 days\n")
    assert 2 <= err.count("\r") <= progress_bars.STEPS + 2  # a line per step, not per day


KALEIDO = importlib.util.find_spec("kaleido") is not None
BROWSER = any(shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome", "chrome"))


@pytest.mark.skipif(not KALEIDO, reason="kaleido (the notebook extra) is not installed")
@pytest.mark.skipif(not BROWSER, reason="no Chrome or Chromium: `make test` installs Debian's chromium")
def test_figures_export_as_png_svg_and_pdf(result: scslab.Result, tmp_path: Path) -> None:
    import plotly.io as pio

    figure = scslab.plot(result)["blacklist"]  # as figure.write_image(path) writes it, both in one browser start
    pio.write_images([figure, figure], [tmp_path / "blacklist.png", tmp_path / "blacklist.pdf"], width=640, height=400)
    png = (tmp_path / "blacklist.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    assert struct.unpack(">II", png[16:24]) == (640, 400)
    paths = scslab.save_figures(result, tmp_path / "svg", format="svg")
    assert {p.stem for p in paths} == set(scslab.plot(result))
    svg = paths[0].read_text("utf-8")
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>") and 'width="1000"' in svg
    pdf = (tmp_path / "blacklist.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and b"%%EOF" in pdf[-64:]
    with pytest.raises(ScslabError, match=r"format: 'gif' \(allowed: png, svg, pdf\)"):
        scslab.save_figures(result, tmp_path / "gif", format="gif")
