"""The benchmark runner (BENCH §2): servers and Locust as separate processes, measured from the OS.

For each layer x model x knob x level x repeat: start the server (with the knob's
flags and --server-args) pinned to its own CPU,
wait for `listening on`, warm it up, run Locust headless on the other CPUs,
SIGTERM the server, read CPU and peak RSS with wait4. This process never imports
locust (it would monkey-patch this process) and serves nothing.
"""

import http.client
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import IO, Any, TypedDict, TypeVar, cast

from hdrh.histogram import HdrHistogram

from . import measure, wrk
from .catalog import EVENT_LOOP_VARIANTS
from .classify import bound_by
from .knobs import DEFAULT, applies, flags, module
from .process import ServerProcess, free_port, layer_command
from .results import Results, Run, environment, utc_now, write_results
from .scenarios import RATE_ENV, RECORD_ENV, SCENARIOS

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
ROOT = LOCUSTFILE.parent.parent
T = TypeVar("T")
PER_USER_RPS = 50  # fixed-rate runs: one Locust user paces itself to at most this many requests/s
CALIBRATION_TARGET = EVENT_LOOP_VARIANTS[0]  # the catalog's first event-loop variant: the cheapest target it has
WARMUP_PATHS = ["/plaintext", "/", "/test.jpg", "/messages?limit=20"]


@dataclass(frozen=True)
class Level:
    """One load level: a user count (capacity) or a request rate with the users to carry it."""

    users: int
    rate: int | None = None

    @staticmethod
    def for_rate(rate: int) -> "Level":
        return Level(max(1, math.ceil(rate / PER_USER_RPS)), rate)


@dataclass
class Plan:
    layers: list[str]
    models: list[str]
    scenario: str
    levels: list[Level]
    duration_s: float
    repeat: int
    out: Path
    locust_workers: int = 0
    expect_workers: int = 0
    warmup_s: float = 1.0
    master_port: int = 5557  # where workers started elsewhere connect (--expect-workers)
    cross_check: str | None = None  # "wrk": after Locust, wrk against the same server (BENCH §2, reference)
    server_args: list[str] = field(default_factory=list)  # knobs for every server, e.g. --no-nodelay
    target: str | None = None  # an already running server (no CPU figures), instead of starting layers
    combos: list[tuple[str, str]] = field(default_factory=list)
    knobs: list[str] = field(default_factory=lambda: [DEFAULT])  # bench/knobs.py: each adds its flags to server_args

    def runs(self) -> list[tuple[str, str, str, Level, int]]:
        """(layer, model, knob, level, repeat) in the order they run: repeat r is a round over every layer/model,
        in an order rotated by r-1 (A B C, B C A, ...), so a drift in the machine's speed hits them alike."""
        return [(layer, model, knob, level, r) for r in range(1, self.repeat + 1)
                for layer, model in rotated(self.combos, r) for knob in self.knobs if applies(knob, layer)
                for level in self.levels]


def rotated(items: list[T], round_no: int) -> list[T]:
    """Round 1: A B C; round 2: B C A; round 3: C A B; ..."""
    shift = (round_no - 1) % len(items) if items else 0
    return items[shift:] + items[:shift]


class Server(ServerProcess):
    """One layer's server process on a free loopback port, pinned, its stderr kept; ready when made."""

    def __init__(self, layer: str, model: str, folder: Path, cpus: set[int] | None, args: Sequence[str] = ()) -> None:
        super().__init__(layer_command(module(layer), model, folder / "data", args), folder / "server.stderr",
                         name=f"{layer}/{model}", cpus=cpus)
        self.wait_ready()


