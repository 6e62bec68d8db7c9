"""results.json helpers: the environment block and the per-level summary over repeats."""

import importlib.metadata
import os
import platform
import statistics
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from .knobs import knob_of

LOCUST, WRK = "locust", "wrk"  # the load generators a run can have


def load_of(record: dict) -> str:
    """The load generator of a run or summary entry; runs from before compare's wrk passes are Locust's."""
    return record.get("load") or LOCUST

FIGURES = ["rps", "req_per_cpu_s", "fail_ratio", "p50_ms", "p90_ms", "p99_ms", "max_ms", "server_cpu_s", "cpu_us_per_req",
           "server_peak_rss_mb", "locust_cpu_pct", "server_cpu_pct", "wrk_rps", "wrk_cpu_us_per_req", "wrk_p50_ms", "wrk_p99_ms"]
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


def summarise(runs: list[dict]) -> list[dict]:
    """Median, min and max of every figure over the repeats (or rounds) of each layer/model/knob/load/scenario/level.

    Runs from before the knob matrix have no knob: they are the default knob's; runs without a `load`
    are Locust's (compare's wrk passes say "wrk")."""
    groups: dict[tuple, list[dict]] = {}
    for run in runs:
        key = (run["layer"], run["model"], knob_of(run), load_of(run), run["scenario"], run.get("users"),
               run.get("rate"))
        groups.setdefault(key, []).append(run)
    summary = []
    for (layer, model, knob, load, scenario, users, rate), members in groups.items():
        ok = [run for run in members if run.get("status") == "ok"]
        entry = {"layer": layer, "model": model, "knob": knob, "load": load, "scenario": scenario, "users": users,
                 "rate": rate, "repeats": len(members), "ok": len(ok),
                 "bound_by": sorted({run["bound_by"] for run in ok})}
        for name in FIGURES:
            values = [run[name] for run in ok if run.get(name) is not None]
            entry[name] = (
                {"median": statistics.median(values), "min": min(values), "max": max(values)} if values else None
            )
        summary.append(entry)
    return summary
