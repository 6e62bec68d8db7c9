"""Charts a reader can trust at a glance (issue 21, point 5).

One colour per layer and one hatch (bars) or marker (lines) per model, the same in every chart, grey for
the stock pseudo-layers, and never a known look for a layer or model the project does not know. No text
of any chart overlaps another or leaves the figure, for every chart the report writes for the committed
runs (docs/results/compare, explain, cgi) and for the test fixtures: measured with matplotlib's own text
bounding boxes; the report pages' figures and captions do not overlap in headless Chromium either. No
line chart with one load level, no empty failure chart (said in words instead), and every chart's
caption names its machine, Python version and date, or says that none is recorded. No layer is named
here: they come from bench.catalog and the data.
"""

import itertools
import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import matplotlib.colors
import pytest
from browser_helpers import CHROMIUM_ARGS, require_chromium
from helpers import ROOT
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.legend import Legend
from matplotlib.text import Text

from bench.catalog import MODELS
from bench.knobs import PSEUDO
from bench.results import LOCUST, Entry, Results, Stat
from reports import charts, cli, data, style
from reports.html import esc

RUNS = [ROOT / "docs" / "results" / name for name in ("compare", "explain", "cgi")]  # the committed runs
FIXTURES = [ROOT / "tests" / "data" / name for name in ("report-run", "knob-run", "compare-run")]
LAYERS = list(MODELS)
ALL_MODELS = sorted({model for models in MODELS.values() for model in models})
VARIANTS = [(layer, model) for layer, models in MODELS.items() for model in models]
UNKNOWN = ["not_a_layer", "x", "stock_nginx", "a" * 40]  # names no table of reports.style holds


# --- the look of a layer and a model --------------------------------------------------------


def test_every_layer_has_a_colour_of_its_own():
    colours = [style.look(layer, MODELS[layer][0]).colour for layer in LAYERS]
    assert len(set(colours)) == len(LAYERS) and style.GREY not in colours


@pytest.mark.parametrize("layer", sorted(PSEUDO))
def test_the_stock_pseudo_layers_are_grey(layer):
    assert style.look(layer, ALL_MODELS[0]).colour == style.GREY


def test_every_model_has_a_hatch_and_a_marker_of_its_own():
    hatches = [style.look(LAYERS[0], model).hatch for model in ALL_MODELS]
    markers = [style.look(LAYERS[0], model).marker for model in ALL_MODELS]
    assert len(set(hatches)) == len(set(markers)) == len(ALL_MODELS)


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_keeps_its_colour_and_a_model_its_hatch_whatever_the_other(layer):
    for model in ALL_MODELS:
        assert style.look(layer, model).colour == style.look(layer, MODELS[layer][0]).colour
        assert style.look(layer, model).hatch == style.look(LAYERS[0], model).hatch
        assert style.look(layer, model).marker == style.look(LAYERS[-1], model).marker


def test_no_two_variants_look_alike_on_bars_or_lines():
    looks = [style.look(layer, model) for layer, model in VARIANTS]
    assert len({(lk.colour, lk.hatch) for lk in looks}) == len(VARIANTS)
    assert len({(lk.colour, lk.marker) for lk in looks}) == len(VARIANTS)


@pytest.mark.parametrize("name", UNKNOWN)
def test_an_unknown_layer_or_model_never_gets_a_known_look(name):
    known = [style.look(layer, model) for layer in [*LAYERS, *PSEUDO] for model in ALL_MODELS]
    unknown = style.look(name, name)
    assert unknown.colour not in {lk.colour for lk in known}
    assert unknown.hatch not in {lk.hatch for lk in known} and unknown.marker not in {lk.marker for lk in known}
    assert style.look(name, name) == unknown  # the same in every chart


def test_the_system_call_colours_are_no_layer_colour():
    layer_colours = {style.look(layer, ALL_MODELS[0]).colour.lower() for layer in [*LAYERS, *PSEUDO]}
    assert not layer_colours & {colour.lower() for colour in charts.SYSCALL_COLOURS}


