"""`server-layers bench`: parse and check the flags of BENCH §2, then run the plan with a progress bar.

Bad input is one line on stderr and exit 2, before anything starts.
"""

import argparse
import re
import shlex
import shutil
import time
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from pathlib import Path

from oneline import OneLineParser, fail

from . import wrk
from .catalog import DEFAULT_MODEL, MODELS
from .catalog import SERVER_MODULES as LAYERS
from .knobs import DEFAULT, KNOBS, PSEUDO, STOCK_CGI_LAYER, STOCK_LAYER, STOCK_MODELS, flag_names
from .runner import Level, Plan, execute
from .scenarios import SCENARIOS

LAYER_MODELS = {**MODELS, **dict.fromkeys(PSEUDO, STOCK_MODELS)}  # the layers, and the stock servers as pseudo-layers
LAYER_DEFAULT = {**DEFAULT_MODEL, **dict.fromkeys(PSEUDO, STOCK_MODELS[0])}  # the model a run takes without --models

EXAMPLES = """examples:
  server-layers bench --rates 500,1000,2000 --repeat 3            # fixed rates: the fair comparison
  server-layers bench --layers raw_socket,http_server_impl --users 1,16,64 --duration 5s
  server-layers bench --scenario mixed --users 32 --locust-workers 2
  server-layers bench --knobs all --layers raw_socket,stock_http_server --users 8 --repeat 3   # the knob matrix
  server-layers bench --expect-workers 2 ...                      # workers started elsewhere:
      locust -f bench/locustfile.py --worker --master-host 127.0.0.1 --master-port 5557
"""


def duration(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)?", text.strip())
    if not match or float(match[1]) <= 0:
        raise ValueError(text)
    return float(match[1]) * {"ms": 0.001, "s": 1, "m": 60, None: 1}[match[2]]


duration.__name__ = "duration (e.g. 10s, 500ms, 2m)"


