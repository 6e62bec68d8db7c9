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
import hashlib
import json
import re
import shutil
import statistics
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib.colors
import matplotlib.image
import pytest
from browser_helpers import CHROMIUM_ARGS, require_chromium
from helpers import ROOT
from matplotlib.legend import Legend

from bench.catalog import STORY
from bench.knobs import DEFAULT, flags
from bench.results import Entry, Results, Run, summarise
from conformance.matrix import read_matrix
from reports import charts, cli, data, gaps, lines, tables
from reports.matrix import matrix_html
from reports.verdict import BASELINE, MEASURES, answer, finding, order_text, sentences, table, word

FIXTURE = Path(__file__).resolve().parent / "data" / "report-run"
KNOB_FIXTURE = FIXTURE.parent / "knob-run"
# a real `make compare` run: 6 variants, Locust's windows and wrk's turns
COMPARE_FIXTURE = FIXTURE.parent / "compare-run"
CHART_NAMES = ["ratios", "cpu_per_request", "throughput", "latency", "failures"]
EXTERNAL = [
    re.compile(r"https?://", re.I),
    re.compile(r"""\b(?:src|href|action|poster)\s*=\s*(?!["']?(?:data:|#))""", re.I),  # anything but inline data
    re.compile(r"url\(|@import|<script|<link|<iframe|<object", re.I),
    re.compile(r"""["'(]//[a-z0-9]""", re.I),  # protocol-relative
]


def fixture_results() -> dict:
    return json.loads((FIXTURE / "results.json").read_text())


def parsed(found: dict) -> Results:
    """A results.json's parsed JSON as the report reads it."""
    return Results.from_json(found)


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
    ids = [page.index(f'<section id="{name}">')
           for name in ("verdict", "layers", "charts", "figures", "conformance", "environment")]
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
    entries = data.summary(parsed(fixture_results()))
    rows = [line for line in summary.splitlines() if line.startswith("| ") and "|---" not in line]
    # the verdict table, the layer table and the lines table (each a row per layer and per framework app), the stock
    # gaps, the figures, the failed run: each with its header
    glance = table(parsed(fixture_results()), data.scenarios(entries))[1]
    counted = 1 + len(lines.table()[1])
    layered = 1 + len(tables.layer_rows())
    assert len(rows) == 1 + len(glance) + layered + counted + 1 + len(gaps.gaps()) + 1 + len(entries) + 1 + 1
    assert fixture_results()["runs"][0]["layer"] in summary


def test_missing_figures_are_dashes_and_gaps():
    results = fixture_results()
    layer = results["runs"][0]["layer"]
    for run in results["runs"]:
        if run["layer"] == layer:
            run["p99_ms"] = None
    entries = data.summary(parsed({**results, "summary": None}))
    p99 = tables.figure_headers().index("p99 (ms)")
    rows = [row for row in tables.figure_rows(entries) if row[0].startswith(layer + "/")]
    assert rows and all(row[p99] == "—" for row in rows)
    p50, p99 = drawn(entries)["latency"].axes  # one scenario: a row each
    assert 0 < len(p99.get_lines()) < len(p50.get_lines())  # the layer without p99 is a gap, the others drawn


def test_conformance_matrix_flags_and_absence(built):
    page = (built / "report.html").read_text()
    totals = read_matrix(FIXTURE / "conformance.json").totals
    assert page.count('class="cell contract diverges"') >= totals.diverging > 0
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
    charts = sorted(png.stem for png in knob_built.glob("*.png"))
    assert "knob_matrix" in charts and page.count('src="data:image/png;base64,') == len(charts)
    assert "ratios" not in charts  # every run of the default knob was bound by Locust: no ratio to draw
    pixels = matplotlib.image.imread(knob_built / "knob_matrix.png")
    assert pixels.ndim == 3 and pixels.shape[0] > 300 and pixels.reshape(-1, pixels.shape[2]).std(axis=0).max() > 0.05
    assert len(list(ET.parse(knob_built / "knob_matrix.svg").getroot().iter())) > 50
    entries = data.summary(parsed(knob_results()))
    rows = md_section(summary, "Knob matrix")
    assert rows[0].startswith("| layer/model | knob |") and len(rows) == 1 + len(entries)
    for entry in entries:  # a row per layer/model x knob, in the page and in summary.md
        cells = f"| {entry.variant} | {entry.knob} |"
        assert sum(row.startswith(cells) for row in rows) == 1
        assert page.count(f"<td>{entry.variant}</td><td>{entry.knob}</td>") == 2  # and figures
    for pattern in EXTERNAL:
        assert not pattern.search(page), pattern.pattern


