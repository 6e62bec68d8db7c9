"""The table of every figure, the knob matrix and the list of failed runs, as plain-text cells.

The same rows feed report.html (escaped there) and summary.md (escaped for
Markdown here). No HTML in this module, no figure that results.json does not hold.
"""

from bench.catalog import MODELS, STORY
from bench.knobs import DEFAULT, KNOBS, ONLY, STOCK_LAYER
from bench.reference_servers import Target, frameworks
from bench.results import FIGURE, WRK, Entry, Figure, Run
from bench.scenarios import CGI_SCENARIOS
from bench.syscalls import frequent

from . import data
from .lines import ROOT, run_modules

LOAD_HEADERS = ["layer/model", "scenario", "load", "runs ok", "bound by"]
FAILED_HEADERS = ["layer", "model", "scenario", "load", "repeat", "error", "server stderr (last line)"]
KNOB_HEADERS = ["layer/model", "knob", "scenario", "load", "runs ok", "bound by"]
KNOB_FIGURES = ["rps", "cpu_us_per_req", "p50_ms", "p99_ms"]  # the knob matrix's columns, of bench.results.FIGURES
SPEC_ORDER = {**{layer: number for number, layer in enumerate(MODELS)}, STOCK_LAYER: len(MODELS)}
LAYER_HEADERS = ["layer or framework app", "built on", "it gives", "we add", "models"]
RUNG_ADDS = "the routes of SPEC §2 as the framework wants them written; the page's HTML and the SQLite store are shared"


def layer_rows() -> list[list[str]]:
    """The layer table: what each standard-library layer gives, and what this project adds on it; then the last
    rung, each framework app (bench.reference_servers.frameworks()), with what its framework gives."""
    return [*([f"{layer}/", built_on, gives, add, ", ".join(MODELS[layer])]
              for layer, (built_on, gives, add) in STORY.items()),
            *([rung_name(target), target.built_on, target.gives, RUNG_ADDS, "—"] for target in frameworks())]


def rung_name(target: Target) -> str:
    """A framework app's row name: the app module its server command names (reports.lines reads it alike)."""
    return run_modules(target.command)[0].relative_to(ROOT).as_posix()


def figure_headers(entries: list[Entry] | None = None) -> list[str]:
    """With several knobs, a knob column after layer/model."""
    shown = data.figures(entries) if entries else data.TABLE
    load = [*LOAD_HEADERS[:1], "knob", *LOAD_HEADERS[1:]] if entries and data.several_knobs(entries) else LOAD_HEADERS
    return load + [f"{figure.title} ({figure.unit})" for figure in shown]


def failed_headers(with_knob: bool) -> list[str]:
    """With several knobs, a knob column after repeat."""
    return [*FAILED_HEADERS[:5], "knob", *FAILED_HEADERS[5:]] if with_knob else FAILED_HEADERS


def load_text(load: str, users: int | None, rate: int | None) -> str:
    """A level in words: "wrk, 50 connections", "1000 req/s (20 users)", "8 users"."""
    if load == WRK:
        return f"wrk, {users} connections"
    said = f"{users} user" + ("" if users == 1 else "s")
    return f"{rate} req/s ({said})" if rate else said


def entry_load(entry: Entry) -> str:
    return load_text(entry.load, entry.users, entry.rate)


def sort_key(entry: Entry, scenarios: list[str]) -> tuple:
    scenario = scenarios.index(entry.scenario) if entry.scenario in scenarios else len(scenarios)
    return (scenario, SPEC_ORDER.get(entry.layer, 9), entry.layer, entry.model, entry.load == WRK, entry.users,
            entry.rate or 0)


def entry_head(entry: Entry, knob: list[str]) -> list[str]:
    """The text columns of an entry's row: layer/model, the knob when given, scenario, load, runs ok, bound by."""
    return [entry.variant, *knob, entry.scenario, entry_load(entry), f"{entry.ok}/{entry.repeats}",
            ", ".join(entry.bound_by) or "—"]


def figure_cells(entry: Entry, shown: list[Figure]) -> list[str]:
    return [data.spread(entry, figure.key, figure.kind) for figure in shown]


def figure_rows(entries: list[Entry]) -> list[list[str]]:
    """One row per layer/model/(knob)/scenario/level: each figure as "median (min–max)"."""
    scenarios, knobs, shown = data.scenarios(entries), data.knobs(entries), data.figures(entries)
    return [entry_head(entry, [entry.knob] if len(knobs) > 1 else []) + figure_cells(entry, shown)
            for entry in sorted(entries, key=lambda e: (*sort_key(e, scenarios), knobs.index(e.knob)))]


def knob_headers() -> list[str]:
    return KNOB_HEADERS + [f"{figure.title} ({figure.unit})" for figure in knob_figures()]


def knob_figures() -> list[Figure]:
    """The knob matrix's columns, in KNOB_FIGURES' order."""
    return [FIGURE[key] for key in KNOB_FIGURES]


def knob_rows(entries: list[Entry]) -> list[list[str]]:
    """The knob matrix: for each layer/model (then scenario and level), a row per knob in the matrix's order."""
    scenarios, knobs = data.scenarios(entries), data.knobs(entries)

    def order(entry: Entry) -> tuple:
        scenario, layer_rank, layer, model, *load = sort_key(entry, scenarios)
        return layer_rank, layer, model, scenario, *load, knobs.index(entry.knob)

    return [entry_head(entry, [entry.knob]) + figure_cells(entry, knob_figures())
            for entry in sorted(entries, key=order)]


