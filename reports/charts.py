"""The charts of BENCH §3, drawn with matplotlib's Agg canvas and saved as PNG and SVG.

One panel per scenario, a line (or bar) per layer/model, coloured by layer and told
apart by model with reports.style (a hatch on bars, a marker on lines); the knob
matrix groups bars by knob, a column per scenario and level. Levels that any repeat
ran bound by the load generator are drawn hollow, labelled LG, and the legend says so.
Failed runs never reach here (the summary keeps completed runs only); a missing
figure is a gap. A line chart is drawn only over two load levels or more, and the
failure chart only when a request failed: not_drawn() says in words what was left
out. Every figure is laid out by matplotlib's constrained layout: the panels,
their legend and the title in a subfigure, the footer naming where the figures came
from under it, so no text overlaps another. It uses matplotlib.figure.Figure, never
pyplot: no display, no global state.
"""

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import matplotlib

matplotlib.use("Agg")  # before anything else of matplotlib draws: no display needed

from matplotlib.figure import Figure, SubFigure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator
from matplotlib.typing import RcKeyType

from bench.cpu_profile import GROUPS
from bench.results import Entry, Run
from bench.syscalls import frequent

from . import data, verdict
from .style import HATCH_COLOUR, look

PANEL_W, PANEL_H = 5.6, 3.6  # inches per panel
ALONE_W = 8.2  # the width of a chart with a single panel per row
RATIO_W = 6.6  # per panel of the ratio chart: its rows are labelled with long variant names
DPI = 110
DODGE = 0.06  # markers of the layers at one level, spread by this share of the level (log axis)
FOOTER_PT = 7.5  # the footer's font size
FOOTER_CHARS_PER_INCH = 15  # the footer wraps at this many characters per inch of the figure's width
PLOT_RC: dict[RcKeyType, Any] = {
    "font.size": 9.5, "axes.titlesize": 10.5, "axes.titleweight": "bold", "axes.grid": True,
    "grid.color": "#dddddd", "grid.linewidth": 0.7, "axes.spines.top": False, "axes.spines.right": False,
    "svg.fonttype": "none", "svg.hashsalt": "server-layers", "legend.frameon": False}


@dataclass(frozen=True)
class Chart:
    """One chart written to disk, as the page shows it."""

    name: str
    title: str
    caption: str
    png: Path
    svg: Path


@dataclass(frozen=True)
class Source:
    """Where a chart's figures came from: drawn under it (`note`) and kept in the file's metadata (`data`)."""

    note: str  # machine, Python, date, rounds or repeats, what bounded the runs (data.provenance)
    data: str  # the data file and its digest


@dataclass(frozen=True)
class Context:
    """What every chart of one run shares."""

    entries: list[Entry]
    axis: data.Axis
    scenarios: list[str]

    def look(self, layer: str, model: str):
        return look(layer, model)


def context(entries: list[Entry]) -> Context:
    drawable = [e for e in entries if e.ok]
    return Context(drawable, data.axis(drawable), data.scenarios(drawable))


# --- line charts --------------------------------------------------------------------


def line_panel(ax, ctx: Context, scenario: str, key: str, scale: float = 1.0) -> bool:
    """A line per layer/model: median, min-max whiskers, hollow where bound by Locust; any LG point.

    Hollow points are also labelled "LG" on the throughput chart, where that bound matters most."""
    found_lg = False
    groups = data.series(ctx.entries, scenario, ctx.axis)
    for index, ((layer, model), group) in enumerate(groups.items()):
        points = [(ctx.axis.x(e), bounds, e) for e in group if (bounds := e.bounds(key, scale)) is not None]
        if not points:
            continue
        lk = ctx.look(layer, model)
        factor = 1 + DODGE * (index - (len(groups) - 1) / 2)
        xs, ys = [x * factor for x, _, _ in points], [b[0] for _, b, _ in points]
        whiskers = [[b[0] - b[1] for _, b, _ in points], [b[2] - b[0] for _, b, _ in points]]
        ax.errorbar(xs, ys, yerr=whiskers, color=lk.colour, linestyle=lk.linestyle, linewidth=1.8,
                    elinewidth=1.1, capsize=3, zorder=2)
        for x, y, (_, _, entry) in zip(xs, ys, points, strict=True):
            hollow = entry.bound_by_lg()
            found_lg |= hollow
            ax.plot([x], [y], marker=lk.marker, markersize=7.5, markeredgewidth=1.8, color=lk.colour,
                    markerfacecolor="white" if hollow else lk.colour, markeredgecolor=lk.colour, zorder=3)
            if hollow and key == "rps":
                ax.annotate("LG", (x, y), xytext=(6, 5), textcoords="offset points", fontsize=7.5,
                            color=lk.colour, fontweight="bold", zorder=4)
    return found_lg


