"""`server-layers compare` (BENCH §5): probe, a quick bench, the report; prints report.html's path.

The probe runs in this process (conformance.probe, client side only). The bench
runs as `python -m serving.cli bench` subprocesses, one per scenario, into
OUT/bench-SCENARIO/; their results.json are merged into OUT/results.json, and the
report is written into OUT. It never imports locust and never measures anything
itself. Quick profile: all three layers, threaded, plaintext and page, users
1,16,64, 5 s each, 0.5 s warm-up: under 5 minutes on 2 cores.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from bench.cli import duration, positive_ints
from bench.results import summarise
from bench.scenarios import SCENARIOS as KNOWN_SCENARIOS
from conformance.probe import MODELS, layer_command, run, write_outputs
from conformance.corpus import load_cases
from serving.options import OneLineParser, fail

from . import cli as report_cli
from .data import ReportError

ROOT = Path(__file__).resolve().parent.parent
PROFILE = {"models": "threaded", "users": "1,16,64", "duration": "5s", "warmup": "0.5s"}
SCENARIOS = ["plaintext", "page"]


def parser() -> OneLineParser:
    p = OneLineParser(prog="server-layers compare", description="Probe, a quick bench, then the report "
                      "(BENCH.md §5); prints the path of report.html.", formatter_class=argparse.RawDescriptionHelpFormatter,
                      epilog="example:\n  server-layers compare --out results/compare-today\n")
    p.add_argument("--out", type=Path, help="output folder (default results/compare-<UTC stamp>)")
    p.add_argument("--duration", default=PROFILE["duration"], help="per bench run (default 5s)")
    p.add_argument("--users", default=PROFILE["users"], help="bench user levels (default 1,16,64)")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help="bench scenarios (default plaintext,page)")
    p.add_argument("--no-probe", action="store_true", help="skip the conformance probe")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    out = args.out or Path("results") / f"compare-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}"
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        fail(f"server-layers compare: {out} exists and is not empty (choose another --out)")
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    check(args, scenarios)
    started = time.monotonic()
    out.mkdir(parents=True)
    if not args.no_probe:
        step(f"probe: {len(load_cases())} cases on every layer and model", started)
        probe_all(out)
    parts, status = bench_all(out, scenarios, args, started)
    if status == 2:  # bad flags: the bench said why in one line
        return 2
    if not parts:
        fail("server-layers compare: no bench result to report on")
    (out / "results.json").write_text(json.dumps(merge(parts), indent=2, default=str) + "\n")
    step("report", started)
    try:
        page = report_cli.build(out)
    except ReportError as exc:
        fail(f"server-layers compare: {exc}")
    step(f"done in {time.monotonic() - started:.0f} s", started)
    print(page)
    return 1 if status else 0


def bench_all(out: Path, scenarios: list[str], args: argparse.Namespace, started: float) -> tuple[list[dict], int]:
    """One bench per scenario; the results.json of those that wrote one, and the first non-zero exit status."""
    parts, status = [], 0
    for scenario in scenarios:
        step(f"bench: {scenario}, users {args.users}, {args.duration} each", started)
        folder = out / f"bench-{scenario}"
        code = bench(folder, scenario, args)
        status = status or code
        if code == 2:
            break
        if (folder / "results.json").is_file():
            parts.append(json.loads((folder / "results.json").read_text()))
    return parts, status


def check(args: argparse.Namespace, scenarios: list[str]) -> None:
    """Bad flags fail here, in one line, before the probe spends a minute."""
    try:
        duration(args.duration), positive_ints(args.users)
    except ValueError:
        fail(f"server-layers compare: --duration {args.duration!r} or --users {args.users!r} is not valid (see --help)")
    unknown = [s for s in scenarios if s not in KNOWN_SCENARIOS]
    if unknown or not scenarios:
        fail(f"server-layers compare: unknown scenario {(unknown or [''])[0]!r} (choose from {', '.join(KNOWN_SCENARIOS)})")


def step(text: str, started: float) -> None:
    print(f"[{time.monotonic() - started:5.0f} s] {text}", file=sys.stderr, flush=True)


def probe_all(out: Path) -> None:
    """The whole corpus on every layer x model, into OUT/conformance.{json,md,html}."""
    with tempfile.TemporaryDirectory(prefix="compare-probe-") as scratch:
        commands = {f"{layer}/{model}": layer_command(layer, model, Path(scratch) / f"{layer}-{model}")
                    for layer, models in MODELS.items() for model in models}
        try:
            matrix = run(commands, {}, load_cases())
        except RuntimeError as exc:
            fail(f"server-layers compare: {exc}")
    write_outputs(matrix, out)


def bench(folder: Path, scenario: str, args: argparse.Namespace) -> int:
    """One `server-layers bench` subprocess for one scenario; its exit status."""
    command = [sys.executable, "-m", "serving.cli", "bench", "--models", PROFILE["models"], "--scenario", scenario,
               "--users", args.users, "--duration", args.duration, "--warmup", PROFILE["warmup"],
               "--out", str(folder.resolve())]
    return subprocess.run(command, cwd=ROOT, stdin=subprocess.DEVNULL).returncode


def merge(parts: list[dict]) -> dict:
    """Several results.json (one per scenario) as one: runs concatenated, summary recomputed."""
    first = parts[0]
    environment = dict(first.get("environment") or {})
    environment["finished"] = parts[-1].get("environment", {}).get("finished")
    plans = [part.get("plan") or {} for part in parts]
    plan = {key: value for key, value in plans[0].items() if key not in ("scenario", "out")}
    plan["scenarios"] = [p.get("scenario") for p in plans]
    runs = [run for part in parts for run in part.get("runs", [])]
    return {
        "schema": 1,
        "environment": environment,
        "plan": plan,
        "calibration": first.get("calibration"),
        "runs": runs,
        "summary": summarise([r for r in runs if "layer" in r]),
        "parts": [p.get("out") for p in plans],
    }
