"""`server-layers explain RUN_DIR`: why each layer costs what it costs, measured into a run's folder, then its report.

Into RUN_DIR (a bench or compare run: it holds results.json), one after another:
1. bench.syscalls: strace counts the system calls of each variant per request (syscalls.json);
2. bench.cpu_profile: user and system CPU per request from /proc, split by py-spy's samples into the
   parser, the app, the serving code, the layer, the stdlib layer, the framework and the kernel; a flame graph
   per row (cpu.json, flame-*.svg); beside our variants, the framework apps of the last rung (flask, fastapi)
   when .venv-reference has them (strace counts ours only);
3. unless the folder's conformance.json has them already (or --no-reference), the conformance probe with
   the reference columns: the same app on stock http.server, uvicorn, gunicorn and granian, and the framework
   apps (conformance.json);
then `server-layers report RUN_DIR`: the report gains the system-call and CPU sections, the flame graphs,
the stock gaps measured, and a "why" paragraph per layer computed from all of it. It prints report.html's
path. Each step runs its servers as processes and stops them by PID; never imports locust.
Progress goes to stderr: a line as each step starts, and the steps' own lines (a variant, a round) with the
time so far and an estimate of what is left. Exit 0, or 2 on bad input (one line on stderr).
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench import cpu_profile, syscalls
from conformance.corpus import load_cases
from conformance.matrix import read_matrix
from conformance.probe import ProbeError, every_layer, reference_targets, run, write_data
from oneline import OneLineParser, fail
from reports import cli as report_cli
from reports.data import ReportError
from reports.matrix import write_pages


def parser() -> OneLineParser:
    p = OneLineParser(prog="server-layers explain", description="System calls, where the CPU goes, flame graphs and "
                      "the reference columns, measured into a run's folder; then its report.",
                      formatter_class=argparse.RawDescriptionHelpFormatter,
                      epilog="example:\n  server-layers compare --out results/today && "
                             "server-layers explain results/today\n")
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a bench or compare run's folder (with results.json)")
    p.add_argument("--syscall-requests", type=int, default=2000, help="requests strace counts per variant "
                   "(default 2000)")
    p.add_argument("--cpu-requests", type=int, default=20000, help="requests per CPU window (default 20000)")
    p.add_argument("--cpu-rounds", type=int, default=3, help="rounds of the CPU profile, rotated (default 3)")
    p.add_argument("--variants", help="LAYER/MODEL or a framework app (flask, fastapi),... (default: each layer's "
                   "default model, every event-loop model, and the framework apps when .venv-reference has them)")
    p.add_argument("--no-reference", action="store_true", help="leave the conformance matrix as it is")
    return p


def has_references(run_dir: Path) -> bool:
    """The folder's conformance.json has reference columns (a file that is not a matrix: it has none)."""
    try:
        return bool(read_matrix(run_dir / "conformance.json").references)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def probe_with_references(run_dir: Path) -> None:
    """The whole corpus on every layer and model, and the reference columns, into RUN_DIR/conformance.*."""
    with tempfile.TemporaryDirectory(prefix="explain-probe-") as scratch:
        try:
            matrix = run(every_layer(Path(scratch)), {}, load_cases(), references=reference_targets(True))
        except (ProbeError, RuntimeError) as exc:
            fail(f"server-layers explain: {exc}")
    write_data(matrix, run_dir)
    write_pages(matrix, run_dir)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not (args.run_dir / "results.json").is_file():
        fail(f"server-layers explain: {args.run_dir} holds no results.json (give a bench or compare run's folder)")
    if min(args.syscall_requests, args.cpu_requests, args.cpu_rounds) < 1:
        fail("server-layers explain: --syscall-requests, --cpu-requests and --cpu-rounds must be at least 1")
    try:
        refusal = cpu_profile.unprofiled(cpu_profile.chosen(args.variants))
    except ValueError as exc:
        refusal = str(exc)
    if refusal:
        fail(f"server-layers explain: {refusal}")
    tools = (("strace", shutil.which("strace")), ("py-spy", cpu_profile.py_spy()))
    missing = [tool for tool, found in tools if not found]
    if missing:
        fail(f"server-layers explain: {' and '.join(missing)} not installed (strace: apt-get install strace; "
             "py-spy: the bench extra)")
    started, steps = time.monotonic(), plan(args)
    try:
        for number, (what, run_step) in enumerate(steps, 1):
            step(f"explain {number}/{len(steps) + 1}: {what}", started)
            run_step()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:  # a server, strace or py-spy that failed
        fail(f"server-layers explain: {str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__}")
    step(f"explain {len(steps) + 1}/{len(steps) + 1}: the report", started)
    try:
        print(report_cli.build(args.run_dir))
    except ReportError as exc:
        fail(f"server-layers explain: {exc}")
    step(f"explain: done in {time.monotonic() - started:.0f} s", started)
    return 0


def plan(args: argparse.Namespace) -> list[tuple[str, Callable[[], object]]]:
    """The measuring steps, each (what it does, a call): strace on our variants, the CPU profile on them and on the
    framework apps (bench.cpu_profile.chosen: by default those .venv-reference has), the probe unless not needed."""
    profiled = cpu_profile.chosen(args.variants)
    which = [variant for variant in profiled if variant[0] != cpu_profile.FRAMEWORK]
    steps: list[tuple[str, Callable[[], object]]] = []
    if which:  # none when only framework apps were chosen
        steps.append((f"system calls, strace on {len(which)} variants (bench.syscalls)",
                      lambda: syscalls.run(which, args.syscall_requests, syscalls.DEFAULT_PATH, args.run_dir)))
    steps.append((f"where the CPU goes, {args.cpu_rounds} rounds of {len(profiled)} variants (bench.cpu_profile)",
                  lambda: cpu_profile.run(profiled, cpu_profile.DEFAULT_PATHS, args.cpu_requests, args.cpu_rounds,
                                          args.run_dir)))
    if not args.no_reference and not has_references(args.run_dir):
        steps.append(("the probe with the reference columns (conformance.probe)",
                      lambda: probe_with_references(args.run_dir)))
    return steps


def step(text: str, started: float) -> None:
    """A progress line on stderr, the seconds since `started` first (as server-layers compare prints them)."""
    print(f"[{time.monotonic() - started:5.0f} s] {text}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