def x_axis(ax, ctx: Context) -> None:
    """The levels as ticks; a log scale when they span a factor of 4 or more."""
    levels = data.levels(ctx.entries, ctx.axis)
    if levels and min(levels) > 0 and max(levels) / min(levels) >= 4:
        ax.set_xscale("log", base=2)
        ax.set_xlim(min(levels) / 1.35, max(levels) * 1.35)
    ax.xaxis.set_major_locator(FixedLocator(levels))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"{v:g}" for v in levels])
    ax.set_xlabel(ctx.axis.label)


def y_log_if_wide(ax, values: list[float]) -> None:
    positive = [v for v in values if v and v > 0]
    if positive and max(positive) / min(positive) > 30:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def variant_handle(layer: str, model: str, bars: bool):
    """A legend entry of `layer/model`: the layer's colour with the model's hatch (bars) or marker (lines)."""
    lk = look(layer, model)
    if bars:
        return Patch(facecolor=lk.colour, edgecolor=HATCH_COLOUR, hatch=lk.hatch, label=f"{layer}/{model}")
    return Line2D([], [], color=lk.colour, linestyle=lk.linestyle, marker=lk.marker, linewidth=1.8, markersize=7,
                  label=f"{layer}/{model}")


def legend(body, ctx: Context, any_lg: bool, bars: bool = False, extra: tuple = ()) -> None:
    """One legend under the panels: every layer/model, then what hollow means (and `extra` handles)."""
    handles = list(extra) + [variant_handle(layer, model, bars) for layer, model in data.combos(ctx.entries)]
    if any_lg:
        label = "hollow, LG: bound by the load generator"
        handles.append(Patch(facecolor="white", edgecolor="#555555", linestyle="--", linewidth=1.4, label=label)
                       if bars else Line2D([], [], color="#555555", marker="o", markerfacecolor="white",
                                           markeredgewidth=1.8, linestyle="none", markersize=7, label=label))
    per_row = 2 if len(ctx.scenarios) < 2 else 4  # a row of the legend never wider than the panels
    body.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), per_row))


def canvas(width: float, height: float, title: str):
    """A figure and the subfigure that holds its title, panels and legend; save() puts the footer under it."""
    fig = Figure(figsize=(width, height), layout="constrained", dpi=DPI)
    body = cast(SubFigure, fig.subfigures(1, 1))  # one row and one column: a SubFigure, not an array
    body.suptitle(title, fontsize=12, fontweight="bold")
    return fig, body


def panels(rows: int, ctx: Context, title: str, columns: int | None = None) -> tuple[Figure, object, list]:
    """A figure with `rows` rows of panels, a column per scenario (or `columns`), room for the legend below:
    (figure, its body, the panels)."""
    columns = columns or max(1, len(ctx.scenarios))
    width = ALONE_W if columns == 1 else PANEL_W * columns
    fig, body = canvas(width, PANEL_H * rows + 0.9, title)
    return fig, body, body.subplots(rows, columns, squeeze=False)


def line_chart(ctx: Context, rows: list[tuple[str, str, str, float]], title: str) -> Figure:
    """rows: (figure key, panel title, y label, scale) for one row of panels each."""
    fig, body, axes = panels(len(rows), ctx, title)
    any_lg, extra = False, []
    for row, (key, panel_title, y_label, scale) in enumerate(rows):
        for column, scenario in enumerate(ctx.scenarios):
            ax = axes[row][column]
            any_lg |= line_panel(ax, ctx, scenario, key, scale)
            if key == "rps" and ctx.axis.key == "rate":
                extra = [offered_rate(ax, ctx)]
            x_axis(ax, ctx)
            ax.set_ylabel(y_label)
            ax.set_title(f"{panel_title}: {scenario}" if len(ctx.scenarios) > 1 else panel_title)
            finish_y(ax, key, ctx, scale)
    legend(body, ctx, any_lg, extra=tuple(extra))
    return fig


