"""results.json's records, and the helpers that write them: the environment block, the per-level summary.

The one schema of a run (`Run`: one layer/model, scenario, level and repeat or round, its figures or why it
failed), of a summary entry (`Entry`: variant x scenario x level, each figure's median, min and max over the
repeats, made from the runs by entries()) and of the whole document (`Results`); each is read from results.json
by its from_json() and written by its to_json(), the file by read_results() and write_results() alone.
FIGURES is the one list of the figures a run records and a summary keeps.
Nothing here draws, formats for a reader or runs a server.
"""

import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .knobs import DEFAULT, knob_of

LOCUST, WRK = "locust", "wrk"  # the load generators a run can have
LG = "load-generator"  # a run's bound_by when the load generator, not the server, set its pace


def load_of(record: Mapping[str, Any]) -> str:
    """The load generator of a run or summary entry; runs from before compare's wrk passes are Locust's."""
    return record.get("load") or LOCUST



@dataclass(frozen=True)
class Figure:
    """One figure of a run: its key in results.json, and how the report's table shows it."""

    key: str
    title: str
    unit: str
    kind: str  # how reports.data.number formats it
    shown: str = "always"  # "always": a column of the table; "cross-check": when any entry has it; "": never


FIGURES = (  # every figure a run records and a summary entry keeps, in the order of the report's table
    Figure("rps", "throughput", "req/s", "rate"),
    Figure("req_per_cpu_s", "requests per CPU-second", "req/CPU-s", "rate"),
    Figure("fail_ratio", "failures", "%", "percent"),
    Figure("p50_ms", "p50", "ms", "ms"),
    Figure("p90_ms", "p90", "ms", "ms"),
    Figure("p99_ms", "p99", "ms", "ms"),
    Figure("max_ms", "max", "ms", "ms"),
    Figure("cpu_us_per_req", "CPU per request", "µs", "us"),
    Figure("server_cpu_pct", "server CPU", "%", "pct"),
    Figure("server_peak_rss_mb", "peak RSS", "MB", "mb"),
    Figure("locust_cpu_pct", "Locust CPU", "%", "pct"),
    Figure("server_cpu_s", "server CPU time", "s", "s", ""),
    Figure("wrk_rps", "wrk throughput", "req/s", "rate", "cross-check"),  # only in runs made with --cross-check wrk
    Figure("wrk_cpu_us_per_req", "CPU per request under wrk", "µs", "us", "cross-check"),
    Figure("wrk_p50_ms", "wrk p50", "ms", "ms", ""),
    Figure("wrk_p99_ms", "wrk p99", "ms", "ms", ""),
)
FIGURE = {figure.key: figure for figure in FIGURES}
ROOT = Path(__file__).resolve().parent.parent


def environment() -> dict:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpus": os.cpu_count(),
        "locust": importlib.metadata.version("locust"),
        "git_commit": git_commit(),
        "started": utc_now(),
        "finished": None,
    }


