"""What a process per request costs: `/plaintext` in-process beside `/cgi-bin/hello.sh` and `/cgi-bin/env.py`.

    python -m server_layers.cgi_cost [--rate 20] [--repeat 3] [--duration 6s] [--out DIR]

The bench's fixed-rate runs (Locust, Poisson arrivals, the same rate for every server, server pinned to one
CPU), once per scenario, on every layer's default model and every event-loop model, and stock
CGIHTTPRequestHandler (bench/stock_cgi.py) on the CGI scenarios. A script's CPU counts: the server
reaps it, so the kernel adds it to the server's children's time, which the bench reads. One
results.json with every scenario's runs and what stock does differently (conformance.cgi_differences);
`server-layers report DIR` draws it, with its CGI section.
"""

import argparse
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from bench.catalog import DEFAULT_MODEL, MEASURED_VARIANTS
from bench.cli import Progress, make_plan, variant_flags
from bench.knobs import STOCK_CGI_LAYER
from bench.results import Results, write_results
from bench.runner import execute
from bench.scenarios import CGI_SCENARIOS
from conformance.cgi_differences import differences
from oneline import OneLineParser

SCENARIOS = ["plaintext", *CGI_SCENARIOS]


def variants() -> list[tuple[str, str]]:
    return list(MEASURED_VARIANTS)


def bench_args(scenario: str, options: argparse.Namespace, folder: Path) -> list[str]:
    stock = [STOCK_CGI_LAYER] if scenario in CGI_SCENARIOS else []
    return [*variant_flags(variants(), stock), "--scenario", scenario,
            "--rates", str(options.rate), "--repeat", str(options.repeat), "--duration", options.duration,
            "--out", str(folder)]


def merged(parts: list[Results], options: argparse.Namespace) -> Results:
    """The scenarios' results as one run: every run and summary entry, the first part's environment."""
    chosen = {f"{layer}/{model}" for layer, model in variants()}
    runs = tuple(run for part in parts for run in part.runs if run.variant in chosen or run.layer == STOCK_CGI_LAYER)
    plan = {"kind": "cgi", "scenarios": SCENARIOS, "rate": options.rate, "repeat": options.repeat,
            "duration": options.duration,
            "variants": [f"{layer}/{model}" for layer, model in variants()] + [f"{STOCK_CGI_LAYER}/threaded"],
            "parts": [part.plan for part in parts]}
    return Results(parts[0].environment, plan, parts[0].calibration, runs).summarised()


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog="python -m server_layers.cgi_cost", description=__doc__.split("\n\n")[0])
    p.add_argument("--rate", type=int, default=20, help="requests/s offered to each server (default 20: env.py "
                   "starts a Python interpreter per request, so its CPU per request is tens of milliseconds)")
    p.add_argument("--repeat", type=int, default=3, help="runs per server and scenario, rotated (default 3)")
    p.add_argument("--duration", default="6s", help="per run (default 6s)")
    p.add_argument("--out", type=Path, help="output folder (default results/cgi-<UTC stamp>)")
    options = p.parse_args(argv)
    out = options.out or Path("results") / datetime.now(UTC).strftime("cgi-%Y%m%dT%H%M%SZ")
    parts = []
    for scenario in SCENARIOS:
        plan = make_plan(bench_args(scenario, options, out / scenario))
        parts.append(execute(plan, Progress()))
    results = merged(parts, options)
    against = next(iter(DEFAULT_MODEL.items()))
    results = replace(results, stock_differences={"against": "/".join(against), "lines": differences(*against)})
    write_results(out / "results.json", results)
    failed = results.failed_runs()
    print(f"{len(results.runs)} runs, {len(failed)} failed: {out / 'results.json'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
