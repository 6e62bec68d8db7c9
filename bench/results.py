"""results.json's records, and the helpers that write them: the environment block, the per-level summary.

The one schema of a summary entry (variant x scenario x level, each figure's median, min and max over
the repeats): `Entry`, made from the runs by summarise() and read back from results.json by
Entry.from_json(); FIGURES is the one list of the figures a run records and a summary keeps.
Nothing here draws, formats for a reader or runs a server.
"""

import importlib.metadata
import os
import platform
import statistics
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from .knobs import knob_of

LOCUST, WRK = "locust", "wrk"  # the load generators a run can have
LG = "load-generator"  # a run's bound_by when the load generator, not the server, set its pace


def load_of(record: dict) -> str:
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
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def entries(runs: list[dict]) -> list[Entry]:
    """Median, min and max of every figure over the repeats (or rounds) of each layer/model/knob/load/scenario/level.

    Runs from before the knob matrix have no knob: they are the default knob's; runs without a `load`
    are Locust's (compare's wrk passes say "wrk")."""
    groups: dict[tuple, list[dict]] = {}
    for run in runs:
        key = (run["layer"], run["model"], knob_of(run), load_of(run), run["scenario"], run.get("users"),
               run.get("rate"))
        groups.setdefault(key, []).append(run)
    return [entry(key, members) for key, members in groups.items()]


def entry(key: tuple, members: list[dict]) -> Entry:
    """The entry of one group of runs (key: layer, model, knob, load, scenario, users, rate)."""
    ok = [run for run in members if run.get("status") == "ok"]
    figures = {}
    for figure in FIGURES:
        values = [run[figure.key] for run in ok if run.get(figure.key) is not None]
        figures[figure.key] = Stat.of(values) if values else None
    return Entry(*key, repeats=len(members), ok=len(ok), bound_by=tuple(sorted({run["bound_by"] for run in ok})),
                 figures=figures)


def summarise(runs: list[dict]) -> list[dict]:
    """The summary as results.json keeps it: entries() in their JSON form."""
    return [one.to_json() for one in entries(runs)]


def read_summary(results: Mapping[str, Any]) -> list[Entry]:
    """The summary entries of a parsed results.json; computed from its runs when it has none (a run cut short)."""
    stored = results.get("summary")
    if stored:
        return [Entry.from_json(found) for found in stored]
    return entries([run for run in results["runs"] if "layer" in run])