def knob_note(entries: list[Entry]) -> str:
    """What each knob of these entries adds to the servers' command line, from bench's one table of knobs."""
    knobs = data.knobs(entries)
    added = [f"{knob}: {' '.join(KNOBS[knob]) or 'no flag'}" if knob in KNOBS else f"{knob}: unknown"
             for knob in knobs]
    added = [text + (f", on {', '.join(sorted(ONLY[knob]))} only" if knob in ONLY else "")
             for knob, text in zip(knobs, added, strict=True)]
    return (f"The same runs under each knob, with the flags it adds to every server that takes it ({'; '.join(added)}) "
            f"and --server-args, if any. The verdict and the other charts show the {knobs[0]} knob only; "
            "every figure is the median over the completed repeats, (min–max) when they differ.")


def failed_rows(runs: list[Run], with_knob: bool = False) -> list[list[str]]:
    """One row per run that did not complete, with its error and the last line of its server's stderr."""
    rows = []
    for run in runs:
        tail = (run.stderr_tail or run.locust_stderr or "").strip().splitlines()
        knob = [run.knob] if with_knob else []
        level = "?" if run.users is None else load_text(run.generator, run.users, run.rate)
        rows.append([run.layer, run.model, run.scenario, level, "?" if run.repeat is None else str(run.repeat), *knob,
                     str(run.error or run.status or "unknown"), tail[-1] if tail else "—"])
    return rows


def md_cell(text: object) -> str:
    """A Markdown table cell: pipes and backslashes escaped, one line, no HTML."""
    text = " ".join(str(text).split())
    for char in ("\\", "|", "<", ">", "*", "`"):  # `_` inside words is no emphasis in CommonMark
        text = text.replace(char, "\\" + char)
    return text or " "


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(md_cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


IN_PROCESS = "plaintext"  # the same tiny answer, made by the app in the server's own process


def cgi_headers() -> list[str]:
    heads = ["layer/model"]
    for scenario in [IN_PROCESS, *CGI_SCENARIOS]:
        heads += [f"{scenario}: CPU per request (µs)", "p50 (ms)", "p99 (ms)"]
        heads += ["CPU × plaintext"] if scenario != IN_PROCESS else []
    return heads


def cgi_rows(entries: list[Entry]) -> list[list[str]]:
    """Per layer/model: /plaintext in-process beside each CGI script, CPU per request (the script's included)
    and latency, at the run's one fixed rate; "×" is the script's CPU per request over plaintext's (medians)."""
    chosen = [e for e in entries if e.knob == DEFAULT and e.load != WRK]
    by = {(e.variant, e.scenario): e for e in chosen}
    rows = []
    for name in dict.fromkeys(e.variant for e in sorted(chosen, key=lambda e: sort_key(e, []))):
        row, base = [name], cpu_median(by.get((name, IN_PROCESS)))
        for scenario in [IN_PROCESS, *CGI_SCENARIOS]:
            entry = by.get((name, scenario))
            row += [data.spread(entry, key, kind) for key, kind in (("cpu_us_per_req", "us"), ("p50_ms", "ms"),
                                                                   ("p99_ms", "ms"))]
            if scenario != IN_PROCESS:
                cpu = cpu_median(entry)
                row.append(f"{cpu / base:.0f}×" if cpu and base else "—")
        rows.append(row)
    return rows


def cpu_median(entry: Entry | None) -> float | None:
    return entry.stat("cpu_us_per_req") if entry else None


def has_cgi(entries: list[Entry]) -> bool:
    return any(entry.scenario in CGI_SCENARIOS for entry in entries)


def syscall_headers(rows: list[dict]) -> list[str]:
    return ["layer/model", "total per request", *frequent(rows)]


def syscall_rows(rows: list[dict]) -> list[list[str]]:
    names = frequent(rows)
    return [[row["variant"], f"{row['total_per_request']:.2f}",
             *(f"{row['per_request'].get(name, 0):.2f}" for name in names)] for row in rows]


def cpu_groups(rows: list[dict]) -> list[str]:
    """The groups of bench.cpu_profile's rows, in the order the tool wrote them (the kernel first)."""
    return list(dict.fromkeys(group for row in rows for group in row["groups"]))


def cpu_headers(rows: list[dict]) -> list[str]:
    return ["variant", "path", "CPU µs/request (median [min–max] of rounds)", "user", "system",
            "with py-spy (user + system)",
            "samples (user side of all)", *cpu_groups(rows)]


def cpu_rows(rows: list[dict]) -> list[list[str]]:
    groups = cpu_groups(rows)
    return [[row["variant"], row["path"], cpu_spread(row), f"{row['user_us']:.1f}", f"{row['system_us']:.1f}",
             f"{row['sampled_user_us']:.1f} + {row['sampled_system_us']:.1f}",
             f"{row['samples'] - row['samples_by_group'].get('kernel', 0)} of {row['samples']}",
             *(f"{row['groups'].get(group, 0):.1f}" for group in groups)] for row in rows]


def cpu_spread(row: dict) -> str:
    """"52.0 [48.5–60.5]" over the row's rounds (a row of one round: the figure alone)."""
    low, high = row.get("cpu_us_range") or (row["cpu_us"], row["cpu_us"])
    spread = f" [{low:.1f}–{high:.1f}]" if (low, high) != (row["cpu_us"], row["cpu_us"]) else ""
    return f"{row['cpu_us']:.1f}" + spread


def cpu_note(rows: list[dict]) -> str:
    """One computed sentence: each row's largest group, and the next."""
    parts = []
    for row in rows:
        total = sum(row["groups"].values()) or 1.0
        (first, most), (second, next_most) = sorted(row["groups"].items(), key=lambda kv: -kv[1])[:2]
        parts.append(f"{row['variant']} GET {row['path']}: {first} {most / total:.0%}, then {second} "
                     f"{next_most / total:.0%} of {total:.1f} µs")
    return "Where each one's CPU went most: " + "; ".join(parts) + "."