def test_knob_matrix_shows_ranges_and_the_failed_runs_knob(knob_built):
    summary = (knob_built / "summary.md").read_text()
    assert any(re.search(r"\d \(\d[\d .]*–\d[\d .]*\) \|", row) for row in md_section(summary, "Knob matrix"))
    failed = [run for run in knob_results()["runs"] if run["status"] != "ok"]
    (row,) = md_section(summary, "Failed runs")[1:]
    assert failed and failed[0]["knob"] in row.split(" | ")


def test_knob_chart_groups_bars_by_knob_with_latency_on_a_log_axis():
    entries = [e for e in data.summary(parsed(knob_results())) if e.ok]
    with matplotlib.rc_context(charts.PLOT_RC):
        fig = charts.knob_chart(charts.context(entries))
    cpu, latency = fig.axes  # one scenario and level: a row each
    assert [t.get_text() for t in cpu.get_xticklabels()] == data.knobs(entries)
    assert latency.get_yscale() == "log" and cpu.get_yscale() == "linear"
    for ax in (cpu, latency):
        bars = [bar for bar in ax.patches if bar.get_height() > 0]
        hollow = [bar for bar in bars if bar.get_facecolor()[:3] == (1.0, 1.0, 1.0)]
        assert len(bars) == len(entries) and len(hollow) == sum(e.bound_by_lg() for e in entries) > 0
    stalled = max(entries, key=lambda e: e.stat("p50_ms"))  # the Nagle/delayed-ACK stall, tens of ms
    assert stalled.stat("p50_ms") > 20 * min(e.stat("p50_ms") for e in entries)


def test_knobs_are_never_merged_and_old_runs_are_default():
    runs = knob_results()["runs"]
    entries = summarise(map(Run.from_json, runs))  # as results.json keeps it
    assert len(entries) == len({(r["layer"], r["model"], r["knob"], r["users"]) for r in runs})
    old = [{key: value for key, value in run.items() if key != "knob"} for run in fixture_results()["runs"]]
    assert {entry["knob"] for entry in summarise(map(Run.from_json, old))} == {DEFAULT}
    assert data.knobs(data.summary(parsed(fixture_results()))) == [DEFAULT]  # a summary from before the matrix


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
    entries = data.summary(parsed(fixture_results()))
    lg_levels = sum(e.bound_by_lg() for e in entries if e.ok)
    figures = drawn(entries)
    hollow_markers = [line for ax in figures["throughput"].axes for line in ax.get_lines()
                      if line.get_markerfacecolor() == "white"]
    hollow_bars = [bar for ax in figures["cpu_per_request"].axes for bar in ax.patches
                   if bar.get_facecolor()[:3] == (1.0, 1.0, 1.0) and bar.get_height() > 0]
    labels = [t.get_text() for ax in figures["throughput"].axes for t in ax.texts]
    assert lg_levels == 1 and len(hollow_markers) == len(hollow_bars) == labels.count("LG") == lg_levels


def test_a_layer_has_one_colour_in_every_chart():
    entries = data.summary(parsed(fixture_results()))
    for fig in drawn(entries).values():
        (legend,) = fig.findobj(Legend)
        labels = {text.get_text(): handle for handle, text in zip(legend.legend_handles, legend.texts, strict=True)}
        for layer, model in data.combos(entries):
            handle = labels[f"{layer}/{model}"]
            colour = handle.get_facecolor() if hasattr(handle, "get_hatch") else handle.get_color()
            assert matplotlib.colors.same_color(colour, charts.look(layer, model).colour)