def fixture_entries(folder: Path) -> list[Entry]:
    return data.summary(Results.from_json(json.loads((folder / "results.json").read_text())))


def legend_of(fig) -> Legend:
    (legend,) = fig.findobj(Legend)
    return legend


@pytest.mark.parametrize("folder", FIXTURES[:1] + FIXTURES[2:], ids=lambda p: p.name)
def test_the_bars_and_the_legend_tell_each_variant_by_colour_and_hatch(folder):
    """In the CPU bars, every variant has its layer's colour and its model's hatch, in the panels and in the
    legend; two models of one layer share the colour and differ by hatch."""
    entries = data.by_load(fixture_entries(folder), LOCUST)
    with matplotlib.rc_context(charts.PLOT_RC):
        fig = charts.cpu_chart(charts.context(entries))
    legend = legend_of(fig)
    shown = {text.get_text(): handle for handle, text in zip(legend.legend_handles, legend.texts, strict=True)}
    filled = {(matplotlib.colors.to_hex(bar.get_facecolor()), bar.get_hatch() or "") for ax in fig.axes
              for bar in ax.patches if bar.get_height() > 0 and bar.get_facecolor()[:3] != (1.0, 1.0, 1.0)}
    expected = set()
    for layer, model in data.combos(entries):
        lk = style.look(layer, model)
        handle = shown[f"{layer}/{model}"]
        assert matplotlib.colors.same_color(handle.get_facecolor(), lk.colour)
        assert (handle.get_hatch() or "") == lk.hatch
        expected.add((matplotlib.colors.to_hex(lk.colour), lk.hatch))
    assert filled <= expected and len(expected) == len(data.combos(entries))


def test_the_lines_and_the_legend_tell_each_variant_by_colour_and_marker():
    entries = fixture_entries(FIXTURES[0])
    with matplotlib.rc_context(charts.PLOT_RC):
        fig = charts.line_chart(charts.context(entries), [("rps", "Throughput", "requests/s", 1.0)], "Throughput")
    legend = legend_of(fig)
    for handle, text in zip(legend.legend_handles, legend.texts, strict=True):
        if "/" in text.get_text():
            lk = style.look(*text.get_text().split("/", 1))
            assert matplotlib.colors.same_color(handle.get_color(), lk.colour) and handle.get_marker() == lk.marker


# --- what is drawn, and what is said instead ---------------------------------------------------


def one_level(entries: list[Entry]) -> list[Entry]:
    """The entries of the lowest load level only."""
    load_axis = data.axis(entries)
    lowest = min(data.levels(entries, load_axis))
    return [entry for entry in entries if load_axis.x(entry) == lowest]


def without_failures(entries: list[Entry]) -> list[Entry]:
    return [replace(entry, figures={**entry.figures, "fail_ratio": Stat(0.0, 0.0, 0.0)}) for entry in entries]


def names(entries: list[Entry]) -> list[str]:
    with matplotlib.rc_context(charts.PLOT_RC):
        return [name for name, _, _, _ in charts.figures(charts.context(entries))]


def test_lines_against_load_need_two_levels():
    entries = fixture_entries(FIXTURES[0])
    assert {"throughput", "latency"} <= set(names(entries))
    assert names(one_level(entries)) == ["cpu_per_request"]
    (said, *_) = charts.not_drawn(one_level(entries))
    assert "one load level" in said and "not drawn" in said


def test_the_failure_chart_only_when_a_request_failed():
    entries = fixture_entries(FIXTURES[0])
    assert any(e.stat("fail_ratio") for e in entries) and "failures" in names(entries)
    assert "failures" not in names(without_failures(entries))
    assert any(note.startswith("No failures") for note in charts.not_drawn(without_failures(entries)))
    assert not any(note.startswith("No failures") for note in charts.not_drawn(entries))


