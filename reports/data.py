"""results.json, and the measurements beside it (syscalls.json, cpu.json), as the report needs them: load and
check them, group the summary entries (bench.results.Entry), format figures, say where the figures came from.

Pure functions: no drawing, no HTML, no files written; the schema of a run, an entry and the whole results.json
is bench.results' alone (Run, Entry, Results).
A figure may be missing (None) anywhere; every function here copes with that.
"""

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from bench.knobs import in_order
from bench.results import FIGURES, LG, WRK, Entry, Figure, Results, Run, read_summary  # noqa: F401 - LG for the verdict
from conformance.matrix import Matrix, read_matrix

TABLE = [figure for figure in FIGURES if figure.shown == "always"]  # the table's columns in every run


def figures(entries: list[Entry]) -> list[Figure]:
    """The figures to tabulate: every standard one, and wrk's cross-check when any entry has them."""
    extra = [f for f in FIGURES if f.shown == "cross-check" and any(entry.has(f.key) for entry in entries)]
    return TABLE + extra


class ReportError(Exception):
    """The run folder cannot be reported on; the message is one line for the user."""


@dataclass(frozen=True)
class Axis:
    """The load axis: `key` is "rate" for fixed-rate runs, "users" for capacity runs."""

    key: str
    label: str
    noun: str = "user"  # what the users count is: Locust's users, or wrk's connections

    def x(self, entry: Entry) -> float:
        return cast(float, getattr(entry, self.key) or entry.users)  # every entry has its users

    def tick(self, value: float) -> str:
        return f"{value:g} req/s" if self.key == "rate" else f"{value:g} {self.noun}" + ("" if value == 1 else "s")


def load(run_dir: Path) -> Results:
    """results.json from `run_dir`, checked enough to report on; ReportError otherwise."""
    path = run_dir / "results.json"
    if not path.is_file():
        raise ReportError(f"{path} not found: give the folder of a bench run")
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(results, dict) or not isinstance(results.get("runs"), list):
        raise ReportError(f"{path} has no list of runs: not a server-layers bench result")
    if results.get("schema") != 1:
        raise ReportError(f"{path}: schema {results.get('schema')!r} is not 1")
    return Results.from_json(results)


def load_conformance(run_dir: Path) -> Matrix | None:
    """conformance.json beside results.json (conformance.matrix.read_matrix), or None when there is none, or it is
    unreadable or not a matrix."""
    try:
        return read_matrix(run_dir / "conformance.json")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # AttributeError: a list where a map goes
        return None


def summary(results: Results) -> list[Entry]:
    """The per-level summary; computed from the runs when results.json has none (a run cut short)."""
    return read_summary(results)


def ok_runs(results: Results) -> list[Run]:
    return results.ok_runs()


def failed_runs(results: Results) -> list[Run]:
    return results.failed_runs()


def axis(entries: list[Entry]) -> Axis:
    if entries and all(entry.rate for entry in entries):
        return Axis("rate", "target rate (requests/s, fixed-rate runs)")
    if entries and all(entry.load == WRK for entry in entries):
        return Axis("users", "wrk keep-alive connections (closed loop, no wait)", "connection")
    return Axis("users", "concurrent users (closed loop, no wait)")


def by_load(entries: list[Entry], load: str) -> list[Entry]:
    """The summary entries of one load generator (LOCUST or WRK)."""
    return [entry for entry in entries if entry.load == load]


def measured_on(env: Mapping[str, Any]) -> str:
    """The machine, Python and date of an environment block: "AMD EPYC, 2 cores; Python 3.11.7; 2026-12-02"."""
    machine = f"{env.get('cpu_model') or 'an unrecorded CPU'}, {env.get('cpus', '?')} cores"
    return f"{machine}; Python {env.get('python', '?')}; {(env.get('started') or '?')[:10]}"


def provenance(results: Results) -> str:
    """Where the figures came from, in one line: machine, Python, date, rounds or repeats, what bounded the runs."""
    env, plan = results.environment, results.plan or {}
    if plan.get("windows"):
        rounds = f"{plan['windows']} Locust windows (every variant at once), {plan['rounds']} rotated wrk rounds"
    elif plan.get("rounds"):
        rounds = f"{plan['rounds']} interleaved round{'s' if plan['rounds'] != 1 else ''}"
    else:
        rounds = f"{plan.get('repeat', '?')} repeat(s) per level"
    counts: dict[str, int] = {}
    for run in results.runs:
        if run.ok:
            bound = f"{'wrk' if run.generator == WRK else 'Locust'} runs bound by {run.bound_by}"
            counts[bound] = counts.get(bound, 0) + 1
    bounds = ", ".join(f"{n} {what}" for what, n in counts.items()) or "no completed run"
    return f"Measured on {measured_on(env)}; {rounds}; {bounds}."


@dataclass(frozen=True)
class Measurement:
    """A measurement's JSON beside a run (bench.syscalls' syscalls.json, bench.cpu_profile's cpu.json)."""

    name: str  # its file name
    rows: list[dict]
    environment: dict | None  # its own environment block (machine, Python, date), when it records one
    digest: str  # the file's sha256