def compare_results() -> dict:
    return json.loads((COMPARE_FIXTURE / "results.json").read_text())


@pytest.fixture(scope="module")
def compare_built(tmp_path_factory) -> Path:
    return build_copy(tmp_path_factory, COMPARE_FIXTURE, "compare-report")


def test_a_compare_run_has_its_ratio_and_capacity_charts_and_two_scenario_panels(compare_built):
    results = compare_results()
    scenarios = results["plan"]["scenarios"]
    assert len(scenarios) == 2
    locust = drawn(data.by_load(data.summary(parsed(results)), "locust"))
    assert [ax.get_title() for ax in locust["cpu_per_request"].axes] == scenarios
    assert list(locust) == ["cpu_per_request"]  # one fixed rate: no line against load
    page = (compare_built / "report.html").read_text()
    for name in ("ratios", "capacity", "cpu_per_request"):
        assert f'id="chart-{name}"' in page and (compare_built / f"{name}.png").is_file()
    ratio_png = matplotlib.image.imread(compare_built / "ratios.png")
    assert ratio_png.shape[0] > 400 and ratio_png.reshape(-1, ratio_png.shape[2]).std(axis=0).max() > 0.05


def test_every_chart_says_where_it_came_from(compare_built):
    from PIL import Image

    results = compare_results()
    note = data.provenance(parsed(results))
    digest = hashlib.sha256((compare_built / "results.json").read_bytes()).hexdigest()
    assert f"Python {results['environment']['python']}" in note
    assert f"{results['plan']['windows']} Locust windows" in note
    assert "bound by pacing" in note and "bound by server" in note and results["environment"]["started"][:10] in note
    page = (compare_built / "report.html").read_text()
    for png in compare_built.glob("*.png"):
        text = Image.open(png).text
        assert text["Source"] == f"results.json sha256:{digest}" and text["Description"] == note, png.name
        assert note in "".join(ET.parse(png.with_suffix(".svg")).getroot().itertext()), png.name
    assert page.count(html_escape(note)) >= len(list(compare_built.glob("*.png")))


def html_escape(text: str) -> str:
    import html

    return html.escape(text, quote=True)


# --- the verdict --------------------------------------------------------------------------


def order_of(results: dict, scenario: str) -> list[list[str]]:
    return finding(parsed(results).runs, MEASURES[0], scenario).tiers()


def swap_figures(results: dict, a: str, b: str, key: str = "cpu_us_per_req") -> dict:
    """The same run, with the figure `key` of variants `a` and `b` exchanged round by round."""
    swapped = copy.deepcopy(results)
    runs = {(f"{r['layer']}/{r['model']}", r.get("load"), r["scenario"], r["repeat"]): r for r in swapped["runs"]}
    for (name, load, scenario, repeat), run in runs.items():
        partner = runs.get((b, load, scenario, repeat))
        if name == a and partner is not None:
            run[key], partner[key] = partner.get(key), run.get(key)
    del swapped["summary"]
    return swapped


def test_verdict_states_every_ratio_with_a_word_and_a_sentence_per_measure_and_scenario():
    results = compare_results()
    scenarios = results["plan"]["scenarios"]
    said = sentences(parsed(results), scenarios)
    assert len(said) == len(MEASURES) * len(scenarios) + 1 and said[-1].startswith("No run was bound by the load")
    assert [s.split(",")[0] for s in said[:len(scenarios)]] == [f"On {scenario} at a light {results['plan']['rate']} "
                                                                 "req/s" for scenario in scenarios]
    assert all("saturated by wrk" in s for s in said[len(scenarios):-1])
    headers, rows = table(parsed(results), scenarios)
    assert len(rows) == len(scenarios) * len(results["plan"]["variants"]) and len(headers) == 2 + 2 * len(MEASURES)
    words = {"baseline", "indistinguishable", "cheaper", "costlier", "serves more", "serves fewer"}
    assert all(row[3] in words and row[5] in words and "—" not in row for row in rows)  # every ratio stated
    bench = fixture_results()  # two repeats: ratios, but no ranking
    found = finding(parsed(bench).runs, MEASURES[0], "plaintext")
    assert order_text(found) == "2 rounds cannot rank them (it takes 3)"
    assert {word(found, name) for name in found.variants()} == {"baseline", "indistinguishable"}


