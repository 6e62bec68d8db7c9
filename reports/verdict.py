"""The verdict: two sentences computed from the runs, the first thing a reader sees.

Sentence one: CPU microseconds per request of each layer/model, per scenario
(median over every completed run with min-max), relative to the cheapest.
With a knob matrix, sentence one covers the first knob's runs only (default when
it ran) and says so. Sentence two: what bounded the runs, and how many failed. Plain text: the
callers escape it. It must never state a figure that is not in results.json.
"""

import statistics
from dataclasses import dataclass

from bench.knobs import knob_of

from .data import number

BOUND_WORDS = {
    "pacing": "pacing (the server had CPU to spare, so throughput followed the offered load)",
    "load-generator": "the load generator (Locust at its own ceiling: throughput there measures the harness)",
    "server": "the server (its CPU was the limit)",
}


@dataclass(frozen=True)
class Cost:
    """CPU µs per request of one layer/model in one scenario, pooled over its completed runs."""

    name: str
    median: float
    low: float
    high: float
    runs: int


def costs(runs: list[dict], scenario: str) -> list[Cost]:
    """Cheapest first: every layer/model with a CPU figure in `scenario`."""
    pooled: dict[str, list[float]] = {}
    for run in runs:
        if run.get("status") == "ok" and run["scenario"] == scenario and run.get("cpu_us_per_req") is not None:
            pooled.setdefault(f"{run['layer']}/{run['model']}", []).append(run["cpu_us_per_req"])
    found = [Cost(name, statistics.median(v), min(v), max(v), len(v)) for name, v in pooled.items()]
    return sorted(found, key=lambda cost: (cost.median, cost.name))


def us(value: float) -> str:
    return f"{number(value, 'us')} µs"


def cost_clause(scenario: str, ranked: list[Cost]) -> str:
    """"on plaintext, A needs the least CPU per request, 166 µs (...), B 1.10× that (...)"."""
    cheapest, others = ranked[0], ranked[1:]
    least = "the least CPU per request" if others else "CPU per request"
    runs = "1 run" if cheapest.runs == 1 else f"median of {cheapest.runs} runs, {span(cheapest)}"
    first = f"on {scenario}, {cheapest.name} needs {least}, {us(cheapest.median)} ({runs})"
    relative = [f"{cost.name} {cost.median / cheapest.median:.2f}× that ({details(cost, cheapest)})" for cost in others]
    return f"{first}, {join(relative)}" if others else first


def details(cost: Cost, cheapest: Cost) -> str:
    """"198 µs, range 160–208 µs, overlapping": overlapping when its range reaches the cheapest's."""
    parts = [us(cost.median)] + ([span(cost)] if cost.runs > 1 else [])
    return ", ".join(parts + (["overlapping"] if cost.low <= cheapest.high else []))


def span(cost: Cost) -> str:
    return f"range {us(cost.low)}" if cost.low == cost.high else f"range {number(cost.low, 'us')}–{us(cost.high)}"


def cpu_sentence(runs: list[dict], scenarios: list[str]) -> str:
    clauses = [cost_clause(s, ranked) for s in scenarios if (ranked := costs(runs, s))]
    if not clauses:
        return "No run has a CPU figure per request (the harness did not start the servers, or every run failed)."
    text = "; ".join(clauses)
    return text[0].upper() + text[1:] + "."


def bound_sentence(runs: list[dict]) -> str:
    """"All 27 completed runs were bound by pacing (...); none failed." and the like."""
    ok = [run for run in runs if run.get("status") == "ok"]
    failed = len(runs) - len(ok)
    if not runs:
        return "The file holds no run yet."
    if not ok:
        return f"No run completed: {failed} failed (see the table of failed runs)."
    counts = {kind: sum(run.get("bound_by") == kind for run in ok) for kind in BOUND_WORDS}
    parts = [(n, BOUND_WORDS[kind]) for kind, n in counts.items() if n]
    if not parts:
        bounds = f"{plural(len(ok), 'run')} completed, none with its bound recorded"
    elif len(parts) == 1 and parts[0][0] == len(ok):
        every = {1: "The completed run was", 2: "Both completed runs were"}.get(len(ok), f"All {len(ok)} completed runs were")
        bounds = f"{every} bound by {parts[0][1]}"
    else:
        (first_n, first_words), rest = parts[0], parts[1:]
        head = f"{first_n} {'was' if first_n == 1 else 'were'} bound by {first_words}"
        listed = join([head] + [f"{n} by {words}" for n, words in rest])
        bounds = f"Of {plural(len(ok), 'completed run')}, {listed}"
    tail = "none failed" if not failed else f"{plural(failed, 'more run')} failed and {'is' if failed == 1 else 'are'} " \
                                           "left out of the charts"
    return f"{bounds}; {tail}."


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def verdict(results: dict, scenarios: list[str], knob: str | None = None) -> str:
    """The two sentences for this run; with a `knob`, the CPU sentence is about that knob's runs alone."""
    runs = [run for run in results["runs"] if "layer" in run]
    if knob is None:
        return f"{cpu_sentence(runs, scenarios)} {bound_sentence(runs)}"
    costed = cpu_sentence([run for run in runs if knob_of(run) == knob], scenarios)
    return f"{costed[:-1]}, all with the {knob} knob (the knob matrix compares the others). {bound_sentence(runs)}"


def join(items: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""