def measurement(run_dir: Path, name: str) -> Measurement | None:
    """NAME's rows and environment from `run_dir`, None without the file; ReportError when it is not one."""
    path = run_dir / name
    if not path.is_file():
        return None
    raw = path.read_bytes()
    try:
        found = json.loads(raw)
        rows = found["rows"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ReportError(f"{path} is not a measurement's JSON (no list of rows): {exc}") from exc
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise ReportError(f"{path}: its rows are not a list of objects")
    env = found.get("environment")
    return Measurement(name, rows, env if isinstance(env, dict) and env else None, hashlib.sha256(raw).hexdigest())


def measured_provenance(tool: str, found: Measurement, run_env: Mapping[str, Any] | None) -> str:
    """Where a measurement's figures came from: the tool, and the machine, Python and date from its own
    environment block, else from the run's results.json beside it (and it says so), else that none is recorded."""
    if found.environment:
        return f"{tool}. Measured on {measured_on(found.environment)}."
    if run_env:
        return (f"{tool}. Measured on {measured_on(run_env)} (from the run's results.json: {found.name} records no "
                "machine, Python or date of its own).")
    return (f"{tool}. Machine, Python version and date not recorded: {found.name} holds none and no results.json "
            "lies beside it.")


def rounds_method(plan: Mapping[str, Any]) -> str:
    """How compare's quick profile took its figures, from the run's own plan."""
    return (f"One server per variant, all pinned to one CPU, the load generators on the other. Per scenario, Locust "
            f"paces every server at the same time at {plan['rate']} req/s each ({plan['locust_users']} users each): "
            f"CPU per request and latency in {plan['windows']} windows of {plan['window_s']:g} s, so a drift in the "
            f"machine's speed hits them alike. {capacity_method(plan)} Each ratio is paired within its window or "
            f"round; one warm-up of each is not counted.")


def capacity_method(plan: Mapping[str, Any]) -> str:
    """compare's wrk pass in words: in turns on the core (since the turns), or one server after the other."""
    if "turn_s" not in plan:
        return (f"Then wrk ({plan['wrk_connections']} connections, {plan['wrk_s']} s) saturates each server's core in "
                f"turn, {plan['rounds']} rounds, the order rotated every round: requests/s on one server core.")
    return (f"Then a wrk per server ({plan['wrk_connections']} connections each) saturates every server at once while "
            f"the servers take turns of {plan['turn_s'] * 1000:.0f} ms on their core, {plan['share_s']:g} s each per "
            f"round, {plan['rounds']} rounds, the order rotated every round: requests per server CPU-second, what one "
            f"core serves when kept busy.")


def scenarios(entries: list[Entry]) -> list[str]:
    """Scenario names in the order they first appear."""
    return list(dict.fromkeys(entry.scenario for entry in entries))


def combos(entries: list[Entry]) -> list[tuple[str, str]]:
    """(layer, model) pairs in the order they first appear."""
    return list(dict.fromkeys((entry.layer, entry.model) for entry in entries))


def knobs(entries: list[Entry]) -> list[str]:
    """The knobs of these entries in the matrix's order; ["default"] for results from before the matrix."""
    return in_order([entry.knob for entry in entries])


def several_knobs(entries: list[Entry]) -> bool:
    return len(knobs(entries)) > 1


def baseline(entries: list[Entry]) -> list[Entry]:
    """The entries of the first knob (default when it ran): what the charts of BENCH §3 and the verdict show."""
    first = knobs(entries)[0] if entries else None
    return [entry for entry in entries if entry.knob == first]


def series(entries: list[Entry], scenario: str, load_axis: Axis) -> dict[tuple[str, str], list[Entry]]:
    """For one scenario: (layer, model) -> its summary entries sorted by load."""
    result: dict[tuple[str, str], list[Entry]] = {}
    for entry in entries:
        if entry.scenario == scenario:
            result.setdefault((entry.layer, entry.model), []).append(entry)
    return {key: sorted(group, key=load_axis.x) for key, group in result.items()}


def levels(entries: list[Entry], load_axis: Axis) -> list[float]:
    return sorted({load_axis.x(entry) for entry in entries})


def number(value: float | None, kind: str) -> str:
    """A figure as text, with the precision its kind deserves; an em dash when missing."""
    if value is None:
        return "—"
    if kind == "percent":
        value = 100 * value
    if kind in ("ms", "percent") and abs(value) < 10:
        return f"{value:.2f}"
    if abs(value) < 100 and kind != "rate":
        return f"{value:.1f}"
    return f"{value:,.0f}".replace(",", " ")


def spread(entry: Entry | None, key: str, kind: str) -> str:
    """"median (min–max)", or just the median when the repeats agree or there is one; a dash without the entry."""
    median, low, high = (entry.stat(key, which) if entry else None for which in ("median", "min", "max"))
    text = number(median, kind)
    if median is None or low == high or low is None:
        return text
    return f"{text} ({number(low, kind)}–{number(high, kind)})"