def offered_rate(ax, ctx: Context) -> Line2D:
    """Fixed-rate runs: the target rate as a thin grey line, what the throughput should follow."""
    levels = data.levels(ctx.entries, ctx.axis)
    (line,) = ax.plot(levels, levels, color="#888888", linewidth=1.2, linestyle=(0, (1, 2)), zorder=1,
                      label="offered (target) rate")
    return line


def finish_y(ax, key: str, ctx: Context, scale: float) -> None:
    """The y axis: log for latencies spanning 30x, else from 0; percentages as plain numbers."""
    found = [e.stat(key, w) for e in ctx.entries for w in ("min", "max")]
    values = [v * scale for v in found if v is not None]
    if key.endswith("_ms"):
        y_log_if_wide(ax, values)
    if ax.get_yscale() == "linear":
        ax.set_ylim(bottom=0, top=max([*values, 0]) * 1.12 or 1.0)
    if key == "fail_ratio":
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


# --- the CPU bars -------------------------------------------------------------------


def bar_panel(ax, ctx: Context, scenario: str, key: str = "cpu_us_per_req", text=lambda value: f"{value:.0f}") -> bool:
    """Bars of `key`: a group per level, a bar per layer/model, min-max whiskers."""
    levels = data.levels(ctx.entries, ctx.axis)
    groups = data.series(ctx.entries, scenario, ctx.axis)
    width = 0.8 / max(1, len(groups))
    found_lg = False
    for index, ((layer, model), group) in enumerate(groups.items()):
        lk = ctx.look(layer, model)
        for entry in group:
            median = entry.stat(key)
            if median is None:
                continue
            x = levels.index(ctx.axis.x(entry)) + (index - (len(groups) - 1) / 2) * width
            hollow = entry.bound_by_lg()
            found_lg |= hollow
            draw_bar(ax, x, width, entry, lk, hollow, key, text)
    ax.set_xticks(range(len(levels)), [ctx.axis.tick(v) for v in levels])
    ax.set_xlim(-0.6, len(levels) - 0.4)
    ax.grid(axis="x", visible=False)
    return found_lg


def draw_bar(ax, x: float, width: float, entry: Entry, lk, hollow: bool, key: str = "cpu_us_per_req",
             text=lambda value: f"{value:.0f}") -> None:
    """A bar of `key` (median, min-max whisker, its value above), hollow and marked LG when bound by Locust."""
    median, low, high = cast(tuple[float, float, float], entry.bounds(key))  # drawn only when it has the figure
    ax.bar(x, median, width * 0.92, color="white" if hollow else lk.colour, hatch=lk.hatch,
           edgecolor=lk.colour if hollow else HATCH_COLOUR, linewidth=1.4 if hollow else 0.6,
           linestyle="--" if hollow else "-", zorder=2)
    ax.errorbar([x], [median], yerr=[[median - low], [high - median]], color="black", capsize=3, elinewidth=1.1,
                zorder=3)
    ax.annotate(text(median) + ("\nLG" if hollow else ""), (x, high), xytext=(0, 3), textcoords="offset points",
                ha="center", va="bottom", fontsize=7.5, zorder=4)


def bar_chart(ctx: Context, key: str, title: str, y_label: str, text=lambda value: f"{value:.0f}") -> Figure:
    """A panel per scenario of bars of `key`: a group per level, a bar per layer/model, min-max whiskers."""
    fig, body, axes = panels(1, ctx, title)
    any_lg = False
    for column, scenario in enumerate(ctx.scenarios):
        ax = axes[0][column]
        any_lg |= bar_panel(ax, ctx, scenario, key, text)
        ax.set_ylabel(y_label)
        ax.set_xlabel(ctx.axis.label)
        ax.set_title(scenario)
        top = [e.stat(key, "max") for e in ctx.entries]
        ax.set_ylim(0, max([v for v in top if v is not None] + [1]) * 1.2)
    legend(body, ctx, any_lg, bars=True)
    return fig


