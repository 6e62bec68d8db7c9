"""`server-layers report` on a hand-made but realistic bench run (tests/data/report-run/).

The fixture: three layers, threaded, capacity users 1,16,64, two repeats each,
one level bound by the load generator, one failed run, one missing figure, and
a small conformance.json (the layers beside a deliberately divergent proxy). A second
fixture (tests/data/knob-run/) is a knob matrix: the same layers and the stock
http.server pseudo-layer, 8 users, under every knob, two repeats, one failed run.
Checked: the charts decode, the page names no other host and renders in a real
headless Chromium, the verdict follows the numbers, failures and escaping.
No layer is named here: names come from the fixture.
"""

import copy
import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib.colors
import matplotlib.image
import pytest
from browser_helpers import CHROMIUM_ARGS, require_chromium
from conftest import ROOT

from bench.knobs import DEFAULT
from bench.results import summarise
from reports import charts, cli, compare, data, tables
from reports.matrix import matrix_html
from reports.verdict import costs, verdict

FIXTURE = Path(__file__).resolve().parent / "data" / "report-run"
KNOB_FIXTURE = FIXTURE.parent / "knob-run"
CHART_NAMES = ["cpu_per_request", "throughput", "latency", "failures"]
EXTERNAL = [
    re.compile(r"https?://", re.I),
    re.compile(r"""\b(?:src|href|action|poster)\s*=\s*(?!["']?(?:data:|#))""", re.I),  # anything but inline data
    re.compile(r"url\(|@import|<script|<link|<iframe|<object", re.I),
    re.compile(r"""["'(]//[a-z0-9]""", re.I),  # protocol-relative
]


def fixture_results() -> dict:
    return json.loads((FIXTURE / "results.json").read_text())


def build_from(results: dict, folder: Path, conformance: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results))
    if conformance:
        shutil.copy(FIXTURE / "conformance.json", folder)
    return cli.build(folder)


