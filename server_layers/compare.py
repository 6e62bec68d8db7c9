"""`server-layers compare` (BENCH §5): the probe, the quick profile in interleaved rounds, the report.

The probe runs in this process (conformance.probe, client side only), with the reference columns
(the app on stock http.server, uvicorn and gunicorn) unless --no-reference. The measurement is
bench.rounds: a server per variant (each layer's threaded model and its event-loop models), all
kept for the whole profile and pinned to one CPU; Locust paces every server at once at one fixed
rate for CPU per request and latency at equal load, then a wrk per server saturates every server
at once while the servers take turns on their core (bench.turns) for requests per server
CPU-second; servers and load generators are processes of their own. Then the report into the same
folder; it prints report.html's path.
Exit status: 0, or 1 when a run failed (the report still shows the others), or 2 on bad flags.
Never imports locust and measures nothing itself.
"""

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench import rounds, wrk
from bench.cli import Progress, duration, names
from conformance.corpus import load_cases
from conformance.probe import MODELS, every_layer, reference_targets, run, write_data
from oneline import OneLineParser, fail
from reports import cli as report_cli
from reports.data import ReportError
from reports.matrix import write_pages
from serving.options import EVENT_LOOP_MODELS  # measured beside threaded wherever a layer has them

MIN_WINDOW_S = 0.5  # a round of the Locust pass: long enough for a few hundred requests per server
MIN_TURN_S = 0.02  # a turn on the core in the wrk rounds: longer than a signal's round trip by far
DEFAULTS = rounds.Profile(variants=[], scenarios=rounds.SCENARIOS, out=Path("."))


def variants(layers: list[str] | None = None, models: list[str] | None = None) -> list[tuple[str, str]]:
    """(layer, model) of the chosen layers and models; by default threaded on every layer and each layer's
    event-loop models."""
    return [(layer, model) for layer, offered in MODELS.items() if layers is None or layer in layers
            for model in offered if (model in models if models else model == "threaded" or model in EVENT_LOOP_MODELS)]


def parser() -> OneLineParser:
    p = OneLineParser(prog="server-layers compare", description="Probe, the quick profile in interleaved rounds, "
                      "then the report (BENCH.md §5); prints the path of report.html.",
                      formatter_class=argparse.RawDescriptionHelpFormatter,
                      epilog="example:\n  server-layers compare --out results/compare-today\n"
                             "exit status: 0; 1 when a run failed; 2 on bad flags.\n")
    p.add_argument("--out", type=Path, help="output folder (default results/compare-<UTC stamp>)")
    p.add_argument("--rounds", type=int, default=DEFAULTS.rounds, help=f"wrk's rounds, the variants' order rotated "
                   f"each round (default {DEFAULTS.rounds}, at least 3 to rank)")
    p.add_argument("--windows", type=int, default=DEFAULTS.windows, help=f"Locust's rounds, every variant loaded at "
                   f"once (default {DEFAULTS.windows}, at least 3 to rank)")
    p.add_argument("--rate", type=int, default=DEFAULTS.rate, help=f"Locust's offered rate per server, requests/s, "
                   f"the same for every variant (default {DEFAULTS.rate}; halved until all servers' together are at "
                   f"most {rounds.RATE_SHARE:.0%}% of the harness's ceiling)")
    p.add_argument("--window", type=duration, default=DEFAULTS.window_s,
                   help=f"one round of the Locust pass (default {DEFAULTS.window_s:g}s)")
    p.add_argument("--share", type=duration, default=DEFAULTS.share_s, help=f"each server's time on the core per wrk "
                   f"round, taken in turns with the others (default {DEFAULTS.share_s:g}s)")
    p.add_argument("--turn", type=duration, default=DEFAULTS.turn_s, help=f"one turn on the core in the wrk rounds "
                   f"(default {DEFAULTS.turn_s * 1000:.0f}ms)")
    every_model = sorted({model for models in MODELS.values() for model in models})
    p.add_argument("--layers", type=names(list(MODELS)), help=f"comma list of {', '.join(MODELS)} (default: all)")
    p.add_argument("--models", type=names(every_model), help="comma list (default: threaded, and the event-loop "
                   f"models {', '.join(EVENT_LOOP_MODELS)} where a layer has them)")
    p.add_argument("--scenarios", type=names(rounds.SCENARIOS), default=rounds.SCENARIOS,
                   help=f"comma list of {', '.join(rounds.SCENARIOS)} (default: both)")
    p.add_argument("--no-probe", action="store_true", help="skip the conformance probe")
    p.add_argument("--no-reference", action="store_true", help="probe without the reference columns (the same app "
                   "on stock http.server, uvicorn and gunicorn, from .venv-reference, installed on first use)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    out = args.out or Path("results") / f"compare-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        fail(f"server-layers compare: {out} exists and is not empty (choose another --out)")
    if min(args.rounds, args.windows, args.rate) < 1:
        fail("server-layers compare: --rounds, --windows and --rate must be whole numbers >= 1")
    if not MIN_TURN_S <= args.turn <= args.share:
        fail(f"server-layers compare: --turn must be at least {MIN_TURN_S * 1000:.0f}ms and at most --share")
    if args.window < MIN_WINDOW_S:
        fail(f"server-layers compare: --window must be at least {MIN_WINDOW_S * 1000:.0f}ms")
    if not wrk.available():
        fail("server-layers compare: the capacity pass needs wrk (apt-get install wrk)")
    chosen = variants(args.layers, args.models)
    if not chosen:
        fail(f"server-layers compare: no layer among {','.join(args.layers or MODELS)} has model "
             f"{','.join(args.models or [])}")
    profile = rounds.Profile(variants=chosen, scenarios=args.scenarios, out=out, rounds=args.rounds,
                             windows=args.windows, rate=args.rate, window_s=args.window, share_s=args.share,
                             turn_s=args.turn)
    started = time.monotonic()
    out.mkdir(parents=True)
    if not args.no_probe:
        step(f"probe: {len(load_cases())} cases on every layer and model", started)
        probe_all(out, reference_targets(not args.no_reference, required=False))
    step(f"measure: {len(profile.variants)} variants, {profile.windows} Locust windows and {profile.rounds} wrk "
         f"rounds, about {rounds.minutes(profile):.1f} min", started)
    results = rounds.execute(profile, Progress())
    step("report", started)
    try:
        page = report_cli.build(out)
    except ReportError as exc:
        fail(f"server-layers compare: {exc}")
    failed = results.failed_runs()
    step(f"done in {time.monotonic() - started:.0f} s" + (f"; {len(failed)} runs FAILED" if failed else ""), started)
    print(page)
    return 1 if failed else 0


def step(text: str, started: float) -> None:
    print(f"[{time.monotonic() - started:5.0f} s] {text}", file=sys.stderr, flush=True)


def probe_all(out: Path, references: Sequence = ()) -> None:
    """The whole corpus on every layer x model (and the reference columns), into OUT/conformance.{json,md,html}."""
    with tempfile.TemporaryDirectory(prefix="compare-probe-") as scratch:
        try:
            matrix = run(every_layer(Path(scratch)), {}, load_cases(), references=references)
        except RuntimeError as exc:
            fail(f"server-layers compare: {exc}")
    write_data(matrix, out)
    write_pages(matrix, out)
