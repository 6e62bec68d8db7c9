"""The README's answer cannot drift from its data: the block and the charts are what the committed run renders.

`make readme-chart` commits a compare run as docs/results/compare/results.json and writes the README's
block and docs/img/ from it; here the block is rendered again from that file and must be identical,
and every chart the block shows must carry that file's digest in its metadata.
"""

import hashlib
import re
from dataclasses import replace

from PIL import Image

from bench import catalog
from bench.catalog import STORY
from bench.reference_servers import frameworks
from reports import data, readme, reliability, sweep, tables
from reports.data import load, provenance


def test_the_readme_block_is_what_the_committed_data_renders():
    results = load(readme.DATA_DIR)
    block = readme.block(readme.README.read_text(encoding="utf-8"))
    assert block == readme.render(results)
    assert results.plan["kind"] == "rounds" and results.plan["rounds"] >= 3  # a compare run, not a bench run
    assert provenance(results) in block


def test_the_charts_the_readme_shows_come_from_that_data():
    digest = hashlib.sha256((readme.DATA_DIR / "results.json").read_bytes()).hexdigest()
    shown = re.findall(r"!\[[^\]]*\]\((docs/img/[^)]+\.png)\)", readme.block(readme.README.read_text(encoding="utf-8")))
    assert [f"docs/img/{name}.png" for name in readme.CHARTS] == shown
    for path in shown:
        metadata = Image.open(readme.ROOT / path).text
        assert metadata["Source"] == f"results.json sha256:{digest}", path
        assert metadata["Description"] == provenance(load(readme.DATA_DIR)), path


def test_no_run_bound_by_the_load_generator_feeds_the_answer():
    results = load(readme.DATA_DIR)
    used = [run for run in results.runs if run.status == "ok"]
    assert used and all(run.bound_by in ("pacing", "server") for run in used)
    assert {run.load for run in used} == {"locust", "wrk"}
    assert all(run.bound_by == "server" for run in used if run.load == "wrk")


def test_a_changed_figure_changes_the_block():
    results = load(readme.DATA_DIR)
    before = readme.render(results)
    run = next(r for r in results.runs if r.status == "ok" and r.load == "locust")
    tripled = replace(run, cpu_us_per_req=run.cpu_us_per_req * 3)
    results = replace(results, runs=tuple(tripled if r is run else r for r in results.runs), summary=None)
    assert readme.render(results) != before


def test_the_readme_layer_table_is_the_catalogs():
    """The README's table of layers says what the report's does (bench.catalog.STORY), one row per layer, then
    one per framework app of the last rung (reports.tables.layer_rows)."""
    text = (readme.ROOT / "README.md").read_text()
    rows = [line for line in text.splitlines() if re.match(r"\| `[\w/.]+` \| ", line)]
    apps = [row for row in tables.layer_rows() if row[0].startswith("frameworks/")]
    assert rows == [*(f"| `{layer}/` | `{built_on}` | {gives} | {add} |"
                      for layer, (built_on, gives, add) in STORY.items()),
                    *(f"| `{name}` | {built_on} | {gives} | {add} |" for name, built_on, gives, add, _ in apps)]
    assert len(apps) == len(frameworks())


def test_the_reference_block_is_what_the_committed_run_renders():
    """`make bench-reference`'s committed run: every target a row, uvicorn's multiples paired per round."""
    results = readme.load_reference()
    shown = readme.block(readme.README.read_text(encoding="utf-8"), readme.REF_BEGIN, readme.REF_END)
    assert shown == readme.render_reference(results)
    assert results["plan"]["repeat"] >= 3 and all(run["status"] == "ok" for run in results["runs"])
    assert [line.split(" | ")[0].removeprefix("| ") for line in shown.splitlines()[2:2 + len(results["summary"])]] \
        == list(results["summary"])


def test_a_changed_reference_figure_changes_its_block():
    results = readme.load_reference()
    before = readme.render_reference(results)
    entry = next(iter(results["summary"].values()))
    entry["cpu_us_per_req"] = {key: value * 2 for key, value in entry["cpu_us_per_req"].items()}
    assert readme.render_reference(results) != before


def test_the_reference_caption_says_where_its_scatter_comes_from():
    """The run's noise entry (bench.reference.noise) is in the block's caption, as the run recorded it."""
    results = readme.load_reference()
    results["noise"] = {"round_shared_pct": 1.0, "run_own_pct": 9.0, "rounds": 5, "sentence": "own scatter 9.0%"}
    assert "(own scatter 9.0%)" in readme.render_reference(results)
    results["noise"] = None
    assert "own scatter" not in readme.render_reference(results)