def build_copy(tmp_path_factory, source: Path, name: str) -> Path:
    """The report of a copy of the fixture run `source`: the folder holding it."""
    folder = tmp_path_factory.mktemp(name)
    shutil.copytree(source, folder, dirs_exist_ok=True)
    cli.build(folder)
    return folder


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The report of the fixture run, built once."""
    return build_copy(tmp_path_factory, FIXTURE, "report")


# --- the files ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", CHART_NAMES)
def test_chart_png_decodes_and_is_not_blank(built, name):
    pixels = matplotlib.image.imread(built / f"{name}.png")
    assert pixels.ndim == 3 and pixels.shape[0] > 300 and pixels.shape[1] > 500
    assert pixels.reshape(-1, pixels.shape[2]).std(axis=0).max() > 0.05  # more than one colour


@pytest.mark.parametrize("name", CHART_NAMES)
def test_chart_svg_parses(built, name):
    root = ET.parse(built / f"{name}.svg").getroot()
    assert root.tag.endswith("svg") and len(list(root.iter())) > 50


def test_page_names_no_other_host(built):
    page = (built / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count('src="data:image/png;base64,') == len(CHART_NAMES)
    for pattern in EXTERNAL:
        assert not pattern.search(page), pattern.pattern


def test_page_sections_in_order(built):
    page = (built / "report.html").read_text()
    ids = [page.index(f'<section id="{name}">') for name in ("verdict", "charts", "figures", "conformance", "environment")]
    assert ids == sorted(ids)
    assert fixture_results()["environment"]["git_commit"] in page


def test_failed_run_listed_and_escaped(built):
    failed = [run for run in fixture_results()["runs"] if run["status"] != "ok"]
    page, summary = (built / "report.html").read_text(), (built / "summary.md").read_text()
    assert failed and all(run["error"] in page and run["error"] in summary for run in failed)
    assert "&lt;simulated&gt; &amp; &quot;quoted&quot;" in page and "<simulated>" not in page
    assert "\\<simulated\\>" in summary


def test_summary_md_has_a_row_per_level(built):
    summary = (built / "summary.md").read_text()
    entries = fixture_results()["summary"]
    rows = [line for line in summary.splitlines() if line.startswith("| ") and "|---" not in line]
    assert len(rows) == 1 + len(entries) + 1 + 1  # the figures and their header, the failed run and its header
    assert fixture_results()["runs"][0]["layer"] in summary


def test_missing_figures_are_dashes_and_gaps():
    results = fixture_results()
    layer = results["runs"][0]["layer"]
    for run in results["runs"]:
        if run["layer"] == layer:
            run["p99_ms"] = None
    entries = data.summary({**results, "summary": None})
    p99 = tables.figure_headers().index("p99 (ms)")
    rows = [row for row in tables.figure_rows(entries) if row[0].startswith(layer + "/")]
    assert rows and all(row[p99] == "—" for row in rows)
    p50, p99 = drawn(entries)["latency"].axes  # one scenario: a row each
    assert 0 < len(p99.get_lines()) < len(p50.get_lines())  # the layer without p99 is a gap, the others drawn


def test_conformance_matrix_flags_and_absence(built):
    page = (built / "report.html").read_text()
    matrix = json.loads((FIXTURE / "conformance.json").read_text())
    assert page.count('class="cell contract diverges"') >= matrix["totals"]["diverging"] > 0
    assert "No conformance.json in this folder" in matrix_html(None)


# --- the knob matrix ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def knob_built(tmp_path_factory) -> Path:
    """The report of the knob fixture, built once."""
    return build_copy(tmp_path_factory, KNOB_FIXTURE, "knob-report")


def knob_results() -> dict:
    return json.loads((KNOB_FIXTURE / "results.json").read_text())


def md_section(text: str, title: str) -> list[str]:
    """The table rows (header included) of one `## title` section of summary.md."""
    section = text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ") and "|---" not in line]


def test_knob_matrix_section_chart_and_table(knob_built):
    page, summary = (knob_built / "report.html").read_text(), (knob_built / "summary.md").read_text()
    ids = [page.index(f'<section id="{name}">') for name in ("charts", "knobs", "figures")]
    assert ids == sorted(ids) and "<h2>Knob matrix</h2>" in page
    assert page.count('src="data:image/png;base64,') == len(CHART_NAMES) + 1
    pixels = matplotlib.image.imread(knob_built / "knob_matrix.png")
    assert pixels.ndim == 3 and pixels.shape[0] > 300 and pixels.reshape(-1, pixels.shape[2]).std(axis=0).max() > 0.05
    assert len(list(ET.parse(knob_built / "knob_matrix.svg").getroot().iter())) > 50
    entries = knob_results()["summary"]
    rows = md_section(summary, "Knob matrix")
    assert rows[0].startswith("| layer/model | knob |") and len(rows) == 1 + len(entries)
    for entry in entries:  # a row per layer/model x knob, in the page and in summary.md
        cells = f"| {entry['layer']}/{entry['model']} | {entry['knob']} |"
        assert sum(row.startswith(cells) for row in rows) == 1
        assert page.count(f"<td>{entry['layer']}/{entry['model']}</td><td>{entry['knob']}</td>") == 2  # and figures
    for pattern in EXTERNAL:
        assert not pattern.search(page), pattern.pattern


def test_knob_matrix_shows_ranges_and_the_failed_runs_knob(knob_built):
    summary = (knob_built / "summary.md").read_text()
    assert any(re.search(r"\d \(\d[\d .]*–\d[\d .]*\) \|", row) for row in md_section(summary, "Knob matrix"))
    failed = [run for run in knob_results()["runs"] if run["status"] != "ok"]
    (row,) = md_section(summary, "Failed runs")[1:]
    assert failed and failed[0]["knob"] in row.split(" | ")


def test_knob_chart_groups_bars_by_knob_with_latency_on_a_log_axis():
    entries = [e for e in data.summary(knob_results()) if e["ok"]]
    with matplotlib.rc_context(charts.PLOT_RC):
        fig = charts.knob_chart(charts.context(entries))
    cpu, latency = fig.axes  # one scenario and level: a row each
    assert [t.get_text() for t in cpu.get_xticklabels()] == data.knobs(entries)
    assert latency.get_yscale() == "log" and cpu.get_yscale() == "linear"
    for ax in (cpu, latency):
        bars = [bar for bar in ax.patches if bar.get_height() > 0]
        hollow = [bar for bar in bars if bar.get_facecolor()[:3] == (1.0, 1.0, 1.0)]
        assert len(bars) == len(entries) and len(hollow) == sum(map(data.bound_by_lg, entries)) > 0
    stalled = max(entries, key=lambda e: data.stat(e, "p50_ms"))  # the Nagle/delayed-ACK stall, tens of ms
    assert data.stat(stalled, "p50_ms") > 20 * min(data.stat(e, "p50_ms") for e in entries)


def test_knobs_are_never_merged_and_old_runs_are_default():
    runs = knob_results()["runs"]
    entries = summarise(runs)
    assert len(entries) == len({(r["layer"], r["model"], r["knob"], r["users"]) for r in runs})
    old = [{key: value for key, value in run.items() if key != "knob"} for run in fixture_results()["runs"]]
    assert {entry["knob"] for entry in summarise(old)} == {DEFAULT}
    assert data.knobs(fixture_results()["summary"]) == [DEFAULT]  # a summary from before the matrix


def test_one_knob_means_no_knob_section(built, tmp_path):
    results = fixture_results()
    for run in results["runs"]:
        run["knob"] = DEFAULT
    del results["summary"]
    for folder in (built, build_from(results, tmp_path / "default").parent):
        page, summary = (folder / "report.html").read_text(), (folder / "summary.md").read_text()
        assert '<section id="knobs">' not in page and "Knob matrix" not in summary and " knob" not in summary
        assert not (folder / "knob_matrix.png").exists()
        assert md_section(summary, "Every figure")[0].startswith("| layer/model | scenario |")


# --- what is drawn ------------------------------------------------------------------------


def drawn(entries: list[dict]) -> dict:
    """The charts' figures by name, drawn but not saved."""
    with matplotlib.rc_context(charts.PLOT_RC):
        return {name: fig for name, _, _, fig in charts.figures(charts.context(entries))}