def names(choices: Collection[str]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        values = [v.strip() for v in text.split(",") if v.strip()]
        unknown = [v for v in values if v not in choices]
        if unknown or not values:
            raise ValueError(text)
        return values

    parse.__name__ = f"list of {', '.join(choices)}"
    return parse


def positive_ints(text: str) -> list[int]:
    values = [int(v) for v in text.split(",")]
    if not values or min(values) < 1:
        raise ValueError(text)
    return values


positive_ints.__name__ = "comma-separated list of whole numbers >= 1"


def knob_list(text: str) -> list[str]:
    """`all`, or a comma list of knob names; in the table's order."""
    chosen = list(KNOBS) if text.strip() == "all" else names(list(KNOBS))(text)
    return [knob for knob in KNOBS if knob in chosen]


knob_list.__name__ = f"knob list ('all', or some of {', '.join(KNOBS)})"


def parser() -> OneLineParser:
    p = OneLineParser(prog="server-layers bench", description="Measure the layers with Locust (BENCH.md §2). "
                      "Exit status: 0; 1 when a run failed (results.json records it); 2 on bad flags.",
                      epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    every_model = sorted({m for models in MODELS.values() for m in models})
    p.add_argument("--layers", type=names(list(LAYER_MODELS)), default=list(LAYERS),
                   help=f"comma list (default: every layer; {STOCK_LAYER}: stock http.server, threaded and "
                        f"plaintext only, the reference row of the knob matrix; {STOCK_CGI_LAYER}: stock "
                        "CGIHTTPRequestHandler, the cgi-* scenarios only)")
    p.add_argument("--models", type=names(every_model), help="comma list (default: each layer's default model, "
                   "threaded where it has one)")
    p.add_argument("--scenario", choices=list(SCENARIOS), default="plaintext",
                   help="Locust user class (default plaintext)")
    load = p.add_mutually_exclusive_group()
    load.add_argument("--users", type=positive_ints, help="capacity mode: closed loop, no wait (default 1,8,32,128)")
    load.add_argument("--rates", type=positive_ints, help="fixed-rate mode: target requests/s per level")
    p.add_argument("--duration", type=duration, default=10.0, help="per run (default 10s)")
    p.add_argument("--repeat", type=positive_ints, default=[1], metavar="N", help="runs per level (default 1)")
    workers = p.add_mutually_exclusive_group()
    workers.add_argument("--locust-workers", type=int, default=0, metavar="N", help="N local Locust worker processes")
    workers.add_argument("--expect-workers", type=int, default=0, metavar="N",
                         help="wait for N workers started elsewhere")
    p.add_argument("--master-port", type=int, default=5557, help="with --expect-workers: the port workers join (5557)")
    p.add_argument("--warmup", type=duration, default=1.0, help="warm-up before each run (default 1s)")
    p.add_argument("--cross-check", choices=["wrk"], help="also run wrk against the same server after Locust "
                   f"(scenarios {', '.join(wrk.PATHS)}): its rps and the server's CPU per request beside Locust's")
    p.add_argument("--server-args", default="", metavar="ARGS",
                   help='knobs for every server, written with =: --server-args="--no-nodelay", "--no-keepalive", '
                        '"--backlog 5", "--access-log" (recorded in results.json as server_args)')
    p.add_argument("--knobs", type=knob_list, default=[DEFAULT], metavar="LIST",
                   help=f"run every layer/model/level under each knob: 'all' or a comma list of {', '.join(KNOBS)} "
                        "(default: default, no flags); --server-args is added to every knob's flags")
    p.add_argument("--target", help="bench a server already running at this URL (no server CPU figures)")
    p.add_argument("--out", type=Path, help="output folder (default results/<UTC timestamp>)")
    p.add_argument("--force", action="store_true", help="write into an --out folder that is not empty")
    return p


SERVER_FLAGS = {"--no-nodelay": 0, "--no-keepalive": 0, "--access-log": 0, "--backlog": 1, "--keepalive-timeout": 1,
                "--header-timeout": 1, "--max-connections": 1}  # server flag -> how many values it takes


def server_args(text: str) -> list[str]:
    """Split and check --server-args: only the servers' own knobs, each with its value."""
    words, checked = shlex.split(text), []
    while words:
        flag = words.pop(0)
        if flag not in SERVER_FLAGS or len(words) < SERVER_FLAGS[flag]:
            fail(f"server-layers bench: --server-args takes {', '.join(SERVER_FLAGS)}, not {flag!r} (see --help)")
        checked += [flag, *[words.pop(0) for _ in range(SERVER_FLAGS[flag])]]
    return checked


def checked_server_args(args: argparse.Namespace) -> list[str]:
    """--server-args, split and checked against the chosen knobs and layers."""
    extra = server_args(args.server_args)
    if args.target and args.knobs != [DEFAULT]:
        fail("server-layers bench: --knobs needs the servers the bench starts, not a --target")
    check_knobs(args.knobs, extra)
    check_stock(args, extra)
    return extra


def check_knobs(knobs: list[str], extra: list[str]) -> None:
    """A flag of --server-args that a chosen knob sets too would make that knob's row a lie."""
    both = sorted(flag_names(knobs) & {word for word in extra if word.startswith("--")})
    if both:
        fail(f"server-layers bench: --server-args sets {both[0]}, which a chosen knob sets too (drop one of them)")


def check_stock(args: argparse.Namespace, extra: list[str]) -> None:
    """A pseudo-layer is a stock server with its own few scenarios and knobs (bench/knobs.py PSEUDO), threaded."""
    for layer in [layer for layer in args.layers if layer in PSEUDO]:
        _, scenarios, knobs = PSEUDO[layer]
        if args.models and not set(args.models) & set(STOCK_MODELS):
            fail(f"server-layers bench: {layer} runs model {', '.join(STOCK_MODELS)} only, not {args.models[0]}")
        if args.scenario not in scenarios:
            fail(f"server-layers bench: {layer} serves scenario {', '.join(scenarios)} only, not {args.scenario}")
        stock_flags = flag_names(knobs)
        foreign = [word for word in extra if word.startswith("--") and word not in stock_flags]
        if foreign:
            taken = ", ".join(sorted(stock_flags)) or "none"
            fail(f"server-layers bench: {layer} takes only its knobs' flags ({taken}) "
                 f"in --server-args, not {foreign[0]}")


def variant_flags(variants: list[tuple[str, str]], extra_layers: Sequence[str] = ()) -> list[str]:
    """`--layers` and `--models` that make_plan() turns back into exactly these (layer, model) variants (every
    layer's models are crossed with the list, and each layer keeps only the models it has), plus `extra_layers`
    (a pseudo-layer at its own model)."""
    layers = list(dict.fromkeys(layer for layer, _ in variants)) + list(extra_layers)
    models = list(dict.fromkeys(model for _, model in variants))
    return ["--layers", ",".join(layers), "--models", ",".join(models)]


def make_plan(argv: list[str] | None) -> Plan:
    args = parser().parse_args(argv)
    if len(args.repeat) != 1:
        fail("server-layers bench: --repeat takes one number (see --help)")
    if args.locust_workers < 0 or args.expect_workers < 0:
        fail("server-layers bench: worker counts cannot be negative (see --help)")
    extra = checked_server_args(args)
    combos = [(layer, model) for layer in args.layers for model in args.models or [LAYER_DEFAULT[layer]]
              if model in LAYER_MODELS[layer]]
    if not combos:
        fail(f"server-layers bench: no layer among {','.join(args.layers)} has model {','.join(args.models)}")
    if args.cross_check and args.scenario not in wrk.PATHS:
        fail(f"server-layers bench: --cross-check wrk drives the scenarios {', '.join(wrk.PATHS)} only")
    if args.cross_check and not shutil.which("wrk"):
        fail("server-layers bench: --cross-check wrk needs wrk (apt-get install wrk)")
    if args.target and not re.fullmatch(r"http://(127\.\d+\.\d+\.\d+|localhost|\[::1\]):\d+", args.target):
        fail("server-layers bench: --target must be a loopback http://HOST:PORT")
    out = args.out or Path("results") / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not args.force:
        fail(f"server-layers bench: {out} exists and is not empty (use --force or another --out)")
    users = args.users or [1, 8, 32, 128]
    levels = [Level.for_rate(r) for r in args.rates] if args.rates else [Level(u) for u in users]
    if args.target:
        combos = [("target", "external")]
    models = args.models or list(dict.fromkeys(model for _, model in combos))
    return Plan(layers=args.layers, models=models, scenario=args.scenario, levels=levels, duration_s=args.duration,
                repeat=args.repeat[0], out=out, locust_workers=args.locust_workers, expect_workers=args.expect_workers,
                warmup_s=args.warmup, target=args.target, combos=combos, master_port=args.master_port,
                cross_check=args.cross_check, server_args=extra, knobs=args.knobs)


class Progress:
    """A rich progress bar on stderr: the run it is on and the time left (estimated from the plan)."""

    def start(self, total: int, seconds_each: float) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as Bar

        self.bar = Bar(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                       TimeRemainingColumn(), console=Console(stderr=True))  # stdout keeps the results' paths
        self.bar.start()
        self.task = self.bar.add_task("starting", total=total)
        self.started = False

    def step(self, description: str) -> None:
        if self.started:
            self.bar.advance(self.task)
        self.started = True
        self.bar.update(self.task, description=description)

    def finish(self) -> None:
        self.bar.advance(self.task)
        self.bar.stop()


def main(argv: list[str] | None = None) -> int:
    plan = make_plan(argv)
    if plan.expect_workers:
        print(f"each run waits for {plan.expect_workers} Locust workers: locust -f bench/locustfile.py --worker "
              f"--master-host 127.0.0.1 --master-port {plan.master_port}", flush=True)
    started = time.monotonic()
    results = execute(plan, Progress())
    failed = results.failed_runs()
    print(f"{len(results.runs)} runs in {time.monotonic() - started:.0f} s, {len(failed)} failed: "
          f"{plan.out / 'results.json'}")
    return 1 if failed else 0  # the results still hold every run; a script must not take a failure for success
