"""`server-layers report RUN_DIR [--out DIR]` (BENCH §3): charts, report.html and summary.md from a run's folder.

It reads results.json (and conformance.json, syscalls.json and cpu.json when present)
and writes only into DIR (by default RUN_DIR itself), copying there the files the page
links to (the flame graphs), so the page works from DIR and the run folder is left as
it was. A folder without results.json but with syscalls.json or cpu.json (what
`server-layers explain` writes) gets a page of the explaining sections alone. Bad input
is one line on stderr and exit 2. It never runs a server or a benchmark and never
imports locust.
"""

import argparse
import hashlib
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.knobs import DEFAULT, in_order
from bench.results import LOCUST, WRK, Entry, Results
from conformance.matrix import Matrix
from oneline import OneLineParser, fail

from . import data, html, tables, verdict, why
from . import gaps as stock_gaps
from . import lines as code_lines
from . import sweep as load_words
from .charts import (
    Chart,
    Source,
    not_drawn,
    write_capacity_chart,
    write_charts,
    write_cpu_chart,
    write_knob_chart,
    write_ratio_chart,
    write_syscall_chart,
)
from .matrix import matrix_html, totals_text
from .why import heading

EXAMPLES = """examples:
  server-layers report results/20261124T220000Z     # writes report.html, summary.md, *.png, *.svg there
  server-layers probe --out results/RUN && server-layers report results/RUN   # with the conformance matrix
  server-layers report docs/results/compare --out /tmp/report   # the committed run, its folder left untouched
  server-layers report docs/results/explain --out /tmp/explain   # syscalls.json and cpu.json alone: why each costs
"""