def test_load_generator_levels_are_hollow():
    entries = data.summary(fixture_results())
    lg_levels = sum(data.bound_by_lg(e) for e in entries if e["ok"])
    figures = drawn(entries)
    hollow_markers = [line for ax in figures["throughput"].axes for line in ax.get_lines()
                      if line.get_markerfacecolor() == "white"]
    hollow_bars = [bar for ax in figures["cpu_per_request"].axes for bar in ax.patches
                   if bar.get_facecolor()[:3] == (1.0, 1.0, 1.0) and bar.get_height() > 0]
    labels = [t.get_text() for ax in figures["throughput"].axes for t in ax.texts]
    assert lg_levels == 1 and len(hollow_markers) == len(hollow_bars) == labels.count("LG") == lg_levels


def test_a_layer_has_one_colour_in_every_chart():
    entries = data.summary(fixture_results())
    for fig in drawn(entries).values():
        labels = {text.get_text(): handle for handle, text in zip(fig.legends[0].legend_handles, fig.legends[0].texts)}
        for layer, model in data.combos(entries):
            handle = labels[f"{layer}/{model}"]
            colour = handle.get_facecolor() if hasattr(handle, "get_hatch") else handle.get_color()
            assert matplotlib.colors.same_color(colour, charts.look(layer, model).colour)


def test_two_scenarios_merge_into_two_panels():
    plaintext = fixture_results()
    page = json.loads(json.dumps(plaintext).replace('"plaintext"', '"page"'))
    merged = compare.merge([plaintext, page])
    assert len(merged["runs"]) == 2 * len(plaintext["runs"]) and merged["plan"]["scenarios"] == ["plaintext", "page"]
    throughput = drawn(merged["summary"])["throughput"]
    assert [ax.get_title() for ax in throughput.axes] == ["Throughput: plaintext", "Throughput: page"]


