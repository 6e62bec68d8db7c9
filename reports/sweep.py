"""Cost against load: a sweep's runs (bench.sweep's sweep.json) as one chart per scenario and plain sentences.

Each variant is a line from Locust's lightest fixed rate up to wrk's saturation point: CPU per request,
and p50 and p99 latency, against the requests/s it served. The sentences say how far CPU per request
falls from the lightest rate to saturation, with the figures; the paragraph after them says why.
Pure over the parsed JSON, plus drawing with matplotlib's Figure (never pyplot); no HTML, no measuring.
"""

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from bench.results import Results, Run
from bench.sweep import SWEEP_FILE  # noqa: F401 - the file the sweep writes, read here

from . import data
from .charts import PANEL_H, PANEL_W, Chart, Source, canvas, save
from .style import look

NAME = "cost_vs_load"
WHY = ("Why it falls: at a light load every request finds the server asleep. The process is woken (in accept, recv "
       "or epoll_wait), runs its loop once for that one request, and goes back to sleep, so the request pays alone "
       "for the wake-up, the system calls around it and caches gone cold. Near saturation a wake-up finds many "
       "requests waiting; an event loop answers all the sockets one epoll_wait returned in one turn, and a thread "
       "finds its next request already in its socket, so those fixed costs are shared by many requests. The same "
       "server therefore costs several times more CPU per request at 25 req/s than at saturation, and a figure of "
       "CPU per request means little without the load it was measured at.")


@dataclass(frozen=True)
class Point:
    """One load level of one variant: what it served and what that cost."""

    rps: float | None  # None only when no run at that point recorded it
    cpu_us: float | None
    p50_ms: float | None
    p99_ms: float | None
    label: str  # "25 req/s", or "wrk" for the saturation point


def median(values: list) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def curve(runs: Iterable[Run], scenario: str, name: str) -> list[Point]:
    """Locust's fixed rates (median over repeats), lightest first, then wrk's saturation point (median over the
    wrk passes that followed each rate). A rate that Locust itself could not keep (bound by the load generator)
    is left out: its figures measure Locust."""
    mine = [r for r in runs if r.ok and r.scenario == scenario and r.variant == name]
    points = []
    for rate in sorted({r.rate for r in mine if r.rate and r.bound_by != data.LG}):
        at = [r for r in mine if r.rate == rate and r.bound_by != data.LG]
        points.append(Point(median([r.rps for r in at]), median([r.cpu_us_per_req for r in at]),
                            median([r.p50_ms for r in at]), median([r.p99_ms for r in at]), f"{rate} req/s"))
    if saturated := [r for r in mine if r.wrk_rps]:
        points.append(Point(median([r.wrk_rps for r in saturated]), median([r.wrk_cpu_us_per_req for r in saturated]),
                            median([r.wrk_p50_ms for r in saturated]), median([r.wrk_p99_ms for r in saturated]),
                            "wrk"))
    return points


def curves(results: Results, scenario: str) -> dict[str, list[Point]]:
    names = (results.plan or {}).get("variants") or sorted({r.variant for r in results.runs})
    return {name: points for name in names if (points := curve(results.runs, scenario, name))}


# --- the words -----------------------------------------------------------------------------------


def falls(points: list[Point]) -> float | None:
    """CPU per request at the lightest rate over CPU per request at saturation."""
    light, heavy = points[0], points[-1]
    if heavy.label != "wrk" or light.label == "wrk" or not light.cpu_us or not heavy.cpu_us:
        return None
    return light.cpu_us / heavy.cpu_us


def sentence(results: Results, scenario: str) -> str | None:
    """"On plaintext, from 25 req/s to saturation, CPU per request falls 9.8× on A (548 → 56 µs), ...": every
    variant, the largest fall first."""
    found = {name: (falls(points), points) for name, points in curves(results, scenario).items()}
    found = {name: value for name, value in found.items() if value[0]}
    if not found:
        return None
    light = next(iter(found.values()))[1][0].label
    parts = [f"{times:.1f}× on {name} ({data.number(points[0].cpu_us, 'us')} → {data.number(points[-1].cpu_us, 'us')} "
             f"µs at {data.number(points[-1].rps, 'rate')} req/s)"
             for name, (times, points) in sorted(found.items(), key=lambda item: (-(item[1][0] or 0.0), item[0]))]
    return f"On {scenario}, from {light} to saturation, CPU per request falls " + ", ".join(parts) + "."