def test_verdict_follows_the_numbers(tmp_path):
    results = compare_results()
    tiers = [[name for name in tier if name != BASELINE] for tier in order_of(results, "plaintext")]
    tiers = [tier for tier in tiers if tier]
    first, last = tiers[0][0], tiers[-1][-1]  # the baseline is named first in every sentence: not one of these
    swapped = swap_figures(results, first, last)
    assert len(tiers) > 1 and first not in tiers[-1]

    def tier_of(order: list[list[str]], name: str) -> int:
        return next(i for i, tier in enumerate(order) if name in tier)

    before, after = order_of(results, "plaintext"), order_of(swapped, "plaintext")
    assert (tier_of(after, last), tier_of(after, first)) == (tier_of(before, first), tier_of(before, last))
    page = build_from(swapped, tmp_path, conformance=False).read_text()
    shown = re.search(r'<ul class="said"><li>(.*?)</li>', page, re.S)[1]  # plaintext's CPU per request
    assert shown.index(last) < shown.index(first)  # in median order: the cheapest first
    ratio = statistics.median(finding(parsed(swapped).runs, MEASURES[0], "plaintext").ratios(first, BASELINE))
    assert f"{first} {ratio:.2f}×" in shown


# --- the command --------------------------------------------------------------------------


def report(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server_layers", "report", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_command_prints_the_page(tmp_path):
    shutil.copytree(FIXTURE, tmp_path, dirs_exist_ok=True)
    result = report(str(tmp_path))
    assert result.returncode == 0 and result.stdout.strip() == str(tmp_path / "report.html")


def files(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folder`: its size and modification time."""
    return {str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
            for path in sorted(folder.rglob("*")) if path.is_file()}


def git_status(path: Path) -> str:
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "--", str(path)], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout


def links(page: str) -> list[str]:
    """Every href and src of the page but inline data and anchors."""
    return [link for link in re.findall(r'(?:href|src)="([^"]+)"', page) if not link.startswith(("data:", "#"))]


def test_out_renders_the_committed_run_elsewhere_and_changes_nothing_under_docs(tmp_path):
    run, out = ROOT / "docs" / "results" / "compare", tmp_path / "made" / "here"
    before, status = files(run), git_status(ROOT / "docs")
    result = report(str(run.relative_to(ROOT)), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out / "report.html")
    assert files(run) == before and git_status(ROOT / "docs") == status
    page = (out / "report.html").read_text()
    drawn = {png.stem for png in out.glob("*.png")}
    assert drawn and drawn == {svg.stem for svg in out.glob("*.svg")}
    assert {"summary.md", "report.html"} <= set(files(out))
    assert page.count('src="data:image/png;base64,') == len(drawn)
    assert all((out / link).is_file() for link in links(page))


def test_out_copies_the_flame_graphs_the_page_links_to(tmp_path):
    """A run with cpu.json and its flame graphs, reported into another folder: every link resolves from there."""
    run = tmp_path / "run"
    shutil.copytree(FIXTURE, run)
    for path in (FIXTURE.parent / "cpu").iterdir():
        if path.is_file():
            shutil.copy(path, run)
    before = files(run)
    page = cli.build(run, tmp_path / "elsewhere").read_text()
    flames = [row["flamegraph"] for row in json.loads((run / "cpu.json").read_text())["rows"]]
    assert sorted(links(page)) == sorted(flames) and files(run) == before
    assert all((tmp_path / "elsewhere" / link).read_bytes() == (run / link).read_bytes() for link in links(page))


@pytest.mark.parametrize("content", [None, "{not json", '{"schema": 1}', '{"schema": 9, "runs": []}'])
def test_bad_run_folder_is_one_line_and_exit_2(tmp_path, content):
    if content is not None:
        (tmp_path / "results.json").write_text(content)
    result = report(str(tmp_path))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr and not (tmp_path / "report.html").exists()


# --- the committed report: docs/report/ -------------------------------------------------------

REPORT_DOCS = ROOT / "docs" / "report"
EMBEDDED = re.compile(r"data:image/png;base64,[A-Za-z0-9+/=]+")


def report_docs_commands() -> list[tuple[str, str]]:
    """(run folder, --out folder, --sweep file or None) of each `server-layers report` line of the Makefile's
    report-docs recipe."""
    recipe = (ROOT / "Makefile").read_text().split("\nreport-docs:", 1)[1].split("\n\n", 1)[0]
    return [(run, out, sweep or None) for run, sweep, out in
            re.findall(r"server-layers report (\S+)(?: --sweep (\S+))? --out (\S+)", recipe)]


def png_size(path: Path) -> tuple[int, int]:
    """A PNG's width and height in pixels, from its header."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def svg_texts(path: Path) -> tuple[dict, list[str]]:
    """An SVG's size and the text of each of its <text> elements (the charts keep their text as text)."""
    root = ET.parse(path).getroot()
    return ({key: root.get(key) for key in ("width", "height")},
            ["".join(text.itertext()) for text in root.iter("{http://www.w3.org/2000/svg}text")])


def same_render(committed: Path, fresh: Path) -> bool:
    """Is `committed` what `fresh` says it should be: HTML and Markdown to the letter, the embedded PNGs aside;
    an SVG's size and text; a PNG's pixel size, its bytes within a size class (matplotlib versions differ)?"""
    if committed.suffix in (".html", ".md"):
        return (EMBEDDED.sub("data:image/png", committed.read_text())
                == EMBEDDED.sub("data:image/png", fresh.read_text()))
    if committed.suffix == ".svg":
        return svg_texts(committed) == svg_texts(fresh)
    if committed.suffix == ".png":
        ratio = committed.stat().st_size / fresh.stat().st_size
        return png_size(committed) == png_size(fresh) and 2 / 3 < ratio < 3 / 2
    return committed.read_bytes() == fresh.read_bytes()


def test_the_committed_report_is_what_the_committed_data_renders(tmp_path):
    """`make report-docs` renders the committed runs into docs/report/; rendered again from the same data with
    the same commands, the same files come out. Stale? Run `make report-docs` and commit docs/report/."""
    commands = report_docs_commands()
    assert commands and all(out.startswith("docs/report/") for _, out, _ in commands)
    for run, out, sweep in commands:
        cli.build(ROOT / run, tmp_path / out, ROOT / sweep if sweep else None)
    fresh = tmp_path / "docs" / "report"
    names = sorted(str(path.relative_to(fresh)) for path in fresh.rglob("*") if path.is_file())
    assert sorted(str(path.relative_to(REPORT_DOCS)) for path in REPORT_DOCS.rglob("*") if path.is_file()) == names, \
        "docs/report/ holds other files than the committed data renders: run `make report-docs`"
    stale = [name for name in names if not same_render(REPORT_DOCS / name, fresh / name)]
    assert stale == [], "docs/report/ is not what the committed data renders: run `make report-docs`"
    for _, out, _ in commands:
        page = (ROOT / out / "report.html").read_text()
        assert all((ROOT / out / link).is_file() for link in links(page))


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
            verdict_rows = tab.evaluate("document.querySelectorAll('#verdict table tbody tr').length")
            layer_rows = tab.evaluate("Array.from(document.querySelectorAll('#layers table')[0].tBodies[0].rows, "
                                      "r => r.cells[0].innerText)")
            tab.screenshot(path=tmp_path / "report.png", full_page=True)
        finally:
            browser.close()
    assert len(widths) == len(CHART_NAMES) and min(widths) > 0 and min(boxes) > 100
    assert [url for url in requests if not url.startswith(("file:", "data:"))] == []
    results = fixture_results()
    assert verdict_text == answer(parsed(results), data.scenarios(data.summary(parsed(results)))) and verdict_rows >= 2
    assert layer_rows == [row[0] for row in tables.layer_rows()]  # a row per layer, the fourth included, and the rung
    assert layer_rows[:len(STORY)] == [f"{layer}/" for layer in STORY] and len(layer_rows) > len(STORY)
    shot = matplotlib.image.imread(tmp_path / "report.png")
    assert len({tuple(p) for p in shot[::17, ::13].reshape(-1, shot.shape[2]).round(2)}) > 50  # not blank


def test_the_knob_note_says_which_layers_take_a_knob_only_some_take():
    from bench.knobs import ONLY
    from reports import tables

    for knob, takers in ONLY.items():
        note = tables.knob_note([Entry.from_json({"layer": "raw_socket", "model": "threaded", "scenario": "plaintext",
                                                  "knob": name}) for name in (DEFAULT, knob)])
        assert f"{knob}: {' '.join(flags(knob))}, on {', '.join(sorted(takers))} only" in note


def test_a_cgi_run_gets_its_section_beside_plaintext(tmp_path):
    """The committed bench-cgi run, reported again: the CGI section has a row per server, stock's without plaintext."""
    shutil.copy(ROOT / "docs" / "results" / "cgi" / "results.json", tmp_path / "results.json")
    result = report(str(tmp_path))
    assert result.returncode == 0, result.stderr
    page, summary = (tmp_path / "report.html").read_text(), (tmp_path / "summary.md").read_text()
    section = page[page.index('<section id="cgi">'):page.index("</section>", page.index('<section id="cgi">'))]
    results = json.loads((tmp_path / "results.json").read_text())
    servers = {f"{run['layer']}/{run['model']}" for run in results["runs"]}
    assert all(f"<td>{name}</td>" in section for name in servers)
    assert "## CGI: a process per request" in summary and summary.count("| stock_cgi/threaded | — | — | — |") == 1
    found = results["stock_differences"]  # what the run found stock doing otherwise: listed, each line
    assert found["lines"] and f"does differently from {found['against']}" in section
    assert section.count("<li>") == len(found["lines"])


def test_a_syscall_count_beside_the_run_gets_its_section(tmp_path):
    """bench.syscalls' syscalls.json in the run folder (tests/data/syscalls.json, a real trace): its chart and
    a row per variant, each total the sum of its calls."""
    shutil.copytree(FIXTURE, tmp_path / "run")
    counted = json.loads((FIXTURE.parent / "syscalls.json").read_text())
    shutil.copy(FIXTURE.parent / "syscalls.json", tmp_path / "run" / "syscalls.json")
    assert report(str(tmp_path / "run")).returncode == 0
    page = (tmp_path / "run" / "report.html").read_text()
    start = page.index('<section id="syscalls">')
    section = page[start:page.index("</section>", start)]
    assert 'src="data:image/png;base64,' in section and (tmp_path / "run" / "syscalls.png").is_file()
    for row in counted["rows"]:
        assert f"<td>{row['variant']}</td>" in section
        assert row["total_per_request"] == pytest.approx(sum(row["per_request"].values()), abs=0.01)


def test_the_committed_report_has_the_cost_against_load_section_of_the_committed_sweep():
    page = (ROOT / "docs" / "report" / "compare" / "report.html").read_text(encoding="utf-8")
    assert '<section id="sweep">' in page and 'id="chart-cost_vs_load"' in page
    from reports import sweep

    found = json.loads((ROOT / "docs" / "results" / "sweep" / "sweep.json").read_text(encoding="utf-8"))
    for sentence in sweep.sentences(parsed(found)):
        assert html_escape(sentence) in page


def test_a_sweep_that_is_not_a_file_is_one_line_and_exit_2(tmp_path):
    result = subprocess.run([sys.executable, "-m", "server_layers", "report", str(COMPARE_FIXTURE), "--sweep",
                             str(tmp_path / "none.json"), "--out", str(tmp_path / "out")], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