def cpu_chart(ctx: Context) -> Figure:
    return bar_chart(ctx, "cpu_us_per_req", "Server CPU per request (lower is cheaper)",
                     "CPU µs per request (user + sys)")


# --- the knob matrix ----------------------------------------------------------------

KNOB_ROWS = [  # (figure key, panel title, y label, log axis, the value written above a bar)
    ("cpu_us_per_req", "CPU per request", "CPU µs per request (user + sys)", False, lambda v: f"{v:.0f}"),
    ("p50_ms", "p50 latency", "p50 response time (ms, log scale)", True, lambda v: data.number(v, "ms")),
]


def knob_columns(ctx: Context) -> list[tuple[str, float]]:
    """(scenario, load level) for each column of the knob matrix, scenarios in order, then by level."""
    pairs = {(entry.scenario, ctx.axis.x(entry)) for entry in ctx.entries}
    return sorted(pairs, key=lambda pair: (ctx.scenarios.index(pair[0]), pair[1]))


def knob_panel(ax, ctx: Context, column: tuple[str, float], row: tuple) -> bool:
    """A group of bars per knob, a bar per layer/model; any LG bar."""
    key, _, _, _, text = row
    knobs, combos = data.knobs(ctx.entries), data.combos(ctx.entries)
    width = 0.8 / max(1, len(combos))
    found_lg = False
    for entry in ctx.entries:
        if (entry.scenario, ctx.axis.x(entry)) != column or entry.stat(key) is None:
            continue
        index = combos.index((entry.layer, entry.model))
        x = knobs.index(entry.knob) + (index - (len(combos) - 1) / 2) * width
        hollow = entry.bound_by_lg()
        found_lg |= hollow
        draw_bar(ax, x, width, entry, ctx.look(entry.layer, entry.model), hollow, key, text)
    ax.set_xticks(range(len(knobs)), knobs)
    ax.set_xlim(-0.6, len(knobs) - 0.4)
    ax.grid(axis="x", visible=False)
    return found_lg


def knob_y(ax, entries: list[Entry], key: str, log: bool) -> None:
    """From 0 for CPU; for latency a log axis from half the least to well above the most (room for the labels)."""
    values = [v for e in entries for w in ("min", "max") if (v := e.stat(key, w)) is not None and v > 0]
    if not log:
        ax.set_ylim(0, max([*values, 1]) * 1.2)
        return
    ax.set_ylim(min([*values, 1]) / 2, max([*values, 1]) * 4)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def knob_chart(ctx: Context) -> Figure:
    """Grouped bars per knob: CPU per request on top, p50 latency on a log axis below; a column per scenario/level."""
    columns = knob_columns(ctx)
    fig, body, axes = panels(len(KNOB_ROWS), ctx, "Knob matrix: what each server default costs", len(columns))
    any_lg = False
    for r, row in enumerate(KNOB_ROWS):
        key, title, label, log, _ = row
        for c, column in enumerate(columns):
            ax = axes[r][c]
            if log:
                ax.set_yscale("log")  # before the bars: they start at 0, clipped at the axis
            any_lg |= knob_panel(ax, ctx, column, row)
            scenario, level = column
            ax.set_title(title if len(columns) == 1 else f"{title}: {scenario}, {ctx.axis.tick(level)}")
            ax.set_ylabel(label)
            knob_y(ax, [e for e in ctx.entries if (e.scenario, ctx.axis.x(e)) == column], key, log)
            if r == len(KNOB_ROWS) - 1:
                ax.set_xlabel("knob (the server flags it adds: see the knob table)")
    legend(body, ctx, any_lg, bars=True)
    return fig


KNOB_CAPTION = ("Grouped by knob, a bar per layer/model: the median server CPU (user + sys) per successful request, "
                "and the median p50 latency on a log axis, so a stall of tens of milliseconds (Nagle's algorithm and "
                "a delayed ACK) stands out next to sub-millisecond answers; whiskers: min to max over the repeats; "
                "hollow, LG: bound by the load generator.")


# --- all of them --------------------------------------------------------------------


def has_cpu(ctx: Context) -> bool:
    return any(e.stat("cpu_us_per_req") is not None for e in ctx.entries)  # none against --target


def against_load(ctx: Context) -> bool:
    """A line against load says something only through two load levels or more."""
    return len(data.levels(ctx.entries, ctx.axis)) >= 2