def test_the_page_says_what_was_not_drawn(tmp_path):
    """The committed compare run: one Locust level and no failure, so no line chart, and the page says why."""
    page = cli.build(RUNS[0], tmp_path).read_text()
    start = page.index('<section id="charts">')
    charts_part = page[start:page.index("</section>", start)]
    assert not any((tmp_path / f"{name}.png").exists() for name in ("throughput", "latency", "failures"))
    notes = charts.not_drawn(cli.locust_shown(data.summary(data.load(RUNS[0]))))
    assert len(notes) == 2 and all(f'class="note not-drawn">{note}</p>' in charts_part for note in notes)


# --- every chart of the committed runs: no text over another, every caption says where -------------


@dataclass
class Rendered:
    page: Path
    figures: list  # (name, matplotlib Figure) as cli.build saved them
    charts: list  # charts.Chart


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, Rendered]:
    """The report of every committed run and test fixture, rendered with --out into a temporary folder, with
    every figure cli.build saved."""
    found, original = {}, charts.save
    with pytest.MonkeyPatch.context() as patch:
        for folder in RUNS + FIXTURES:
            figures, written = [], []

            def keep(fig, name, *args, figures=figures, written=written):
                figures.append((name, fig))
                written.append(original(fig, name, *args))
                return written[-1]

            patch.setattr(charts, "save", keep)
            page = cli.build(folder, tmp_path_factory.mktemp(folder.name))
            found[folder.name] = Rendered(page, figures, written)
    return found


def drawn_texts(fig) -> list[Text]:
    """Every text the figure draws (laid out again on an Agg canvas): visible, not blank; a tick label only of a
    tick inside its axis' view, on an axes that shows its axes."""
    FigureCanvasAgg(fig).draw()
    ticks, shown = set(), set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            slack = (high - low) * 1e-9
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                ticks |= {id(tick.label1), id(tick.label2)}
                if ax.axison and low - slack <= tick.get_loc() <= high + slack:
                    shown |= {id(tick.label1), id(tick.label2)}
            if not ax.axison:
                ticks.add(id(axis.label))
    return [text for text in fig.findobj(Text) if text.get_visible() and text.get_text().strip()
            and (id(text) not in ticks or id(text) in shown)]


def overlaps(fig) -> list[str]:
    """Each pair of drawn texts whose boxes overlap, and each text reaching out of the figure."""
    texts = drawn_texts(fig)
    renderer = fig.canvas.get_renderer()
    boxes = [(text.get_text(), text.get_window_extent(renderer)) for text in texts]
    found = [f"out of the figure: {name!r}" for name, box in boxes
             if box.x0 < -0.5 or box.y0 < -0.5 or box.x1 > fig.bbox.x1 + 0.5 or box.y1 > fig.bbox.y1 + 0.5]
    for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
        if box_a.padded(-0.5).overlaps(box_b.padded(-0.5)):  # touching is not overlapping
            found.append(f"{a!r} over {b!r}")
    return found


def test_the_overlap_check_sees_an_overlap_and_a_text_out_of_the_figure():
    entries = data.by_load(fixture_entries(FIXTURES[2]), LOCUST)
    with matplotlib.rc_context(charts.PLOT_RC):
        fig = charts.cpu_chart(charts.context(entries))
    assert overlaps(fig) == []
    fig.axes[0].annotate("one", (0, 0))
    fig.axes[0].annotate("two", (0, 0))
    fig.text(1.2, 0.5, "gone")
    assert set(overlaps(fig)) == {"'one' over 'two'", "out of the figure: 'gone'"}


@pytest.mark.parametrize("folder", RUNS + FIXTURES, ids=lambda p: p.name)
def test_no_text_of_any_chart_overlaps_another(rendered, folder):
    shown = rendered[folder.name]
    assert shown.figures, "the report wrote no chart"
    for name, fig in shown.figures:
        assert overlaps(fig) == [], name


def test_the_footer_and_the_legend_are_both_drawn_and_apart(rendered):
    """The case that overlapped: the 'Measured on' footer under a legend below the panels."""
    fig = next(f for n, f in rendered["compare"].figures if n == "cpu_per_request")
    texts = [text.get_text() for text in drawn_texts(fig)]
    assert any(text.startswith("Measured on") for text in texts) and legend_of(fig).texts
    assert overlaps(fig) == []