def cpu_model() -> str | None:
    """The CPU's model name as the kernel reports it (Linux), or None."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or None
    names = [line.partition(":")[2].strip() for line in text.splitlines() if line.startswith("model name")]
    return names[0] if names else platform.processor() or None


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def git_commit() -> str | None:
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5)
    except OSError:
        return None
    return result.stdout.strip() or None


@dataclass(frozen=True)
class Stat:
    """A figure over the repeats of one level: median, min and max (min and max may be missing in old files)."""

    median: float | None
    min: float | None = None
    max: float | None = None

    @staticmethod
    def of(values: list[float]) -> "Stat":
        return Stat(statistics.median(values), min(values), max(values))

    @staticmethod
    def from_json(found: object) -> "Stat | None":
        """{"median", "min", "max"} as results.json holds it; None for a missing figure."""
        if not isinstance(found, dict):
            return None
        return Stat(found.get("median"), found.get("min"), found.get("max"))

    def to_json(self) -> dict:
        return {"median": self.median, "min": self.min, "max": self.max}


@dataclass(frozen=True)
class Entry:
    """One summary entry: a layer/model under one knob and load generator, on one scenario at one level."""

    layer: str
    model: str
    knob: str
    load: str
    scenario: str
    users: int | None
    rate: int | None
    repeats: int
    ok: int
    bound_by: tuple[str, ...]
    figures: Mapping[str, Stat | None]

    @property
    def variant(self) -> str:
        return f"{self.layer}/{self.model}"

    def stat(self, key: str, which: str = "median") -> float | None:
        """One statistic ("median", "min" or "max") of a figure, None when missing."""
        figure = self.figures.get(key)
        return getattr(figure, which) if figure is not None else None

    def has(self, key: str) -> bool:
        """Did any completed repeat record this figure?"""
        return self.figures.get(key) is not None

    def bounds(self, key: str, scale: float = 1.0) -> tuple[float, float, float] | None:
        """(median, min, max) of a figure times `scale`; min and max fall back to the median; None if missing."""
        median, low, high = (self.stat(key, which) for which in ("median", "min", "max"))
        if median is None:
            return None
        return median * scale, (median if low is None else low) * scale, (median if high is None else high) * scale

    def bound_by_lg(self) -> bool:
        """Was any completed repeat of this level bound by the load generator?"""
        return LG in self.bound_by

    @staticmethod
    def from_json(found: Mapping[str, Any]) -> "Entry":
        """An entry as results.json holds it; entries from before the knob matrix or compare's wrk passes have no
        knob (default) or load (Locust)."""
        return Entry(found["layer"], found["model"], knob_of(found), load_of(found), found["scenario"],
                     found.get("users"), found.get("rate"), found.get("repeats", 0), found.get("ok", 0),
                     tuple(found.get("bound_by") or ()),
                     {figure.key: Stat.from_json(found.get(figure.key)) for figure in FIGURES})

    def to_json(self) -> dict:
        head = {"layer": self.layer, "model": self.model, "knob": self.knob, "load": self.load,
                "scenario": self.scenario, "users": self.users, "rate": self.rate, "repeats": self.repeats,
                "ok": self.ok, "bound_by": list(self.bound_by)}
        return head | {key: stat.to_json() if stat else None for key, stat in self.figures.items()}


GroupKey = tuple[str, str, str, str, str, int | None, int | None]  # layer, model, knob, load, scenario, users, rate


def entries(runs: "Iterable[Run]") -> list[Entry]:
    """Median, min and max of every figure over the repeats (or rounds) of each layer/model/knob/load/scenario/level.

    Runs from before the knob matrix have no knob: they are the default knob's; runs without a `load`
    are Locust's (compare's wrk passes say "wrk")."""
    groups: dict[GroupKey, list[Run]] = {}
    for run in runs:
        key = (run.layer, run.model, run.knob, run.generator, run.scenario, run.users, run.rate)
        groups.setdefault(key, []).append(run)
    return [entry(key, members) for key, members in groups.items()]


def entry(key: "GroupKey", members: "list[Run]") -> Entry:
    """The entry of one group of runs (key: layer, model, knob, load, scenario, users, rate)."""
    ok = [run for run in members if run.ok]
    figures: dict[str, Stat | None] = {}
    for figure in FIGURES:
        values = [value for run in ok if (value := run.figure(figure.key)) is not None]
        figures[figure.key] = Stat.of(values) if values else None
    return Entry(*key, repeats=len(members), ok=len(ok),
                 bound_by=tuple(sorted({run.bound_by for run in ok if run.bound_by is not None})), figures=figures)


def summarise(runs: "Iterable[Run]") -> list[dict]:
    """The summary as results.json keeps it: entries() in their JSON form."""
    return [one.to_json() for one in entries(runs)]


def read_summary(results: "Results") -> list[Entry]:
    """The summary entries of results.json; computed from its runs when it has none (a run cut short)."""
    return list(results.summary) if results.summary else entries(results.runs)


# --- a run, and the results.json that holds them ------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One run of results.json: a layer/model under one knob and load generator, on one scenario at one level,
    in one repeat (bench.runner) or round (bench.rounds); its figures, or why it failed. A figure the run did not
    record is None. Runs from before the knob matrix have the default knob; runs without a `load` are Locust's."""

    layer: str
    model: str
    scenario: str
    status: str | None = None  # "ok" or "failed"
    knob: str = DEFAULT
    load: str | None = None  # LOCUST or WRK in compare's rounds; None in the bench's own runs (Locust's)
    server_args: str | None = None
    round: int | None = None
    repeat: int | None = None
    users: int | None = None  # Locust's users, or wrk's connections in compare's capacity rounds
    rate: int | None = None  # the fixed rate (requests/s) of the level, None for capacity levels
    connections: int | None = None
    duration_s: float | None = None
    requests: int | None = None
    failures: int | None = None
    rps: float | None = None
    req_per_cpu_s: float | None = None
    fail_ratio: float | None = None
    failures_per_s: float | None = None
    socket_errors: int | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    latency_samples: int | None = None
    locust_cpu_pct: float | None = None
    load_cpu_pct: float | None = None
    server_cpu_s: float | None = None
    server_cpu_pct: float | None = None
    cpu_us_per_req: float | None = None
    server_peak_rss_mb: float | None = None
    server_exit: int | None = None
    wrk_rps: float | None = None  # wrk_*: the bench's --cross-check wrk, after Locust, against the same server
    wrk_requests: int | None = None
    wrk_non_2xx: int | None = None
    wrk_errors: int | None = None
    wrk_p50_ms: float | None = None
    wrk_p90_ms: float | None = None
    wrk_p99_ms: float | None = None
    wrk_cpu_pct: float | None = None
    wrk_server_cpu_pct: float | None = None
    wrk_cpu_us_per_req: float | None = None
    wrk_connections: int | None = None
    bound_by: str | None = None  # bench.classify: "pacing", "server" or LG
    error: str | None = None
    stderr_tail: str | None = None  # the server's
    locust_stderr: str | None = None

    @property
    def variant(self) -> str:
        return f"{self.layer}/{self.model}"

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def generator(self) -> str:
        """The load generator: LOCUST or WRK (runs without a `load` are Locust's)."""
        return self.load or LOCUST

    def figure(self, key: str) -> float | None:
        """A figure by its key in results.json (FIGURES, or any other of a run's figures), None when not recorded."""
        value: float | None = getattr(self, key)
        return value

    @staticmethod
    def from_json(found: Mapping[str, Any]) -> "Run":
        """A run as results.json holds it; keys absent from older files are None (knob: the default)."""
        known = {name: found[name] for name in RUN_KEYS if name in found}
        return Run(**{**known, "knob": knob_of(found)})

    def to_json(self) -> dict[str, Any]:
        """The run as results.json holds it, in the order its writer always wrote it: a figure that is None is
        left out unless the part it belongs to was recorded (NULL_WITH), where it was always written as null."""
        values = {name: getattr(self, name) for name in RUN_KEYS}
        order = ROUND_ORDER if self.load is not None else BENCH_ORDER
        return {key: values[key] for key in order
                if values[key] is not None or (key in NULL_WITH and values[NULL_WITH[key]] is not None)}