def any_failure(ctx: Context) -> bool:
    return any(e.stat("fail_ratio", which) for e in ctx.entries for which in ("median", "max"))


def figures(ctx: Context) -> list[tuple[str, str, str, Figure]]:
    """(file stem, title, caption, figure) for every chart of BENCH §3 the figures allow: the CPU bars when a
    figure holds CPU; the lines against load over two levels or more, the failures' only when a request failed."""
    cpu = [("cpu_per_request", "CPU per request", "Median server CPU (user + sys) per successful request; whiskers: "
            "min to max over the repeats. The figure the report leads with.", cpu_chart(ctx))] if has_cpu(ctx) else []
    if not against_load(ctx):
        return cpu
    lines = [
        ("throughput", "Throughput vs load", "Successful requests per second (a wrong answer is no throughput); "
         "whiskers: min to max over the repeats.",
         line_chart(ctx, [("rps", "Throughput", "successful requests/s", 1.0)], "Throughput vs load")),
        ("latency", "Latency p50 and p99 vs load", "Response time percentiles from every response (HDR histogram), "
         "in milliseconds; whiskers: min to max over the repeats.",
         line_chart(ctx, [("p50_ms", "p50 latency", "p50 response time (ms)", 1.0),
                          ("p99_ms", "p99 latency", "p99 response time (ms)", 1.0)], "Latency vs load"))]
    failures = [("failures", "Failure ratio vs load", "Failed or wrong answers as a percentage of all requests.",
                 line_chart(ctx, [("fail_ratio", "Failure ratio", "failed requests (% of all)", 100.0)],
                            "Failure ratio vs load"))] if any_failure(ctx) else []
    return cpu + lines + failures


def not_drawn(entries: list[Entry]) -> list[str]:
    """In words, what figures() left out of Locust's completed runs and why: the lines against load with one
    level, the failure chart with no failure."""
    ctx = context(entries)
    if not ctx.entries:
        return []
    said = []
    if not against_load(ctx):
        (level,) = data.levels(ctx.entries, ctx.axis)
        said.append(f"Throughput, latency and failures against load: not drawn, this run has one load level "
                    f"({ctx.axis.tick(level)}) and a line needs two; the table of every figure holds them.")
    if not any_failure(ctx):
        said.append("No failures: no request of any completed run failed or got a wrong answer (a failure ratio of 0 "
                    "at every level), so there is no failure chart.")
    return said


def footer(fig: Figure, note: str) -> None:
    """`note` under the body, wrapped to the figure's width; the figure grows by its lines."""
    lines = textwrap.wrap(note, int(fig.get_figwidth() * FOOTER_CHARS_PER_INCH), break_on_hyphens=False)
    fig.set_figheight(fig.get_figheight() + len(lines) * FOOTER_PT * 1.5 / 72)
    fig.supxlabel("\n".join(lines), fontsize=FOOTER_PT, color="#555555")


def save(fig: Figure, name: str, title: str, caption: str, out: Path, source: Source) -> Chart:
    """NAME.png and NAME.svg in `out`, each saying where its figures came from (drawn, and in the metadata);
    no date of saving in either, so the same data saves the same files."""
    footer(fig, source.note)
    png, svg = out / f"{name}.png", out / f"{name}.svg"
    metadata = {"Description": source.note, "Source": source.data}
    fig.savefig(png, dpi=DPI, metadata=metadata)
    fig.savefig(svg, metadata={**metadata, "Date": None})
    return Chart(name, title, f"{caption} {source.note}", png, svg)


def write_charts(entries: list[Entry], out: Path, source: Source) -> list[Chart]:
    """Draw every chart of Locust's runs into `out` as NAME.png and NAME.svg; [] when nothing completed."""
    ctx = context(entries)
    if not ctx.entries:
        return []
    with matplotlib.rc_context(PLOT_RC):
        return [save(fig, name, title, caption, out, source) for name, title, caption, fig in figures(ctx)]


