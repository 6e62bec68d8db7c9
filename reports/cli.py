"""`server-layers report RUN_DIR` (BENCH §3): charts, report.html and summary.md beside results.json.

It reads results.json (and conformance.json when present) and writes only into
RUN_DIR. Bad input is one line on stderr and exit 2. It never runs a server or
a benchmark and never imports locust.
"""

import argparse
import hashlib
import json
from pathlib import Path

from bench.knobs import DEFAULT
from bench.results import LOCUST, WRK
from serving.options import OneLineParser, fail

from . import data, html, tables
from . import gaps as stock_gaps
from . import why
from . import lines as code_lines
from .charts import (Chart, Source, write_capacity_chart, write_charts, write_cpu_chart, write_knob_chart,
                     write_ratio_chart, write_syscall_chart)
from .matrix import matrix_html, totals_text
from .verdict import verdict

EXAMPLES = """examples:
  server-layers report results/20261124T220000Z     # writes report.html, summary.md, *.png, *.svg there
  server-layers probe --out results/RUN && server-layers report results/RUN   # with the conformance matrix
"""


def parser() -> OneLineParser:
    p = OneLineParser(prog="server-layers report", description="Charts, report.html and summary.md from a bench "
                      "run (BENCH.md §3).", epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the folder holding results.json")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        page = build(args.run_dir)
    except data.ReportError as exc:
        fail(f"server-layers report: {exc}")
    print(page)
    return 0


def build(run_dir: Path) -> Path:
    """Write every output of the report into `run_dir`; the path of report.html."""
    results = data.load(run_dir)
    entries = data.summary(results)
    knobbed = data.several_knobs(data.by_load(entries, LOCUST))
    text = verdict(results, data.scenarios(entries), data.knobs(entries)[0] if knobbed else None)
    source = charts_source(run_dir, results)
    charts = draw_charts(results, entries, run_dir, source)
    figure_table = (tables.figure_headers(entries), tables.figure_rows(entries))
    knobs = knob_matrix(entries, run_dir, source) if knobbed else None
    failed = data.failed_runs(results)
    failed_table = (tables.failed_headers(knobbed), tables.failed_rows(failed, knobbed))
    conformance = data.load_conformance(run_dir)
    syscall_rows, cpu_rows = rows_file(run_dir, "syscalls.json"), rows_file(run_dir, "cpu.json")
    reasons = why_paragraphs(cpu_rows, syscall_rows, conformance, run_dir)
    title = f"server-layers report: {run_dir.resolve().name}"
    page = html.report_page(
        title=title, meta=meta(results, entries), verdict=text, charts=charts, figure_table=figure_table,
        failed=html.failed_section(*failed_table, failed), conformance=matrix_html(conformance),
        environment=environment(results), knobs=html.knob_section(*knobs) if knobs else "",
        layers=(tables.LAYER_HEADERS, tables.layer_rows()), lines=code_lines.table(),
        gaps=(stock_gaps.LAYER, *stock_gaps.table(conformance)),
        syscalls=syscall_part(run_dir, syscall_rows), cpu=cpu_part(run_dir, cpu_rows), why=reasons,
        cgi=html.cgi_section(cgi_note(entries), tables.cgi_headers(), tables.cgi_rows(entries), differences(results))
        if tables.has_cgi(entries) else "")
    html.write(run_dir / "summary.md", markdown(title, text, figure_table, failed_table, conformance, results, knobs,
                                                       entries, reasons))
    return html.write(run_dir / "report.html", page)


def draw_charts(results: dict, entries: list[dict], out: Path, source: Source) -> list[Chart]:
    """The charts of BENCH §3 for one knob (the first, with a knob matrix): the paired ratios, Locust's figures,
    and compare's wrk passes in a chart of their own."""
    locust = data.by_load(entries, LOCUST)
    knobbed = data.several_knobs(locust)
    runs = [run for run in results["runs"] if "layer" in run]
    return (write_ratio_chart(data.baseline(runs) if knobbed else runs, data.scenarios(entries), out, source)
            + write_charts(data.baseline(locust) if knobbed else locust, out, source)
            + write_capacity_chart(data.by_load(entries, WRK), out, source))


def charts_source(run_dir: Path, results: dict) -> Source:
    """What every chart of this run says of where it came from."""
    digest = hashlib.sha256((run_dir / "results.json").read_bytes()).hexdigest()
    return Source(data.provenance(results), f"results.json sha256:{digest}")


def knob_matrix(entries: list[dict], run_dir: Path, source: Source) -> tuple:
    """(chart or None, note, headers, rows) of the knob matrix; the chart written into `run_dir`."""
    chart = write_knob_chart(entries, run_dir, source)
    return chart, tables.knob_note(entries), tables.knob_headers(), tables.knob_rows(entries)


def meta(results: dict, entries: list[dict]) -> str:
    """One line: scenarios, load levels, repeats, duration, when."""
    plan, env = results.get("plan") or {}, results.get("environment") or {}
    span = f"{len(results['runs'])} runs from {env.get('started', '?')} to {env.get('finished') or '(unfinished)'}."
    if plan.get("kind") == "rounds":
        return f"Scenarios {', '.join(plan['scenarios'])}. {data.rounds_method(plan)} " + span
    load_axis = data.axis(entries)
    levels = ", ".join(f"{v:g}" for v in data.levels(entries, load_axis)) or "none"
    mode = "fixed-rate runs at" if load_axis.key == "rate" else "capacity runs with"
    unit = "req/s" if load_axis.key == "rate" else "users"
    knobs = data.knobs(entries)
    knob_text = f"; knobs {', '.join(knobs)}" if knobs and knobs != [DEFAULT] else ""
    return (f"Scenario{'s' if len(data.scenarios(entries)) != 1 else ''} {', '.join(data.scenarios(entries)) or '—'}; "
            f"{mode} {levels} {unit}{knob_text}; {plan.get('repeat', '?')} repeat(s) of {plan.get('duration_s', '?')} "
            f"s each; {len(results['runs'])} runs from {env.get('started', '?')} to "
            f"{env.get('finished') or '(unfinished)'}.")


def environment(results: dict) -> list[tuple[str, object]]:
    """The environment block, the calibration and the plan, as (name, value) pairs."""
    env, plan, calibration = (results.get(key) or {} for key in ("environment", "plan", "calibration"))
    pairs = [(key, value) for key, value in env.items()]
    if calibration:
        pairs.append(("calibration (harness ceiling)", (
            f"{calibration.get('scenario')} on {calibration.get('target')} with {calibration.get('users')} users: "
            f"{calibration.get('rps')} req/s, Locust CPU {calibration.get('locust_cpu_pct')} %, "
            f"status {calibration.get('status')}")))
    for key in ("layers", "models", "scenario", "scenarios", "knobs", "duration_s", "repeat", "warmup_s",
                "locust_workers", "expect_workers", "target"):
        if key in plan and not (key == "knobs" and plan[key] == [DEFAULT]):
            value = plan[key]
            pairs.append((f"plan: {key}", ", ".join(map(str, value)) if isinstance(value, list) else value))
    return pairs


def measured_chart(run_dir: Path, name: str, tool: str, rows: list[dict], write_chart) -> Chart | None:
    """The chart of a measurement's rows (`--out RUN`: syscalls.json, cpu.json), written into the run folder by
    `write_chart(rows, run_dir, source)`, its source the file's digest."""
    digest = hashlib.sha256((run_dir / name).read_bytes()).hexdigest()
    return write_chart(rows, run_dir, Source(tool, f"{name} sha256:{digest}"))


def rows_file(run_dir: Path, name: str) -> list[dict] | None:
    """The rows of a measurement's JSON in the run folder, None without one; ReportError when it is not one."""
    path = run_dir / name
    if not path.is_file():
        return None
    try:
        rows = json.loads(path.read_text())["rows"]
    except (ValueError, KeyError, TypeError) as exc:
        raise data.ReportError(f"{path} is not a measurement's JSON (no list of rows): {exc}") from exc
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise data.ReportError(f"{path}: its rows are not a list of objects")
    return rows


def syscall_part(run_dir: Path, rows: list[dict] | None) -> str:
    """The section of bench.syscalls' syscalls.json (its `rows`), when the run folder holds one; else ''."""
    if rows is None:
        return ""
    chart = measured_chart(run_dir, "syscalls.json", "strace -f -c, bench.syscalls", rows, write_syscall_chart)
    return html.syscall_section(chart, tables.syscall_headers(rows), tables.syscall_rows(rows))


def cpu_part(run_dir: Path, rows: list[dict] | None) -> str:
    """The section of bench.cpu_profile's cpu.json (its `rows`), when the run folder holds one; else ''."""
    if rows is None:
        return ""
    chart = measured_chart(run_dir, "cpu.json", "/proc utime and stime, py-spy samples, bench.cpu_profile", rows,
                           write_cpu_chart)
    flames = [(f"{row['variant']} GET {row['path']}", flame_file(run_dir, row.get("flamegraph"))) for row in rows]
    return html.cpu_section(chart, tables.cpu_note(rows), tables.cpu_headers(rows), tables.cpu_rows(rows), flames)


def why_paragraphs(cpu: list[dict] | None, syscalls: list[dict] | None, conformance: dict | None,
                   run_dir: Path) -> list[tuple[str, str]]:
    """A paragraph per layer from the run's profile and system-call count (none without either)."""
    if not (cpu or syscalls):
        return []
    try:
        return why.paragraphs(cpu, syscalls, conformance)
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        raise data.ReportError(f"cpu.json or syscalls.json in {run_dir} lacks a figure the paragraphs need: {exc!r}") \
            from exc


def flame_file(run_dir: Path, name: str | None) -> str | None:
    """A row's flame graph as a link relative to the page: a file right beside it, or None."""
    return name if name and Path(name).name == name and (run_dir / name).is_file() else None


def differences(results: dict) -> tuple[str, list[str]] | None:
    """What stock CGIHTTPRequestHandler did differently (conformance.cgi_differences), if the run recorded it."""
    found = results.get("stock_differences")
    return (found["against"], found["lines"]) if found else None


def differences_markdown(results: dict) -> list[str]:
    found = differences(results)
    if not found:
        return []
    return [f"What stock CGIHTTPRequestHandler does differently from {found[0]}, asked the same requests:", "",
            *["- " + tables.md_cell(line.removeprefix("- ")) for line in found[1]], ""]


def cgi_note(entries: list[dict]) -> str:
    rates = sorted({entry["rate"] for entry in entries if entry.get("rate")})
    at = f"at {', '.join(map(str, rates))} req/s" if rates else "at the run's load"
    return (f"GET /plaintext (the app, in the server's process) beside GET /cgi-bin/hello.sh (fork and exec of "
            f"/bin/sh) and /cgi-bin/env.py (plus a Python interpreter's start-up), {at}, every server alike. CPU per "
            "request is the server's with the scripts it reaped; each figure the median (min–max) over the repeats; "
            "× is the script's CPU per request over plaintext's on the same server.")


def markdown(title: str, text: str, figure_table: tuple, failed_table: tuple, conformance: dict | None,
             results: dict, knobs: tuple | None = None, entries: list[dict] = (), why: list = ()) -> str:
    """summary.md: the verdict, the knob matrix (`knobs`, as knob_matrix() gives it, when there is one), the
    table of every figure, failed runs, conformance totals, environment."""
    lines = [f"# {title}", "", text, "", "## The layers", "", tables.markdown_table(tables.LAYER_HEADERS,
                                                                                    tables.layer_rows()), "",
             "Lines that buy each behaviour (code lines of each layer's own package and of the shared code it "
             "imports):", "", tables.markdown_table(*code_lines.table()), "",
             f"The stock gaps {stock_gaps.LAYER} closes (its `# gap:` comments) and the corpus cases each names:", "",
             tables.markdown_table(*stock_gaps.table(conformance)), ""]
    if why:
        lines += ["## Why each layer costs what it costs", "", *[f"**{layer}/** {text}\n" for layer, text in why]]
    if entries and tables.has_cgi(entries):
        lines += ["## CGI: a process per request", "", cgi_note(entries), "",
                  tables.markdown_table(tables.cgi_headers(), tables.cgi_rows(entries)), "",
                  *differences_markdown(results)]
    if knobs:
        chart, note, headers, rows = knobs
        files = f" Chart: {chart.png.name} and {chart.svg.name} beside this file." if chart else ""
        lines += ["## Knob matrix", "", note + files, "", tables.markdown_table(headers, rows), ""]
    lines += ["## Every figure", "",
             "Median over the completed repeats, (min–max) when they differ; — is a figure not recorded.", "",
             tables.markdown_table(*figure_table), "", "## Failed runs", ""]
    lines += [tables.markdown_table(*failed_table) if failed_table[1] else "None: every run completed.", ""]
    lines += ["## Conformance", "", totals_text(conformance) if conformance else
              "No conformance.json in this folder (run `server-layers probe --out THIS_FOLDER`).", ""]
    lines += ["## Environment", ""] + [f"- {tables.md_cell(k)}: {tables.md_cell('—' if v is None else v)}"
                                        for k, v in environment(results)]
    return "\n".join(lines) + "\n"