@pytest.mark.parametrize("folder", RUNS, ids=lambda p: p.name)
def test_every_chart_names_its_machine_python_and_date(rendered, folder):
    """From the run's results.json; for syscalls.json and cpu.json from their own environment block, else the
    run's results.json, else the caption says that none is recorded."""
    results = folder / "results.json"
    env = json.loads(results.read_text()).get("environment") if results.is_file() else None
    shown = rendered[folder.name]
    assert shown.charts
    for chart in shown.charts:
        assert esc(chart.caption) in shown.page.read_text()
        assert (data.measured_on(env) in chart.caption) if env else ("not recorded" in chart.caption), chart.name


def test_a_measurement_takes_its_own_environment_else_the_runs(tmp_path):
    """syscalls.json beside a results.json: the run's machine, said to be the run's; with its own block, its own."""
    run = tmp_path / "run"
    shutil.copytree(FIXTURES[0], run)
    counted = json.loads((ROOT / "tests" / "data" / "syscalls.json").read_text())
    (run / "syscalls.json").write_text(json.dumps(counted))
    run_env = json.loads((run / "results.json").read_text())["environment"]
    found = data.measurement(run, "syscalls.json")
    assert found.environment is None
    said = data.measured_provenance("strace", found, run_env)
    assert data.measured_on(run_env) in said and "from the run's results.json" in said
    own = {**run_env, "cpu_model": "a machine of its own", "started": "2031-01-02T03:04:05Z"}
    (run / "syscalls.json").write_text(json.dumps({**counted, "environment": own}))
    said = data.measured_provenance("strace", data.measurement(run, "syscalls.json"), run_env)
    assert data.measured_on(own) in said and "results.json" not in said
    page = cli.build(run).read_text()
    assert "a machine of its own" in page[page.index('<section id="syscalls">'):]


# --- in a real browser: the pages' figures and captions ---------------------------------------------


def test_figures_and_captions_do_not_overlap_in_chromium(rendered):
    from playwright.sync_api import sync_playwright

    seen = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_ARGS)
        try:
            for width in (1280, 760):
                tab = browser.new_page(viewport={"width": width, "height": 900})
                for folder in RUNS:
                    tab.goto(rendered[folder.name].page.as_uri(), wait_until="load")
                    seen[(folder.name, width)] = tab.evaluate("""() => {
                        const box = e => { const r = e.getBoundingClientRect();
                                           return [r.left, r.top + scrollY, r.right, r.bottom + scrollY]; };
                        return Array.from(document.querySelectorAll("figure"), f => ({
                            figure: box(f), image: box(f.querySelector("img")),
                            caption: box(f.querySelector("figcaption")),
                            loaded: f.querySelector("img").complete && f.querySelector("img").naturalWidth > 0}));
                    }""")
                tab.close()
        finally:
            browser.close()
    for (name, width), figures in seen.items():
        assert figures and all(f["loaded"] for f in figures), (name, width)
        for f in figures:
            assert inside(f["image"], f["figure"]) and inside(f["caption"], f["figure"]), (name, width)
            assert f["caption"][1] >= f["image"][3] - 0.5, (name, width)  # the caption under its image
        parts = [f[part] for f in figures for part in ("image", "caption")]
        assert not any(apart_less(a, b) for a, b in itertools.combinations(parts, 2)), (name, width)


def inside(box: list[float], outer: list[float]) -> bool:
    return (box[0] >= outer[0] - 0.5 and box[1] >= outer[1] - 0.5
            and box[2] <= outer[2] + 0.5 and box[3] <= outer[3] + 0.5)


def apart_less(a: list[float], b: list[float]) -> bool:
    """Do two boxes overlap (more than half a pixel)?"""
    return a[0] < b[2] - 0.5 and b[0] < a[2] - 0.5 and a[1] < b[3] - 0.5 and b[1] < a[3] - 0.5
