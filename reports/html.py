"""report.html: one self-contained page (BENCH §3), readable offline.

Charts are inline base64 PNGs; the style sheet is inline; fonts are the
reader's own. Every string that comes from data goes through `esc`. This module
must never emit a URL to another host (no CDN, no web font, no script); its only
links are relative ones to files beside the page (bench.cpu_profile's flame graphs).
Two pages: a run's report (report_page) and, for a folder of `server-layers explain`'s
measurements without results.json, their explaining sections alone (explain_page).
"""

import base64
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.results import Run

from .charts import Chart
from .why import heading

Table = tuple[list[str], list[list[str]]]  # headers and rows

CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 0;
       color: #1a1a1a; background: #fafafa; line-height: 1.45; }
main { max-width: 1200px; margin: 0 auto; padding: 1.5rem 1.25rem 4rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; } h2 { font-size: 1.25rem; margin: 2.2rem 0 .6rem;
     border-bottom: 2px solid #004488; padding-bottom: .2rem; }
.meta { color: #555; margin: 0 0 1rem; font-size: .92rem; }
.verdict { font-size: 1.08rem; background: #fff; border-left: 6px solid #004488; padding: .9rem 1.1rem;
           box-shadow: 0 1px 2px rgba(0,0,0,.08); }
figure { background: #fff; margin: 0 0 1.4rem; padding: .8rem; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { color: #444; font-size: .9rem; margin-top: .4rem; }
.scroll { overflow-x: auto; background: #fff; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
table { border-collapse: collapse; font-size: .84rem; width: 100%; }
th, td { border: 1px solid #ddd; padding: .3rem .45rem; text-align: left; vertical-align: top; }
th { background: #eef2f7; position: sticky; top: 0; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.num .range { display: block; color: #555; font-size: .76rem; }
td { white-space: nowrap; }
tr.lg td { background: #f4f4f4; } .lg-tag { font-weight: bold; }
pre { white-space: pre-wrap; font-size: .8rem; margin: .2rem 0; }
.note { color: #555; font-size: .9rem; }
td.cell { white-space: nowrap; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .78rem; }
td.contract { background: #f7c5c5; } td.diverges { background: #fbe3a1; }
td.contract.diverges { background: repeating-linear-gradient(45deg, #f7c5c5 0 6px, #fbe3a1 6px 12px); }
th.reference, td.reference { border-left: 2px dashed #888; } td.reference.contract { background: #ece4f4; }
.mark { font-weight: bold; }
ul.problems { margin: .1rem 0 .3rem 1.2rem; padding: 0; white-space: normal; font-size: .8rem; }
th.case { min-width: 15rem; max-width: 22rem; white-space: normal; font-weight: normal; }
tr.why td { background: #fff; border-top: none; }
div.why { position: sticky; left: .5rem; width: min(70rem, 88vw); white-space: normal; }
details { margin: .6rem 0; } summary { cursor: pointer; font-weight: 600; }
"""
BOUND = "bound by"  # in the figure and knob tables: the last column of text, the numbers follow
NUM = ' class="num"'
RANGE = re.compile(r"(.+) \((.+–.+)\)")


def esc(text: object) -> str:
    """HTML-escaped; a "://" in data (a request line, a log line) becomes "&#58;//", so no URL is ever written."""
    return html.escape(str(text), quote=True).replace("://", "&#58;//")


def document(title: str, body: str) -> str:
    """A whole page: doctype, charset, the inline style sheet, `body` (already escaped)."""
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{esc(title)}</title>\n'
            f"<style>{CSS}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n")


def table(headers: list[str], rows: list[list[str]], numeric_from: int | None = None,
          row_class=lambda row: "") -> str:
    """An escaped table in a horizontally scrolling box."""
    head = "".join(f"<th scope=\"col\">{esc(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(f"<td{NUM}>{number_html(cell)}</td>" if numeric_from is not None and i >= numeric_from
                        else f"<td>{esc(cell)}</td>" for i, cell in enumerate(row))
        klass = row_class(row)
        body.append(f'<tr class="{klass}">{cells}</tr>' if klass else f"<tr>{cells}</tr>")
    return f'<div class="scroll"><table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n' + "\n".join(body) + \
        "\n</tbody></table></div>"


def number_html(text: str) -> str:
    """"166 (161–186)": the median, and the range on a smaller second line."""
    match = RANGE.fullmatch(text)
    if not match:
        return esc(text)
    return f'{esc(match[1])}<span class="range">{esc(match[2])}</span>'


def chart_figure(chart: Chart) -> str:
    encoded = base64.b64encode(chart.png.read_bytes()).decode("ascii")
    files = f"{chart.png.name} and {chart.svg.name} beside this page"
    return (f'<figure id="chart-{esc(chart.name)}">\n<img src="data:image/png;base64,{encoded}" '
            f'alt="{esc(chart.title)}">\n<figcaption>{esc(chart.caption)} ({esc(files)}.)</figcaption>\n</figure>')


def key_values(pairs: list[tuple[str, object]]) -> str:
    rows = "".join(f'<tr><th scope="row">{esc(k)}</th><td>{esc("—" if v is None else v)}</td></tr>' for k, v in pairs)
    return f'<div class="scroll"><table>{rows}</table></div>'


def failed_section(headers: list[str], rows: list[list[str]], runs: list[Run]) -> str:
    """The failed runs: a table, then each one's stderr tail, folded."""
    if not rows:
        return '<p class="note">None: every run completed.</p>'
    tails = [f"<details><summary>{esc(row[0])}/{esc(row[1])} {esc(row[2])} {esc(row[3])} #{esc(row[4])}: "
             f"stderr</summary><pre>{esc(run.stderr_tail or run.locust_stderr or '(empty)')}</pre>"
             "</details>" for row, run in zip(rows, runs, strict=True)]
    return table(headers, rows) + "\n" + "\n".join(tails)


def figure_table_html(headers: list[str], rows: list[list[str]]) -> str:
    """A table of figures: numbers right-aligned after the "bound by" column, grey rows where Locust bound a repeat."""
    bound = headers.index(BOUND)
    return table(headers, rows, bound + 1, lambda row: "lg" if "load-generator" in row[bound] else "")


def knob_section(chart: Chart | None, note: str, headers: list[str], rows: list[list[str]]) -> str:
    """The knob matrix: what the knobs are, its chart and its table."""
    return "\n".join([
        '<section id="knobs"><h2>Knob matrix</h2>', f'<p class="note">{esc(note)}</p>',
        chart_figure(chart) if chart else '<p class="note">Fewer than two knobs have a completed run: no chart.</p>',
        figure_table_html(headers, rows), "</section>"])


def cgi_section(note: str, headers: list[str], rows: list[list[str]], differences: tuple[str, list[str]] | None) -> str:
    """CGI beside the same answer in-process: what a process per request costs, per layer and model; and what
    stock CGIHTTPRequestHandler did differently when asked the same (when the run recorded it)."""
    found = []
    if differences:
        against, lines = differences
        found = [f"<h3>What stock CGIHTTPRequestHandler does differently from {esc(against)}</h3>",
                 "<ul>" + "".join(f"<li>{esc(line.removeprefix('- '))}</li>" for line in lines) + "</ul>"]
    return "\n".join(['<section id="cgi"><h2>CGI: a process per request</h2>', f'<p class="note">{esc(note)}</p>',
                      table(headers, rows, 1), *found, "</section>"])


def syscall_section(chart: Chart | None, headers: list[str], rows: list[list[str]]) -> str:
    """System calls per request (bench.syscalls, when the run folder holds its syscalls.json)."""
    return "\n".join(['<section id="syscalls"><h2>System calls per request</h2>',
                      chart_figure(chart) if chart else "", table(headers, rows, 1), "</section>"])


def cpu_section(chart: Chart | None, note: str, headers: list[str], rows: list[list[str]],
                flames: list[tuple[str, str | None]]) -> str:
    """Where the CPU goes (bench.cpu_profile, when the run folder holds its cpu.json): the chart, the computed
    sentence, the table, and a relative link to each flame graph beside this page (`flames`: label, file or None)."""
    links = "".join(f'<li><a href="{esc(file)}">{esc(label)}</a></li>' if file else
                    f"<li>{esc(label)} (its flame graph is not in this folder)</li>" for label, file in flames)
    return "\n".join(['<section id="cpu"><h2>Where the CPU goes</h2>', chart_figure(chart) if chart else "",
                      f'<p class="note">{esc(note)}</p>', table(headers, rows, 2),
                      "<h3>Flame graphs</h3>", '<p class="note">py-spy\'s samples of the same load, a box per frame, '
                      "coloured by group (SVG files beside this page).</p>", f"<ul>{links}</ul>", "</section>"])


def why_section(paragraphs: list[tuple[str, str]]) -> str:
    """Why each layer costs what it costs (reports.why): a paragraph per layer, computed from the data; '' without."""
    if not paragraphs:
        return ""
    items = "".join(f"<h3>{esc(heading(name))}</h3><p>{esc(text)}</p>" for name, text in paragraphs)
    return ('<section id="why"><h2>Why each layer costs what it costs</h2><p class="note">Every figure below comes '
            "from the run folder's cpu.json, syscalls.json and conformance.json and from the code's line counts; the "
            f"sentences are templates filled from them.</p>{items}</section>")


def gaps_part(layer: str, headers: list[str], rows: list[list[str]]) -> str:
    """The stock gaps `layer` closes (reports.gaps), with the cases measured when the matrix has stock."""
    if not rows:
        return ""
    measured = len(headers) > 3
    note = (f"Each from a <code># gap:</code> comment in {esc(layer)}/, with the corpus cases it names; "
            + (f"which of them the stock column fails and which any {esc(layer)} model fails, from this run's "
               "conformance matrix." if measured else "run <code>server-layers probe --reference --out THIS_FOLDER"
               "</code> to see which of them stock fails."))
    return "\n".join([f"<h3>The stock gaps {esc(layer)} closes</h3>", f'<p class="note">{note}</p>',
                      table(headers, rows)])


def layers_section(layers: Table, lines: Table, gaps: tuple) -> str:
    """The layer table, the lines that buy each behaviour, the stock gaps."""
    return "\n".join([
        '<section id="layers"><h2>The layers</h2>', table(*layers),
        "<h3>Lines that buy each behaviour</h3>", '<p class="note">Code lines (not blank, comment or docstring) of '
        "each layer's own package, and of the shared packages it imports, followed through their imports.</p>",
        table(*lines, 1), gaps_part(*gaps), "</section>"])


def charts_section(charts: list[Chart], notes: list[str]) -> str:
    """The charts, then in words what was not drawn and why (charts.not_drawn)."""
    drawn = "\n".join(map(chart_figure, charts))
    said = "\n".join(f'<p class="note not-drawn">{esc(note)}</p>' for note in notes)
    if not (drawn or said):
        drawn = '<p class="note">No run completed: nothing to draw.</p>'
    return "\n".join(part for part in ['<section id="charts"><h2>Charts</h2>', drawn, said, "</section>"] if part)


def verdict_section(answer: str, glance: Table | None, said: list[str], order: Sequence[str] = ()) -> str:
    """The verdict at a glance: the one-line answer, the table (variant x measure: ratio, range, word), then a plain
    sentence per measure and scenario, and the order the data allows among all the variants."""
    parts = ['<section id="verdict"><h2>Verdict</h2>', f'<p class="verdict">{esc(answer)}</p>' if answer else ""]
    if glance and glance[1]:
        parts.append(table(*glance, 2))
    parts.append('<ul class="said">' + "".join(f"<li>{esc(sentence)}</li>" for sentence in said) + "</ul>")
    if order:
        items = "".join(f"<li>{esc(line)}</li>" for line in order)
        parts.append('<p class="note">The order the data allows among all the variants (a tie: no two of its members '
                     'told apart):</p><ul class="order">' + items + "</ul>")
    return "\n".join([part for part in parts if part] + ["</section>"])


def sweep_section(chart: Chart | None, said: list[str], why: str) -> str:
    """Cost against load (a sweep.json beside the run): the chart, how far CPU per request falls, and why."""
    items = "".join(f"<li>{esc(sentence)}</li>" for sentence in said)
    return "\n".join(['<section id="sweep"><h2>Cost against load</h2>', chart_figure(chart) if chart else "",
                      f"<ul>{items}</ul>" if items else "", f"<p>{esc(why)}</p>", "</section>"])


@dataclass(frozen=True)
class Explaining:
    """The sections both pages show, each made already: the layers (layers_section's three tables), the system
    calls and the CPU split (HTML, '' without their file), the why paragraphs, conformance (HTML), environment."""

    title: str
    meta: str
    layers: Table
    lines: Table
    gaps: tuple
    syscalls: str
    cpu: str
    why: list[tuple[str, str]]
    conformance: str
    environment: list[tuple[str, object]]


@dataclass(frozen=True)
class ReportPage:
    """A run's report: the explaining sections, and what results.json gives (each section made already; the
    figure table as its headers and rows; `notes`: what the charts left out)."""

    explaining: Explaining
    verdict: str
    charts: list[Chart]
    notes: list[str]
    figure_table: tuple[list[str], list[list[str]]]
    failed: str
    knobs: str = ""
    sweep: str = ""
    cgi: str = ""


def report_page(page: ReportPage) -> str:
    """The report: verdict (verdict_section()), the layer table, charts (and what was not drawn), cost against load
    (when a sweep lies beside the run), CGI, system calls, CPU, why, the knob matrix (when there is one), every
    figure, failed runs, conformance, environment."""
    shared = page.explaining
    body = [
        f"<h1>{esc(shared.title)}</h1>", f'<p class="meta">{esc(shared.meta)}</p>', page.verdict,
        layers_section(shared.layers, shared.lines, shared.gaps), charts_section(page.charts, page.notes),
        *present(page.sweep, page.cgi, shared.syscalls, shared.cpu), why_section(shared.why), *present(page.knobs),
        '<section id="figures"><h2>Every figure</h2>',
        '<p class="note">Each figure is the median over the repeats that completed, with the range '
        "(min–max) in brackets when the repeats differ; — is a figure the run did not record. Grey rows: at least "
        "one repeat was bound by the load generator (its throughput measures Locust, not the server).</p>",
        figure_table_html(*page.figure_table),
        "<h3>Failed runs</h3>", '<p class="note">Left out of the charts and of the medians above.</p>', page.failed,
        "</section>", *closing(shared),
    ]
    return document(shared.title, "\n".join(body))


def present(*parts: str) -> list[str]:
    """The optional sections that were made ('' is one the data does not allow)."""
    return [part for part in parts if part]


def closing(shared: Explaining) -> list[str]:
    """The last two sections of either page: conformance and environment."""
    return ['<section id="conformance"><h2>Conformance</h2>', shared.conformance, "</section>",
            '<section id="environment"><h2>Environment</h2>', key_values(shared.environment), "</section>"]


def explain_page(shared: Explaining) -> str:
    """The explaining sections alone (a folder without results.json): the layers, the system calls, where the CPU
    goes, why each layer costs what it costs, conformance, environment."""
    body = [f"<h1>{esc(shared.title)}</h1>", f'<p class="meta">{esc(shared.meta)}</p>',
            layers_section(shared.layers, shared.lines, shared.gaps), shared.syscalls, shared.cpu,
            why_section(shared.why), *closing(shared)]
    return document(shared.title, "\n".join(part for part in body if part))


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