def warm_up(url: str, seconds: float) -> None:
    """Requests from a plain stdlib client, so the first measured ones find a warm server."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    deadline = time.monotonic() + seconds
    connection = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=10)
    try:
        while time.monotonic() < deadline:
            for path in WARMUP_PATHS:
                connection.request("GET", path)
                connection.getresponse().read()
    finally:
        connection.close()


def locust_command(plan: Plan, level: Level, url: str, csv_prefix: Path, role: list[str]) -> list[str]:
    user_class = SCENARIOS[plan.scenario][0]
    return [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", url,
        "--users", str(level.users), "--spawn-rate", str(level.users), "--run-time", f"{plan.duration_s:g}s",
        "--csv", str(csv_prefix), "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "2",
        *role, user_class,
    ]


def run_locust(plan: Plan, level: Level, url: str, csv_prefix: Path, cpus: set[int] | None,
               env_extra: dict | None = None) -> dict:
    """Locust headless (standalone, or a master with workers); its figures and its own CPU use."""
    record_dir = Path(tempfile.mkdtemp(prefix="locust-record-"))
    env = {**os.environ, RECORD_ENV: str(record_dir), **(env_extra or {})}
    if level.rate:
        env[RATE_ENV] = str(level.rate / level.users)
    workers = plan.locust_workers or plan.expect_workers
    master_port = plan.master_port if plan.expect_workers else free_port()
    role = ["--master", "--expect-workers", str(workers), "--master-bind-port", str(master_port),
            "--expect-workers-max-wait", "120"] if workers else []
    started = time.monotonic()
    processes = [popen(locust_command(plan, level, url, csv_prefix, role), env, cpus)]
    for _ in range(plan.locust_workers):
        worker = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker", "--master-port", str(master_port),
                  "--loglevel", "WARNING"]
        processes.append(popen(worker, env, cpus))
    usages = [measure.wait(p) for p in processes]
    wall = time.monotonic() - started
    record = read_record(record_dir)
    shutil.rmtree(record_dir, ignore_errors=True)
    loaders = usages[1:] if plan.locust_workers else usages[:1]
    return {
        **record,
        # workers started elsewhere are not ours to measure: then only the ceiling can flag the harness
        "locust_cpu_pct": None if plan.expect_workers else round(max(100 * u.cpu_s / wall for u in loaders), 1),
        "stderr": cast(IO[bytes], processes[0].stderr).read().decode(errors="replace")[-2000:],  # a PIPE: popen()
    }


def popen(command: list[str], env: dict, cpus: set[int] | None) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, preexec_fn=measure.pinned(cpus))


def read_record(folder: Path) -> dict:
    """The counts and the HDR histogram that Locust (the master, or the one process) wrote; a shared
    run's windows too ((target, window) -> counts and histogram) and when window 0 started."""
    histogram, requests, failures, windows, start = decoded(), 0, 0, {}, None
    for path in folder.glob("record-*.json"):
        record = json.loads(path.read_text())
        histogram.decode_and_add(record["histogram"])
        requests, failures = requests + record["requests"], failures + record["failures"]
        windows.update({tuple(map(int, key.split())): {**counts, "histogram": decoded(counts["histogram"])}
                        for key, counts in record.get("windows", {}).items()})
        start = record.get("start") or start
    return {"histogram": histogram, "requests": requests, "failures": failures, "windows": windows, "start": start}


def decoded(*encoded: str) -> HdrHistogram:
    """An HDR histogram of Locust's range (1 µs .. 60 s, 3 digits) holding the `encoded` ones."""
    histogram = HdrHistogram(1, 60_000_000, 3)
    for one in encoded:
        histogram.decode_and_add(one)
    return histogram