def sentences(results: Results) -> list[str]:
    return [said for scenario in scenarios(results) if (said := sentence(results, scenario))]


def scenarios(results: Results) -> list[str]:
    return (results.plan or {}).get("scenarios") or sorted({r.scenario for r in results.runs})


# --- the chart -----------------------------------------------------------------------------------


def panel(ax, lines: dict[str, list[Point]], key: str) -> None:
    """One figure of every variant against the requests/s it served; the saturation point filled and larger."""
    for name, points in lines.items():
        layer, model = name.split("/", 1)
        lk = look(layer, model)
        keys = ["p50_ms", "p99_ms"] if key == "latency" else [key]
        for figure in keys:
            shown = [(p.rps, getattr(p, figure)) for p in points if getattr(p, figure) is not None]
            if not shown:
                continue
            style = ":" if figure == "p99_ms" else "-"
            ax.plot(*zip(*shown, strict=True), color=lk.colour, linestyle=style, marker=lk.marker, markersize=4.5,
                    markerfacecolor="white", linewidth=1.4)
            if points[-1].label == "wrk" and getattr(points[-1], figure) is not None:
                ax.plot([points[-1].rps], [getattr(points[-1], figure)], color=lk.colour, marker=lk.marker,
                        markersize=8, linestyle="none")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: data.number(v, "rate")))
    ax.set_xlabel("requests/s served (log)")
    ax.set_ylabel("CPU µs per request (log)" if key == "cpu_us" else "latency, ms (log)")


def chart(results: Results):
    """A column per scenario: CPU per request on top, p50 (solid) and p99 (dotted) latency below."""
    names = scenarios(results)
    fig, body = canvas(PANEL_W * len(names), 2 * PANEL_H + 1.2, "Cost against load: from a light fixed rate to "
                       "saturation")
    axes = body.subplots(2, len(names), squeeze=False)
    shown: dict[str, list[Point]] = {}
    for column, scenario in enumerate(names):
        lines = curves(results, scenario)
        shown.update(lines)
        panel(axes[0][column], lines, "cpu_us")
        axes[0][column].set_title(f"CPU per request: {scenario}")
        panel(axes[1][column], lines, "latency")
        axes[1][column].set_title(f"Latency: {scenario}")
    handles = [Line2D([], [], color=look(*n.split("/", 1)).colour, marker=look(*n.split("/", 1)).marker,
                      markerfacecolor="white", label=n) for n in shown]
    handles += [Line2D([], [], color="#555555", linestyle="-", label="p50"),
                Line2D([], [], color="#555555", linestyle=":", label="p99"),
                Line2D([], [], color="#555555", marker="o", markersize=8, linestyle="none",
                       label="filled: wrk saturating the server")]
    body.legend(handles=handles, loc="outside lower center", ncols=min(4, len(handles)), fontsize=8)
    return fig


def write_chart(results: Results, out: Path, source: Source) -> Chart | None:
    """cost_vs_load.png/.svg in `out`; None when the sweep holds no completed run."""
    if not any(curves(results, scenario) for scenario in scenarios(results)):
        return None
    plan = results.plan or {}
    caption = (f"Each line is one server alone on its core: Locust at fixed rates of "
               f"{', '.join(map(str, plan.get('rates', [])))} req/s (Poisson arrivals), then wrk in a closed loop over "
               f"{plan.get('wrk_connections', 50)} keep-alive connections (the filled point), "
               f"{plan.get('duration_s', '?')} s each; CPU per request is the server's user+system CPU over the "
               f"requests it answered; latency at saturation is mostly queueing behind the other connections.")
    return save(chart(results), NAME, "Cost against load", caption, out, source)