RUN_KEYS = tuple(field.name for field in fields(Run))
BENCH_ORDER = (  # bench.runner's runs: the level, wrk's cross-check, Locust's figures, the server's, the bound
    "layer", "model", "knob", "scenario", "users", "rate", "repeat", "duration_s", "server_args",
    "wrk_rps", "wrk_requests", "wrk_non_2xx", "wrk_errors", "wrk_p50_ms", "wrk_p90_ms", "wrk_p99_ms", "wrk_cpu_pct",
    "wrk_server_cpu_pct", "wrk_cpu_us_per_req", "wrk_connections",
    "status", "requests", "failures", "rps", "fail_ratio", "failures_per_s", "p50_ms", "p90_ms", "p99_ms", "max_ms",
    "latency_samples", "locust_cpu_pct", "error", "locust_stderr", "server_cpu_s", "server_cpu_pct", "cpu_us_per_req",
    "server_peak_rss_mb", "server_exit", "stderr_tail", "bound_by",
    "round", "load", "connections", "req_per_cpu_s", "socket_errors", "load_cpu_pct")
ROUND_ORDER = (  # bench.rounds' records: the head, the level, the figures, the bound, why it failed
    "layer", "model", "knob", "server_args", "round", "repeat", "load", "scenario", "users", "rate", "connections",
    "duration_s", "status", "requests", "failures", "rps", "req_per_cpu_s", "fail_ratio", "failures_per_s",
    "socket_errors", "p50_ms", "p90_ms", "p99_ms", "max_ms", "latency_samples", "locust_cpu_pct", "load_cpu_pct",
    "server_cpu_s", "server_cpu_pct", "cpu_us_per_req", "server_peak_rss_mb", "server_exit",
    *(key for key in BENCH_ORDER if key.startswith("wrk_")), "bound_by", "error", "stderr_tail", "locust_stderr")
