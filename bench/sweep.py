"""Cost against load (BENCH §5): CPU per request and latency from a light fixed rate up to saturation.

    python -m bench.sweep [--rates 25,100,400,1600] [--duration 3s] [--out DIR]     (make sweep)

For each scenario wrk can drive too (plaintext, page), the bench's own runs (bench.runner): every
layer's default model and every event-loop model, one server at a time on its own core, a fresh
server per run; Locust at each fixed rate (Poisson arrivals: bound by pacing while the server keeps
up), then wrk against the same server in a closed loop over 50 keep-alive connections: the
saturation point. Every run's figures go into OUT/sweep.json (the bench's results.json format,
plan kind "sweep"); beside a compare run's results.json, `server-layers report` draws it as the
cost-against-load section. It measures nothing itself, never imports locust and serves nothing.
Exit status: 0; 1 when a run failed (sweep.json records it); 2 on bad flags.
"""

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from oneline import OneLineParser, fail

from . import wrk
from .catalog import MEASURED_VARIANTS
from .cli import Progress, duration, make_plan, positive_ints, variant_flags
from .results import Results, write_results
from .runner import execute

SWEEP_FILE = "sweep.json"
SCENARIOS = list(wrk.PATHS)
RATES = [25, 100, 400, 1600]  # requests/s per server: from a trickle to well inside Locust's calibrated ceiling


def bench_args(scenario: str, rates: list[int], seconds: float, folder: Path) -> list[str]:
    """The bench's flags for one scenario of the sweep."""
    return [*variant_flags(MEASURED_VARIANTS), "--scenario", scenario,
            "--rates", ",".join(map(str, rates)), "--duration", f"{seconds:g}s", "--cross-check", "wrk",
            "--out", str(folder)]


def merged(parts: list[Results], rates: list[int], seconds: float) -> Results:
    """The scenarios' bench runs as one file: the chosen variants' runs, the first part's environment."""
    chosen = {f"{layer}/{model}" for layer, model in MEASURED_VARIANTS}
    runs = tuple(run for part in parts for run in part.runs if run.variant in chosen)
    plan = {"kind": "sweep", "scenarios": SCENARIOS, "rates": rates, "duration_s": seconds, "repeat": 1,
            "variants": [f"{layer}/{model}" for layer, model in MEASURED_VARIANTS], "wrk_connections": 50}
    environment = {**parts[0].environment, "finished": parts[-1].environment.get("finished")}
    return Results(environment, plan, parts[0].calibration, runs).summarised()


def parser() -> OneLineParser:
    p = OneLineParser(prog="server-layers sweep", description=__doc__.split("\n\n")[0])
    p.add_argument("--rates", type=positive_ints, default=RATES, help="Locust's fixed rates, requests/s per server "
                   f"(default {','.join(map(str, RATES))}); wrk's closed loop comes after each")
    p.add_argument("--duration", type=duration, default=3.0, help="each Locust run and each wrk run (default 3s)")
    p.add_argument("--out", type=Path, help="output folder, e.g. a compare run's (default results/sweep-<UTC stamp>)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    out = args.out or Path("results") / datetime.now(UTC).strftime("sweep-%Y%m%dT%H%M%SZ")
    if out.exists() and not out.is_dir():
        fail(f"server-layers sweep: {out} is not a folder")
    if (out / SWEEP_FILE).exists():
        fail(f"server-layers sweep: {out / SWEEP_FILE} exists (choose another --out)")
    if not wrk.available():
        fail("server-layers sweep: the saturation point needs wrk (apt-get install wrk)")
    started, parts = time.monotonic(), []
    for scenario in SCENARIOS:
        print(f"[{time.monotonic() - started:5.0f} s] sweep: {scenario}, {len(MEASURED_VARIANTS)} variants x "
              f"{len(args.rates)} rates, then wrk", file=sys.stderr, flush=True)
        plan = make_plan(bench_args(scenario, args.rates, args.duration, out / "sweep" / scenario))
        parts.append(execute(plan, Progress()))
    results = merged(parts, args.rates, args.duration)
    write_results(out / SWEEP_FILE, results)
    failed = results.failed_runs()
    print(f"[{time.monotonic() - started:5.0f} s] {len(results.runs)} runs, {len(failed)} failed",
          file=sys.stderr, flush=True)
    print(out / SWEEP_FILE)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