def write_capacity_chart(entries: list[Entry], out: Path, source: Source) -> list[Chart]:
    """wrk's runs (compare's capacity pass): requests per server CPU-second; [] when there are none."""
    ctx = context([entry for entry in entries if entry.has("req_per_cpu_s")])
    if not ctx.entries:
        return []
    with matplotlib.rc_context(PLOT_RC):
        fig = bar_chart(ctx, "req_per_cpu_s", "Requests per server CPU-second at saturation (wrk, higher is more)",
                        "successful requests per CPU-second", lambda value: data.number(value, "rate"))
        return [save(fig, "capacity", "Capacity on one server core", "Successful requests per second of the "
                     "server's CPU, every server saturated by its own wrk (closed loop, keep-alive) while the servers "
                     "take turns on one core; whiskers: min to max over the rounds.", out, source)]


def write_ratio_chart(runs: list[Run], scenarios: list[str], out: Path, source: Source) -> list[Chart]:
    """The verdict as a picture: every paired ratio to the baseline; [] when no figure can be compared."""
    found = [(m, [verdict.finding(runs, m, s) for s in scenarios]) for m in verdict.MEASURES]
    found = [(m, row) for m, row in found if any(f and f.level for f in row)]
    if not found:
        return []
    with matplotlib.rc_context(PLOT_RC):
        fig, body = canvas(RATIO_W * len(scenarios), 0.6 + 2.9 * len(found),
                           "Each variant as a multiple of the baseline, paired within each round")
        axes = body.subplots(len(found), len(scenarios), squeeze=False)
        for r, (_, row) in enumerate(found):
            for c, one in enumerate(row):
                ratio_panel(axes[r][c], one) if one and one.level else axes[r][c].set_axis_off()
        caption = (f"A dot per round: the variant's figure divided by the baseline's in the same round; the bar is "
                   f"the median. Inside the grey band (each measure's own run-to-run movement: "
                   f"{', '.join(f'±{m.threshold():.0%} for {m.tool}' for m, _ in found)}), or with dots on both sides "
                   "of 1, a variant cannot be told from the baseline. Top: CPU per request at an equal offered load "
                   "(left is cheaper); below: requests per server CPU-second at saturation (right is more).")
        return [save(fig, "ratios", "Paired ratios to the baseline", caption, out, source)]


def ratio_panel(ax, found: "verdict.Finding") -> None:
    """One measure and scenario: a row per variant but the baseline, a dot per round, the median as a bar;
    ≈ where the verdict cannot rank a variant apart from the baseline; the title says when the rounds scattered."""
    base = found.baseline()
    steady = found.rounds() < verdict.MIN_ROUNDS or found.steady()
    names = [name for name in found.variants() if name != base]
    high = 1 + found.measure.threshold()
    ax.axvspan(1 / high, high, color="#e6e6e6", zorder=0)
    ax.axvline(1.0, color="#555555", linewidth=1.0, zorder=1)
    everything = [1 / high, high]
    for y, name in enumerate(names):
        ratios = found.ratios(name, base)
        everything += ratios
        layer, model = name.split("/", 1)
        lk = look(layer, model)
        ax.scatter(ratios, [y] * len(ratios), s=28, color=lk.colour, marker=lk.marker, zorder=3, alpha=0.85)
        median = verdict.Spread.of(ratios).median
        ax.plot([median, median], [y - 0.32, y + 0.32], color=lk.colour, linewidth=3, zorder=2)
        same = not (found.apart(base, name) or found.apart(name, base))
        ax.annotate(f"{median:.2f}×" + ("  ≈" if same else ""), (max(ratios), y), xytext=(6, 0),
                    textcoords="offset points", va="center", fontsize=8)
    ax.set_xscale("log", base=2)
    ax.set_xlim(min(everything) / 1.25, max(everything) * 1.6)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}×"))
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(-0.7, len(names) - 0.3)
    ax.grid(axis="y", visible=False)
    scattered = "" if steady else f"\n(rounds scattered: a median's error up to ±{found.scatter():.0%})"
    ax.set_title(f"{found.measure.short}: {found.scenario}, {found.level}" + scattered, fontsize=10)
    ax.set_xlabel(f"× {base} (its median: {found.measure.show(found.figure(base).median)})")


def write_knob_chart(entries: list[Entry], out: Path, source: Source) -> Chart | None:
    """The knob matrix as knob_matrix.png and .svg; None unless completed runs hold more than one knob."""
    ctx = context(entries)
    if not data.several_knobs(ctx.entries):
        return None
    with matplotlib.rc_context(PLOT_RC):
        return save(knob_chart(ctx), "knob_matrix", "Knob matrix", KNOB_CAPTION, out, source)