def measure_run(plan: Plan, layer: str, model: str, knob: str, level: Level, repeat: int,
                ceiling: float | None) -> Run:
    """One run, whatever happens: a server that fails is recorded, not raised."""
    server_args = flags(knob) + plan.server_args
    head = Head(layer=layer, model=model, knob=knob, scenario=plan.scenario, users=level.users, rate=level.rate,
                repeat=repeat, duration_s=plan.duration_s, server_args=" ".join(server_args))
    run_id = run_name(plan, layer, model, knob, level, repeat)
    server_cpus, locust_cpus = measure.cpu_split()
    server = None
    cross: dict[str, Any] = {}
    try:
        if plan.target:
            url = plan.target
        else:
            server = Server(layer, model, plan.out / "servers" / run_id, server_cpus, server_args)
            url = server.url
        warm_up(url, plan.warmup_s)
        cpu_start = measure.cpu_so_far(server.process.pid) if server else 0.0  # read only with a server
        load = run_locust(plan, level, url, plan.out / "locust" / run_id, locust_cpus)
        died = server is not None and measure.exited(server.process)
        cpu_end = None
        if plan.cross_check == "wrk" and not died:
            cpu_end = settled_cpu(server)  # Locust's share ends here; wrk's load comes after
            cross = wrk.cross_check(url, server.process.pid if server else None, plan.duration_s, locust_cpus,
                                    scenario=plan.scenario)
        usage = server.stop() if server else None
    except (RuntimeError, OSError, http.client.HTTPException) as exc:
        usage = server.stop() if server else None
        return Run(**head, status="failed", error=str(exc)[:500], server_exit=usage.status if usage else None,
                   stderr_tail=server.stderr_tail() if server else "")
    measured = figures(load, plan.duration_s)
    served = server_figures(usage, cpu_start, cpu_end, measured, plan.duration_s) if usage else ServerFigures()
    bound = bound_by(measured["rps"], ceiling, measured["locust_cpu_pct"] or 0.0, served.get("server_cpu_pct") or 0.0)
    run = Run(**head, **cross, **measured, **served, bound_by=bound)
    failure = failure_of(measured, load["stderr"], server, usage, died)
    return replace(run, **failure) if failure else run


def run_name(plan: Plan, layer: str, model: str, knob: str, level: Level, repeat: int) -> str:
    """The run's folder under servers/ and its CSV prefix under locust/; the default knob is left out."""
    rate = f"-r{level.rate}" if level.rate else ""
    knob_part = f"-{knob}" if knob != DEFAULT else ""
    return f"{layer}-{model}-{plan.scenario}-u{level.users}{rate}{knob_part}-{repeat}"


class Head(TypedDict):
    """What a run is: its variant, knob, scenario, level and repeat (a Run's keywords)."""

    layer: str
    model: str
    knob: str
    scenario: str
    users: int
    rate: int | None
    repeat: int
    duration_s: float
    server_args: str


class LocustFigures(TypedDict):
    """Locust's figures of a run (a Run's keywords): counts, throughput, latency percentiles, its own CPU."""

    status: str
    requests: int
    failures: int
    rps: float
    fail_ratio: float | None
    failures_per_s: float
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    latency_samples: int
    locust_cpu_pct: float | None


class ServerFigures(TypedDict, total=False):
    """The server's figures of a run (a Run's keywords); none when the run had no server of ours (--target)."""

    server_cpu_s: float
    server_cpu_pct: float
    cpu_us_per_req: float | None
    server_peak_rss_mb: float
    server_exit: int


class Failure(TypedDict, total=False):
    """Why a run failed (a Run's keywords)."""

    status: str
    error: str
    stderr_tail: str
    locust_stderr: str


def figures(load: dict, duration_s: float) -> LocustFigures:
    """Locust's figures of a run from what it recorded (read_record) and its CPU."""
    histogram, requests, failures = load["histogram"], load["requests"], load["failures"]
    count = histogram.get_total_count()

    def ms(value: float) -> float | None:
        return round(value / 1000, 2) if count else None

    return {
        "status": "ok",
        "requests": requests,
        "failures": failures,
        "rps": round((requests - failures) / duration_s, 1),  # a wrong answer is no throughput
        "fail_ratio": round(failures / requests, 4) if requests else None,
        "failures_per_s": round(failures / duration_s, 1),
        "p50_ms": ms(histogram.get_value_at_percentile(50)),
        "p90_ms": ms(histogram.get_value_at_percentile(90)),
        "p99_ms": ms(histogram.get_value_at_percentile(99)),
        "max_ms": ms(histogram.get_max_value()),
        "latency_samples": count,
        "locust_cpu_pct": load["locust_cpu_pct"],
    }


def settled_cpu(server: "Server | None") -> float | None:
    """The server's CPU so far, once forked children of the finished run have been reaped (the accept loop
    reaps every 0.5 s); with wait4 at the end this is only needed when more load follows."""
    if server is None:
        return None
    time.sleep(1.0)
    return measure.cpu_so_far(server.process.pid)