# --- the verdict --------------------------------------------------------------------------


def cheapest_first(results: dict) -> list[str]:
    return [cost.name for cost in costs(results["runs"], "plaintext")]


def named_first(text: str, names: list[str]) -> str:
    return min(names, key=lambda name: text.index(name))


def swap_costs(results: dict, a: str, b: str) -> dict:
    """The same run, with the CPU per request of layer/model `a` and `b` exchanged level by level."""
    swapped = copy.deepcopy(results)
    runs = {(f"{r['layer']}/{r['model']}", r["users"], r["repeat"]): r for r in swapped["runs"]}
    for (name, users, repeat), run in runs.items():
        partner = runs.get((b, users, repeat))
        if name == a and partner is not None:
            run["cpu_us_per_req"], partner["cpu_us_per_req"] = partner.get("cpu_us_per_req"), run.get("cpu_us_per_req")
    del swapped["summary"]
    return swapped


def test_verdict_leads_with_the_cheapest_and_says_what_bounded():
    results = fixture_results()
    ranked = cheapest_first(results)
    text = verdict(results, ["plaintext"])
    assert named_first(text, ranked) == ranked[0] and len(ranked) == 3
    assert text.count(". ") == 1 and text.endswith(".")  # two sentences
    assert "load generator" in text and "1 more run failed" in text


def test_verdict_follows_the_numbers(tmp_path):
    results = fixture_results()
    ranked = cheapest_first(results)
    swapped = swap_costs(results, ranked[0], ranked[-1])
    assert cheapest_first(swapped)[0] == ranked[-1]
    before, after = verdict(results, ["plaintext"]), verdict(swapped, ["plaintext"])
    assert named_first(before, ranked) == ranked[0] and named_first(after, ranked) == ranked[-1]
    page = build_from(swapped, tmp_path).read_text()
    shown = re.search(r'<p class="verdict">(.*?)</p>', page, re.S)[1]
    assert named_first(shown, ranked) == ranked[-1]


# --- the command --------------------------------------------------------------------------


def report(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "serving.cli", "report", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_command_prints_the_page(tmp_path):
    shutil.copytree(FIXTURE, tmp_path, dirs_exist_ok=True)
    result = report(str(tmp_path))
    assert result.returncode == 0 and result.stdout.strip() == str(tmp_path / "report.html")


@pytest.mark.parametrize("content", [None, "{not json", '{"schema": 1}', '{"schema": 9, "runs": []}'])
def test_bad_run_folder_is_one_line_and_exit_2(tmp_path, content):
    if content is not None:
        (tmp_path / "results.json").write_text(content)
    result = report(str(tmp_path))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr and not (tmp_path / "report.html").exists()


# --- in a real browser ----------------------------------------------------------------------


def test_page_renders_in_chromium(built, tmp_path):
    from playwright.sync_api import sync_playwright

    executable = require_chromium()
    requests = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1280, "height": 900})
            tab.on("request", lambda request: requests.append(request.url))
            tab.goto((built / "report.html").as_uri(), wait_until="load")
            widths = tab.evaluate("Array.from(document.images, i => i.complete ? i.naturalWidth : 0)")
            boxes = tab.evaluate("Array.from(document.images, i => i.getBoundingClientRect().height)")
            verdict_text = tab.inner_text("p.verdict")
            tab.screenshot(path=tmp_path / "report.png", full_page=True)
        finally:
            browser.close()
    assert len(widths) == len(CHART_NAMES) and min(widths) > 0 and min(boxes) > 100
    assert [url for url in requests if not url.startswith(("file:", "data:"))] == []
    assert verdict_text.startswith("On plaintext")
    shot = matplotlib.image.imread(tmp_path / "report.png")
    assert len({tuple(p) for p in shot[::17, ::13].reshape(-1, shot.shape[2]).round(2)}) > 50  # not blank
