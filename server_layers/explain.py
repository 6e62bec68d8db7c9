"""`server-layers explain RUN_DIR`: why each layer costs what it costs, measured into a run's folder, then its report.

Into RUN_DIR (a bench or compare run: it holds results.json), one after another:
1. bench.syscalls: strace counts the system calls of each variant per request (syscalls.json);
2. bench.cpu_profile: user and system CPU per request from /proc, split by py-spy's samples into the
   parser, the app, the serving code, the layer, the stdlib layer and the kernel; a flame graph per row
   (cpu.json, flame-*.svg);
3. unless the folder's conformance.json has them already (or --no-reference), the conformance probe with
   the reference columns: the same app on stock http.server, uvicorn and gunicorn (conformance.json);
then `server-layers report RUN_DIR`: the report gains the system-call and CPU sections, the flame graphs,
the stock gaps measured, and a "why" paragraph per layer computed from all of it. It prints report.html's
path. Each step runs its servers as processes and stops them by PID; never imports locust.
Exit 0, or 2 on bad input (one line on stderr).
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import cpu_profile, syscalls
from conformance.corpus import load_cases
from conformance.probe import every_layer, reference_targets, run, write_outputs
from reports import cli as report_cli
from reports.data import ReportError
from serving.options import OneLineParser, fail


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
    p.add_argument("--variants", help="LAYER/MODEL,... (default: each layer's default model and every event-loop "
                   "model)")
    p.add_argument("--no-reference", action="store_true", help="leave the conformance matrix as it is")
    return p


def has_references(run_dir: Path) -> bool:
    """The folder's conformance.json has reference columns (a file that is not a matrix: it has none)."""
    try:
        servers = json.loads((run_dir / "conformance.json").read_text())["servers"]
        return any(info.get("reference") for info in servers.values())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def probe_with_references(run_dir: Path) -> None:
    """The whole corpus on every layer and model, and the reference columns, into RUN_DIR/conformance.*."""
    with tempfile.TemporaryDirectory(prefix="explain-probe-") as scratch:
        matrix = run(every_layer(Path(scratch)), {}, load_cases(), references=reference_targets(True))
    write_outputs(matrix, run_dir)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not (args.run_dir / "results.json").is_file():
        fail(f"server-layers explain: {args.run_dir} holds no results.json (give a bench or compare run's folder)")
    if min(args.syscall_requests, args.cpu_requests, args.cpu_rounds) < 1:
        fail("server-layers explain: --syscall-requests, --cpu-requests and --cpu-rounds must be at least 1")
    try:
        refusal = cpu_profile.unprofiled(syscalls.chosen(args.variants))
    except ValueError as exc:
        refusal = str(exc)
    if refusal:
        fail(f"server-layers explain: {refusal}")
    missing = [tool for tool, found in (("strace", shutil.which("strace")), ("py-spy", cpu_profile.py_spy())) if not found]
    if missing:
        fail(f"server-layers explain: {' and '.join(missing)} not installed (strace: apt-get install strace; "
             "py-spy: the bench extra)")
    picked = ["--variants", args.variants] if args.variants else []
    steps = [(syscalls.main, ["--requests", str(args.syscall_requests), "--out", str(args.run_dir), *picked]),
             (cpu_profile.main, ["--requests", str(args.cpu_requests), "--repeat", str(args.cpu_rounds),
                                 "--out", str(args.run_dir), *picked])]
    try:
        for step, step_args in steps:
            step(step_args)
        if not args.no_reference and not has_references(args.run_dir):
            probe_with_references(args.run_dir)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:  # a server, strace or py-spy that failed
        fail(f"server-layers explain: {str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__}")
    try:
        print(report_cli.build(args.run_dir))
    except ReportError as exc:
        fail(f"server-layers explain: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
