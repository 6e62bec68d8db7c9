"""The report with every explaining section, opened in a real headless Chromium (issue 15's "done when").

A run folder gets the report fixture's results.json beside the measured inputs the sections read: a real
strace count (syscalls.json), the CPU profile and its flame graphs (tests/data/cpu/), and a real probe
with the reference columns (conformance.json). The page must show, rendered: the system-call chart, the
CPU breakdown chart, a working link to each flame graph, the lines table, the stock gaps, a "why"
paragraph per layer, and the matrix's reference columns. The committed docs/results/explain, which holds
syscalls.json and cpu.json without a results.json, renders on its own. No layer is named here.
"""

import json
import shutil
from pathlib import Path

from browser_helpers import CHROMIUM_ARGS, require_chromium

from bench.catalog import MODELS
from bench.reference_servers import frameworks
from reports import cli, gaps

DATA = Path(__file__).resolve().parent / "data"
EXPLAIN = Path(__file__).resolve().parent.parent / "docs" / "results" / "explain"  # no results.json: explain's alone


def full_run(folder: Path) -> Path:
    shutil.copytree(DATA / "report-run", folder)
    shutil.copy(DATA / "syscalls.json", folder)
    shutil.copy(DATA / "conformance-reference.json", folder / "conformance.json")
    for path in (DATA / "cpu").iterdir():
        if path.is_file():
            shutil.copy(path, folder)
    return cli.build(folder)


def test_every_explaining_section_renders_in_chromium(tmp_path):
    from playwright.sync_api import sync_playwright

    page_path = full_run(tmp_path / "run")
    flames = [row["flamegraph"] for row in json.loads((DATA / "cpu" / "cpu.json").read_text())["rows"]]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1280, "height": 900})
            tab.goto(page_path.as_uri(), wait_until="load")
            seen = tab.evaluate("""() => {
                const images = id => Array.from(document.querySelectorAll(`#${id} img`), i => i.naturalWidth);
                const heads = id => Array.from(document.querySelectorAll(`#${id} h3`), h => h.innerText);
                return {syscalls: images("syscalls"), cpu: images("cpu"), why: heads("why"),
                        links: Array.from(document.querySelectorAll("#cpu a"), a => a.getAttribute("href")),
                        references: document.querySelectorAll("#conformance th.reference").length,
                        layers: Array.from(document.querySelectorAll("#layers h3"), h => h.innerText),
                        gapRows: document.querySelectorAll("#layers table")[2].tBodies[0].rows.length};
            }""")
            opened = []
            for link in seen["links"]:
                tab.goto((page_path.parent / link).as_uri(), wait_until="load")
                opened.append(tab.evaluate("document.documentElement.tagName"))
        finally:
            browser.close()
    assert seen["syscalls"] and min(seen["syscalls"]) > 0 and seen["cpu"] and min(seen["cpu"]) > 0
    assert sorted(seen["links"]) == sorted(flames) and set(opened) == {"svg"}
    assert seen["why"] == [*(f"{layer}/" for layer in MODELS), *(target.name for target in frameworks())]
    assert seen["references"] >= 3 and seen["gapRows"] >= 10
    assert "Lines that buy each behaviour" in seen["layers"] and f"The stock gaps {gaps.LAYER} closes" in seen["layers"]


def section(page: str, name: str) -> str:
    start = page.index(f'<section id="{name}">')
    return page[start:page.index("</section>", start)]


def test_an_explain_folder_without_results_json_renders_on_its_own(tmp_path, capsys):
    """`server-layers report docs/results/explain --out DIR`: the system calls and the CPU split, each with its
    chart and table, a why paragraph per layer; no verdict, no load chart; and it says what is not recorded."""
    assert not (EXPLAIN / "results.json").exists()
    assert cli.main([str(EXPLAIN), "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text()
    for name in ("syscalls", "cpu"):
        assert 'src="data:image/png;base64,' in section(page, name)
        assert json.loads((EXPLAIN / f"{name}.json").read_text())["rows"][0]["variant"] in section(page, name)
    assert [f"<h3>{layer}/</h3>" in section(page, "why") for layer in MODELS] == [True] * len(MODELS)
    assert '<section id="verdict">' not in page and '<section id="charts">' not in page
    assert "not recorded" in section(page, "environment")
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["cpu_groups.png", "syscalls.png"]
    summary = (tmp_path / "summary.md").read_text()
    assert "## Why each layer costs what it costs" in summary and "## System calls per request" in summary