def test_the_cgi_block_is_what_the_committed_run_renders():
    """`make bench-cgi`'s committed run: a row per layer/model and stock, /plaintext beside both scripts."""
    results = load(readme.CGI_DIR)
    shown = readme.block(readme.README.read_text(encoding="utf-8"), readme.CGI_BEGIN, readme.CGI_END)
    assert shown == readme.render_cgi(results)
    assert results.plan["kind"] == "cgi" and results.plan["repeat"] >= 3
    assert all(run.status == "ok" and run.bound_by == "pacing" for run in results.runs)
    rows = [line for line in shown.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [row.split(" | ")[0].removeprefix("| ") for row in rows] == list(dict.fromkeys(
        e.variant for e in sorted(data.summary(results), key=lambda e: tables.sort_key(e, []))))


def test_the_first_screen_says_what_this_is_the_answer_in_one_line_and_the_two_commands():
    text = readme.README.read_text(encoding="utf-8")
    first = text.splitlines()[:40]
    screen = "\n".join(first)
    shown = readme.block(text, readme.ONELINE_BEGIN, readme.ONELINE_END)
    assert shown == readme.render_oneline(load(readme.DATA_DIR)) and "\n" not in shown
    assert readme.ONELINE_END in screen and "make test" in screen and "make compare" in screen
    assert screen.index(readme.ONELINE_END) < screen.index("\nmake test ") < screen.index("\nmake compare ")


def test_the_sweep_block_is_what_the_committed_sweep_renders_and_its_chart_comes_from_it():
    results = readme.load_sweep()
    shown = readme.block(readme.README.read_text(encoding="utf-8"), readme.SWEEP_BEGIN, readme.SWEEP_END)
    assert shown == readme.render_sweep(results) and results.plan["kind"] == "sweep"
    assert len([line for line in shown.splitlines() if line.startswith("- On ")]) == len(results.plan["scenarios"])
    digest = hashlib.sha256((readme.SWEEP_DIR / "sweep.json").read_bytes()).hexdigest()
    metadata = Image.open(readme.IMG_DIR / "cost_vs_load.png").text
    assert metadata["Source"] == f"sweep.json sha256:{digest}"
    for run in [r for r in results.runs if r.status == "ok" and r.bound_by == "load-generator"]:
        curve = sweep.curve(results.runs, run.scenario, f"{run.layer}/{run.model}")
        assert f"{run.rate} req/s" not in [point.label for point in curve]  # a rate Locust could not pace is left out


def test_every_local_link_of_the_readme_resolves():
    text = readme.README.read_text(encoding="utf-8")
    local = [link for link in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text) if "://" not in link]
    assert local and [link for link in local if not (readme.ROOT / link).exists()] == []


def test_the_hostile_and_soak_blocks_show_every_committed_row_and_every_concurrent_variant():
    text = readme.README.read_text(encoding="utf-8")
    hostile = readme.load_json(readme.HOSTILE_DIR / "hostile.json")
    soaks = readme.load_json(readme.SOAK_DIR / "soaks.json")
    shown_hostile = readme.block(text, readme.HOSTILE_BEGIN, readme.HOSTILE_END)
    shown_soak = readme.block(text, readme.SOAK_BEGIN, readme.SOAK_END)
    assert shown_hostile == reliability.render_hostile(hostile) and shown_soak == reliability.render_soak(soaks)
    concurrent = {f"{layer}/{model}" for layer, models in catalog.MODELS.items() for model in models
                  if model != "iterative"}
    rows = [line for line in shown_hostile.splitlines()
            if line.startswith("| ") and line.split("|")[1].strip() != "variant"]
    assert len(rows) == len(hostile["rows"]) and {row.split("|")[1].strip() for row in rows} == concurrent
    soaked = {line.split("|")[1].strip() for line in shown_soak.splitlines() if line.startswith("| ")} - {"variant"}
    assert soaked == concurrent and {run["minutes"] for run in soaks["runs"]} == {20}


def test_the_rung_block_is_what_the_committed_runs_render():
    """The frameworks' rung: a row per framework app, its cost beside its own server's row with the plain app,
    from the committed bench-reference run and probe, and its code from the source."""
    shown = readme.block(readme.README.read_text(encoding="utf-8"), readme.RUNG_BEGIN, readme.RUNG_END)
    assert shown == readme.render_rung(readme.load_reference(), readme.load_conformance())
    rows = [line.split(" | ") for line in shown.splitlines()[2:]]
    assert [(row[0].removeprefix("| "), row[1]) for row in rows] == [(t.name, t.beside) for t in frameworks()]
    assert all(" µs [" in row[4] and "×" in row[5] for row in rows), "a framework without its measured cost"