NULL_WITH = {  # a key written as null whenever the key it goes with is recorded
    "rate": "users",
    **dict.fromkeys(("fail_ratio", "p50_ms", "p90_ms", "p99_ms", "max_ms", "locust_cpu_pct"), "requests"),
    "req_per_cpu_s": "connections",
    "server_cpu_pct": "server_cpu_s", "cpu_us_per_req": "server_cpu_s",
    **dict.fromkeys((key for key in BENCH_ORDER if key.startswith("wrk_")), "wrk_connections"),
}
assert sorted(BENCH_ORDER) == sorted(RUN_KEYS) == sorted(ROUND_ORDER), "every field of Run in both orders"


@dataclass(frozen=True)
class Results:
    """results.json: where and how it was measured (kept as written), the harness's calibration, every run and
    the summary over their repeats (None until the last run is in)."""

    environment: Mapping[str, Any]
    plan: Mapping[str, Any] | None
    calibration: Mapping[str, Any] | None
    runs: tuple[Run, ...] = ()
    summary: tuple[Entry, ...] | None = None
    stock_differences: Mapping[str, Any] | None = None  # bench-cgi's: what stock does differently
    schema: int = 1

    def ok_runs(self) -> list[Run]:
        return [run for run in self.runs if run.ok]

    def failed_runs(self) -> list[Run]:
        return [run for run in self.runs if not run.ok]

    def summarised(self) -> "Results":
        """These results with their summary over the runs."""
        return replace(self, summary=tuple(entries(self.runs)))

    @staticmethod
    def from_json(found: Mapping[str, Any]) -> "Results":
        """results.json as parsed; runs without a layer (another tool's) are left out."""
        summary = found.get("summary")
        return Results(found.get("environment") or {}, found.get("plan"), found.get("calibration"),
                       tuple(Run.from_json(run) for run in found.get("runs") or () if "layer" in run),
                       tuple(Entry.from_json(entry) for entry in summary) if summary else None,
                       found.get("stock_differences"), found.get("schema", 1))

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"schema": self.schema, "environment": self.environment, "plan": self.plan,
                                    "calibration": self.calibration, "runs": [run.to_json() for run in self.runs]}
        if self.summary is not None:
            document["summary"] = [entry.to_json() for entry in self.summary]
        if self.stock_differences is not None:
            document["stock_differences"] = self.stock_differences
        return document


def read_results(path: Path) -> Results:
    """A results.json as written by write_results (ValueError when it is not JSON)."""
    return Results.from_json(json.loads(path.read_text(encoding="utf-8")))


def write_results(path: Path, results: Results) -> None:
    """results.json at `path`, replaced whole (a reader never sees half a file)."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(results.to_json(), indent=2, default=str))
    temporary.replace(path)