SYSCALL_CAPTION = ("System calls the server made per request under one keep-alive client (strace -f -c, an idle "
                   "window of the same length subtracted), stacked by call; calls under 1 in 100 requests left out.")
SYSCALL_COLOURS = ["#332288", "#88CCEE", "#44AA99", "#999933", "#CC6677", "#882255", "#AA4499", "#DDDDDD"]  # Tol's
# muted scheme: none is a layer's colour (reports.style), so no call reads as a layer


def stacked_bars(labels: list[str], segments: list[tuple[str, dict, list[float]]], totals: list[str], xlabel: str,
                 title: str, row_height: float) -> Figure:
    """One horizontal bar per label, a segment per (name, bar style, a value per label), the total at its end."""
    fig, body = canvas(ALONE_W, 1.2 + row_height * len(labels), title)
    ax = body.add_subplot()
    left = [0.0] * len(labels)
    for _, style, values in segments:
        ax.barh(range(len(labels)), values, left=left, edgecolor="white", linewidth=0.6, **style)
        left = [start + value for start, value in zip(left, values, strict=True)]
    for y, (end, total) in enumerate(zip(left, totals, strict=True)):
        ax.text(end, y, f"  {total}", va="center", fontsize=8.5)
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    body.legend(handles=[Patch(label=name, **style) for name, style, _ in segments], loc="outside right upper",
                ncols=1, fontsize=8)
    return fig


def syscall_chart(rows: list[dict]) -> Figure:
    """One horizontal bar per variant, a segment per system call (the most frequent first)."""
    segments = [(name, {"facecolor": SYSCALL_COLOURS[n % len(SYSCALL_COLOURS)],
                        "hatch": "//" if n >= len(SYSCALL_COLOURS) else ""},
                 [row["per_request"].get(name, 0) for row in rows]) for n, name in enumerate(frequent(rows))]
    return stacked_bars([row["variant"] for row in rows], segments, [f"{row['total_per_request']:.2f}" for row in rows],
                        "system calls per request", "System calls per request", 0.45)


def write_rows_chart(figure, rows: list[dict], name: str, title: str, caption: str, out: Path,
                     source: Source) -> Chart | None:
    """NAME.png and .svg of `figure(rows)`, the rows of a measurement beside the run; None when there are none."""
    if not rows:
        return None
    with matplotlib.rc_context(PLOT_RC):
        return save(figure(rows), name, title, caption, out, source)


def write_syscall_chart(rows: list[dict], out: Path, source: Source) -> Chart | None:
    """syscalls.png and .svg from a bench.syscalls run's rows; None when there are none."""
    return write_rows_chart(syscall_chart, rows, "syscalls", "System calls per request", SYSCALL_CAPTION, out, source)


CPU_CAPTION = ("CPU the server spent per request under one keep-alive client, from the OS (/proc utime and stime, an "
               "idle window of the same length subtracted), stacked by who spent it: the kernel is the system time; "
               "the user time is split by py-spy's samples (those not in a system call) among the groups "
               "(bench.cpu_profile's docstring has the rule).")


def cpu_groups_chart(rows: list[dict]) -> Figure:
    """One horizontal bar per variant and path, a segment per group (bench.cpu_profile.GROUPS' order and colours)."""
    groups = [group for group in GROUPS if any(row["groups"].get(group, 0) > 0 for row in rows)]
    segments = [(group, {"facecolor": GROUPS[group]}, [row["groups"].get(group, 0) for row in rows])
                for group in groups]
    return stacked_bars([f"{row['variant']} {row['path']}" for row in rows], segments,
                        [f"{sum(row['groups'].get(group, 0) for group in groups):.1f}" for row in rows],
                        "CPU µs per request", "Where the CPU goes", 0.42)


def write_cpu_chart(rows: list[dict], out: Path, source: Source) -> Chart | None:
    """cpu_groups.png and .svg from a bench.cpu_profile run's rows; None when there are none."""
    return write_rows_chart(cpu_groups_chart, rows, "cpu_groups", "Where the CPU goes", CPU_CAPTION, out, source)