def server_figures(usage: measure.Usage, cpu_start: float, cpu_end: float | None, measured: LocustFigures,
                   duration_s: float) -> ServerFigures:
    """The server's figures of a run: its CPU (up to `cpu_end` when more load followed), peak RSS and exit status."""
    cpu_s = round((usage.cpu_s if cpu_end is None else cpu_end) - cpu_start, 3)
    served = measured["requests"] - measured["failures"]
    return {
        "server_cpu_s": cpu_s,
        "server_cpu_pct": round(100 * cpu_s / duration_s, 1),
        "cpu_us_per_req": round(1e6 * cpu_s / served, 1) if served else None,
        "server_peak_rss_mb": round(usage.peak_rss_mb, 1),
        "server_exit": usage.status,
    }


def failure_of(measured: LocustFigures, locust_stderr: str, server: Server | None, usage: measure.Usage | None,
               died: bool) -> Failure:
    """Why a measured run failed, {} when it did not: Locust completed no request, or the server died or exited
    badly (its error and stderr then, Locust's stderr kept)."""
    locust: Failure = {} if measured["requests"] else {"status": "failed", "error": "Locust completed no request",
                                                       "locust_stderr": locust_stderr}
    if server is None or not (died or usage is None or usage.status != 0):
        return locust
    status = usage.status if usage else "unknown"  # None: reaped before stop() could read it
    return {**locust, "status": "failed", "error": f"server exited with {status} during the run",
            "stderr_tail": server.stderr_tail()}


def calibrate(plan: Plan) -> dict:
    """The harness's own ceiling: capacity plaintext against the cheapest target, same worker count."""
    users = max(level.users for level in plan.levels)
    probe = Plan(layers=[], models=[], scenario="plaintext", levels=[Level(users)],
                 duration_s=min(plan.duration_s, 5.0), repeat=1, out=plan.out / "calibration",
                 locust_workers=plan.locust_workers, expect_workers=plan.expect_workers, warmup_s=plan.warmup_s)
    run = measure_run(probe, *CALIBRATION_TARGET, DEFAULT, Level(users), 1, None)
    keys = ("status", "users", "rps", "locust_cpu_pct", "server_cpu_pct", "bound_by", "duration_s", "error")
    return {"target": "/".join(CALIBRATION_TARGET), "scenario": "plaintext",
            "workers": plan.locust_workers or plan.expect_workers, **{k: getattr(run, k) for k in keys}}


def execute(plan: Plan, progress) -> Results:
    """Calibrate, run every layer x model x knob x level x repeat, write results.json; return it."""
    plan.out.mkdir(parents=True, exist_ok=True)
    results = Results(environment(), plan_summary(plan), None)
    progress.start(len(plan.runs()) + 1, plan.duration_s + plan.warmup_s + 3)
    progress.step("calibration: harness ceiling")
    calibration = calibrate(plan)
    results = replace(results, calibration=calibration)
    ceiling = calibration.get("rps") if calibration["status"] == "ok" else None
    for layer, model, knob, level, repeat in plan.runs():
        progress.step(f"{layer}/{model}" + (f" [{knob}]" if knob != DEFAULT else "") + f" {plan.scenario} "
                      f"users={level.users}" + (f" rate={level.rate}" if level.rate else "") + f" #{repeat}")
        results = replace(results, runs=(*results.runs, measure_run(plan, layer, model, knob, level, repeat, ceiling)))
        write(plan.out, results)
    return finish(plan.out, results, progress)


def finish(out: Path, results: Results, progress) -> Results:
    """The summary over repeats and the finishing time, written; the progress bar closed."""
    results = replace(results.summarised(), environment={**results.environment, "finished": utc_now()})
    write(out, results)
    progress.finish()
    return results


def plan_summary(plan: Plan) -> dict:
    summary = asdict(plan)
    summary["out"] = str(plan.out)
    return summary


def write(out: Path, results: Results) -> None:
    """OUT/results.json (bench.results' one writer)."""
    write_results(out / "results.json", results)