def parser() -> OneLineParser:
    p = OneLineParser(prog="server-layers report", description="Charts, report.html and summary.md from a bench "
                      "run (BENCH.md §3).", epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the folder holding results.json (or, alone, "
                   "syscalls.json and cpu.json)")
    p.add_argument("--out", type=Path, metavar="DIR", help="write the report into DIR (made when missing) instead of "
                   "into RUN_DIR; the files the page links to are copied there")
    p.add_argument("--sweep", type=Path, metavar="SWEEP_JSON", help="a `server-layers sweep` measured apart: its "
                   "cost-against-load section (default: RUN_DIR/sweep.json when there is one)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.sweep and not args.sweep.is_file():
            raise data.ReportError(f"{args.sweep}: no such file (give a sweep.json)")
        page = build(args.run_dir, args.out, args.sweep)
    except data.ReportError as exc:
        fail(f"server-layers report: {exc}")
    print(page)
    return 0


def build(run_dir: Path, out: Path | None = None, sweep: Path | None = None) -> Path:
    """Write every output of the report into `out` (default: `run_dir`), with the cost-against-load section of
    `sweep` (default: RUN_DIR/sweep.json when there is one); the path of report.html."""
    syscalls, cpu = data.measurement(run_dir, "syscalls.json"), data.measurement(run_dir, "cpu.json")
    if not (run_dir / "results.json").is_file() and (syscalls or cpu):
        return build_explain(run_dir, folder(out or run_dir), syscalls, cpu)
    results = data.load(run_dir)
    out = folder(out or run_dir)
    entries = data.summary(results)
    knobbed = data.several_knobs(data.by_load(entries, LOCUST))
    scenarios = data.scenarios(entries)
    said = verdict.sentences(results, scenarios, data.knobs(entries)[0] if knobbed else None)
    glance = None if knobbed else verdict.table(results, scenarios)
    answer = "" if knobbed else verdict.answer(results, scenarios)
    source = charts_source(run_dir, results)
    charts = draw_charts(results, entries, out, source)
    figure_table = (tables.figure_headers(entries), tables.figure_rows(entries))
    knobs = knob_matrix(entries, out, source) if knobbed else None
    failed = data.failed_runs(results)
    failed_table = (tables.failed_headers(knobbed), tables.failed_rows(failed, knobbed))
    conformance = data.load_conformance(run_dir)
    reasons = why_paragraphs(cpu, syscalls, conformance, run_dir)
    title = f"server-layers report: {run_dir.resolve().name}"
    shared = explaining(Folder(run_dir, out, syscalls, cpu, conformance, results.environment), title,
                        meta(results, entries), environment(results), reasons)
    page = html.report_page(html.ReportPage(
        shared, html.verdict_section(answer, glance, said, [] if knobbed else verdict.orders(results, scenarios)),
        charts, not_drawn(locust_shown(entries)), figure_table, html.failed_section(*failed_table, failed),
        knobs=html.knob_section(*knobs) if knobs else "",
        sweep=sweep_part(sweep or run_dir / load_words.SWEEP_FILE, out),
        cgi=html.cgi_section(cgi_note(entries), tables.cgi_headers(), tables.cgi_rows(entries), differences(results))
        if tables.has_cgi(entries) else ""))
    text = "\n".join([answer, "", tables.markdown_table(*glance), ""] if glance and glance[1] else []) + \
        "\n".join(f"- {sentence}" for sentence in said)
    html.write(out / "summary.md", markdown(title, text, figure_table, failed_table, conformance, results, knobs,
                                            entries, reasons))
    return html.write(out / "report.html", page)


def sweep_part(path: Path, out: Path) -> str:
    """The cost-against-load section of a sweep (bench.sweep's sweep.json at `path`); '' without the file."""
    if not path.is_file():
        return ""
    try:
        found = Results.from_json(json.loads(path.read_text(encoding="utf-8")))
        chart = load_words.write_chart(found, out, file_source(path, found))
        said = load_words.sentences(found)
    except (ValueError, KeyError, TypeError) as exc:
        raise data.ReportError(f"{path} is not a sweep's file: {exc}") from exc
    return html.sweep_section(chart, said, load_words.WHY)


def folder(path: Path) -> Path:
    """The folder the report is written into, made when missing; ReportError when it cannot be."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise data.ReportError(f"cannot write into {path}: {exc.strerror or exc}") from exc
    return path


def build_explain(run_dir: Path, out: Path, syscalls: data.Measurement | None, cpu: data.Measurement | None) -> Path:
    """The page of a folder with syscalls.json or cpu.json and no results.json: the layers, the system calls, the
    CPU split and the why paragraphs, the conformance matrix when there is one; the path of report.html."""
    conformance = data.load_conformance(run_dir)
    reasons = why_paragraphs(cpu, syscalls, conformance, run_dir)
    title = f"server-layers report: {run_dir.resolve().name}"
    found = [m for m in (syscalls, cpu) if m]
    page = html.explain_page(explaining(Folder(run_dir, out, syscalls, cpu, conformance, None), title,
                                        explain_meta(found), measured_environment(found), reasons))
    html.write(out / "summary.md", explain_markdown(title, explain_meta(found), syscalls, cpu, conformance, reasons,
                                                    found))
    return html.write(out / "report.html", page)


@dataclass(frozen=True)
class Folder:
    """What a run folder holds beside results.json, and where the report goes."""

    run_dir: Path
    out: Path
    syscalls: data.Measurement | None
    cpu: data.Measurement | None
    conformance: Matrix | None
    run_env: Mapping[str, Any] | None  # results.json's environment block, None without results.json


def explaining(found: Folder, title: str, meta_line: str, pairs: list[tuple[str, object]],
               reasons: list[tuple[str, str]]) -> html.Explaining:
    """The sections both pages show, made from the folder: layers, lines, gaps, system calls, CPU, conformance."""
    return html.Explaining(
        title, meta_line, (tables.LAYER_HEADERS, tables.layer_rows()), code_lines.table(),
        (stock_gaps.LAYER, *stock_gaps.table(found.conformance)),
        syscall_part(found.syscalls, found.out, found.run_env),
        cpu_part(found.cpu, found.run_dir, found.out, found.run_env), reasons, matrix_html(found.conformance), pairs)


def explain_meta(found: list[data.Measurement]) -> str:
    """One line: what the folder holds, and what it lacks."""
    names = " and ".join(m.name for m in found)
    return (f"From {names} alone: no results.json in this folder, so no verdict, no load charts and no table of "
            f"figures; the sections {names} allow.")


def measured_environment(found: list[data.Measurement]) -> list[tuple[str, object]]:
    """Each measurement's own environment block, or a line saying that none is recorded."""
    pairs = [(f"{m.name}: {key}", value) for m in found for key, value in (m.environment or {}).items()]
    pairs += [(f"{m.name}: sha256", m.digest) for m in found]
    if not any(m.environment for m in found):
        pairs.insert(0, ("environment", f"not recorded: {' and '.join(m.name for m in found)} hold no machine, "
                                        "Python version or date, and no results.json lies beside them"))
    return pairs


def locust_shown(entries: list[Entry]) -> list[Entry]:
    """Locust's entries the charts of BENCH §3 draw: those of the first knob when there is a knob matrix."""
    locust = data.by_load(entries, LOCUST)
    return data.baseline(locust) if data.several_knobs(locust) else locust


def draw_charts(results: Results, entries: list[Entry], out: Path, source: Source) -> list[Chart]:
    """The charts of BENCH §3 for one knob (the first, with a knob matrix): the paired ratios, Locust's figures,
    and compare's wrk passes in a chart of their own."""
    runs = list(results.runs)
    if data.several_knobs(data.by_load(entries, LOCUST)):
        first = in_order([run.knob for run in runs])[0]
        runs = [run for run in runs if run.knob == first]
    return (write_ratio_chart(runs, data.scenarios(entries), out, source)
            + write_charts(locust_shown(entries), out, source)
            + write_capacity_chart(data.by_load(entries, WRK), out, source))


def charts_source(run_dir: Path, results: Results) -> Source:
    """What every chart of this run says of where it came from."""
    return file_source(run_dir / "results.json", results)


def file_source(path: Path, results: Results) -> Source:
    """What a chart drawn from `path` (a results-format file, `results` parsed) says of where it came from."""
    return Source(data.provenance(results), f"{path.name} sha256:{hashlib.sha256(path.read_bytes()).hexdigest()}")


def knob_matrix(entries: list[Entry], out: Path, source: Source) -> tuple:
    """(chart or None, note, headers, rows) of the knob matrix; the chart written into `out`."""
    chart = write_knob_chart(entries, out, source)
    return chart, tables.knob_note(entries), tables.knob_headers(), tables.knob_rows(entries)


def meta(results: Results, entries: list[Entry]) -> str:
    """One line: scenarios, load levels, repeats, duration, when."""
    plan, env = results.plan or {}, results.environment
    span = f"{len(results.runs)} runs from {env.get('started', '?')} to {env.get('finished') or '(unfinished)'}."
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
            f"s each; {len(results.runs)} runs from {env.get('started', '?')} to "
            f"{env.get('finished') or '(unfinished)'}.")


def environment(results: Results) -> list[tuple[str, object]]:
    """The environment block, the calibration and the plan, as (name, value) pairs."""
    env, plan, calibration = results.environment, results.plan or {}, results.calibration or {}
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


def measured_chart(found: data.Measurement, tool: str, out: Path, run_env: Mapping[str, Any] | None,
                   write_chart) -> Chart | None:
    """The chart of a measurement's rows (syscalls.json, cpu.json), written into `out` by
    `write_chart(rows, out, source)`: its caption names the machine, Python and date (data.measured_provenance),
    its metadata the file's digest."""
    note = data.measured_provenance(tool, found, run_env)
    return write_chart(found.rows, out, Source(note, f"{found.name} sha256:{found.digest}"))


def syscall_part(found: data.Measurement | None, out: Path, run_env: Mapping[str, Any] | None) -> str:
    """The section of bench.syscalls' syscalls.json, when the run folder holds one; else ''."""
    if found is None:
        return ""
    chart = measured_chart(found, "System calls counted by strace -f -c (bench.syscalls)", out, run_env,
                           write_syscall_chart)
    return html.syscall_section(chart, tables.syscall_headers(found.rows), tables.syscall_rows(found.rows))


def cpu_part(found: data.Measurement | None, run_dir: Path, out: Path, run_env: Mapping[str, Any] | None) -> str:
    """The section of bench.cpu_profile's cpu.json, when the run folder holds one; else ''. Its flame graphs are
    linked beside the page (copied into `out` when that is not the run folder)."""
    if found is None:
        return ""
    rows = found.rows
    chart = measured_chart(found, "CPU from /proc's utime and stime, split by py-spy's samples (bench.cpu_profile)",
                           out, run_env, write_cpu_chart)
    flames = [(f"{row['variant']} GET {row['path']}", flame_file(run_dir, row.get("flamegraph"), out)) for row in rows]
    return html.cpu_section(chart, tables.cpu_note(rows), tables.cpu_headers(rows), tables.cpu_rows(rows), flames)


def why_paragraphs(cpu: data.Measurement | None, syscalls: data.Measurement | None, conformance: Matrix | None,
                   run_dir: Path) -> list[tuple[str, str]]:
    """A paragraph per layer from the run's profile and system-call count (none without either)."""
    if not ((cpu and cpu.rows) or (syscalls and syscalls.rows)):
        return []
    try:
        return why.paragraphs(cpu.rows if cpu else None, syscalls.rows if syscalls else None, conformance)
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        raise data.ReportError(f"cpu.json or syscalls.json in {run_dir} lacks a figure the paragraphs need: {exc!r}") \
            from exc


def flame_file(run_dir: Path, name: str | None, out: Path) -> str | None:
    """A row's flame graph as a link relative to the page: a file right beside cpu.json, copied into `out` when the
    page is written elsewhere; None when the run folder does not hold it."""
    if not (name and Path(name).name == name and (run_dir / name).is_file()):
        return None
    if (out / name).resolve() != (run_dir / name).resolve():
        shutil.copyfile(run_dir / name, out / name)
    return name


def differences(results: Results) -> tuple[str, list[str]] | None:
    """What stock CGIHTTPRequestHandler did differently (conformance.cgi_differences), if the run recorded it."""
    found = results.stock_differences
    return (found["against"], found["lines"]) if found else None


def differences_markdown(results: Results) -> list[str]:
    found = differences(results)
    if not found:
        return []
    return [f"What stock CGIHTTPRequestHandler does differently from {found[0]}, asked the same requests:", "",
            *["- " + tables.md_cell(line.removeprefix("- ")) for line in found[1]], ""]


def cgi_note(entries: list[Entry]) -> str:
    rates = sorted({entry.rate for entry in entries if entry.rate})
    at = f"at {', '.join(map(str, rates))} req/s" if rates else "at the run's load"
    return (f"GET /plaintext (the app, in the server's process) beside GET /cgi-bin/hello.sh (fork and exec of "
            f"/bin/sh) and /cgi-bin/env.py (plus a Python interpreter's start-up), {at}, every server alike. CPU per "
            "request is the server's with the scripts it reaped; each figure the median (min–max) over the repeats; "
            "× is the script's CPU per request over plaintext's on the same server.")


def layers_markdown(conformance: Matrix | None) -> list[str]:
    """summary.md's layer section: what each layer gives, its lines, the stock gaps."""
    return ["## The layers", "", tables.markdown_table(tables.LAYER_HEADERS, tables.layer_rows()), "",
            "Lines that buy each behaviour (code lines of each layer's own package and of the shared code it "
            "imports):", "", tables.markdown_table(*code_lines.table()), "",
            f"The stock gaps {stock_gaps.LAYER} closes (its `# gap:` comments) and the corpus cases each names:", "",
            tables.markdown_table(*stock_gaps.table(conformance)), ""]


def why_markdown(why: list[tuple[str, str]]) -> list[str]:
    if not why:
        return []
    return ["## Why each layer costs what it costs", "", *[f"**{heading(name)}** {text}\n" for name, text in why]]


def explain_markdown(title: str, meta_line: str, syscalls: data.Measurement | None, cpu: data.Measurement | None,
                     conformance: Matrix | None, why: list[tuple[str, str]], found: list[data.Measurement]) -> str:
    """summary.md of a folder without results.json: the layers, the paragraphs, the system calls and the CPU split
    as tables, the conformance totals, the environment."""
    lines = [f"# {title}", "", meta_line, "", *layers_markdown(conformance), *why_markdown(why)]
    if syscalls:
        lines += ["## System calls per request", "",
                  tables.markdown_table(tables.syscall_headers(syscalls.rows), tables.syscall_rows(syscalls.rows)), ""]
    if cpu:
        lines += ["## Where the CPU goes", "", tables.cpu_note(cpu.rows), "",
                  tables.markdown_table(tables.cpu_headers(cpu.rows), tables.cpu_rows(cpu.rows)), ""]
    lines += ["## Conformance", "", totals_text(conformance) if conformance else
              "No conformance.json in this folder (run `server-layers probe --out THIS_FOLDER`).", ""]
    lines += ["## Environment", ""] + [f"- {tables.md_cell(k)}: {tables.md_cell(v)}"
                                        for k, v in measured_environment(found)]
    return "\n".join(lines) + "\n"


def markdown(title: str, text: str, figure_table: tuple, failed_table: tuple, conformance: Matrix | None,
             results: Results, knobs: tuple | None = None, entries: list[Entry] | None = None,
             why: list[tuple[str, str]] | None = None) -> str:
    """summary.md: the verdict, the knob matrix (`knobs`, as knob_matrix() gives it, when there is one), the
    table of every figure, failed runs, conformance totals, environment."""
    entries, why = entries or [], why or []
    lines = [f"# {title}", "", text, "", *layers_markdown(conformance), *why_markdown(why)]
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
