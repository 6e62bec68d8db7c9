"""Where the CPU goes, per layer and model: the OS's user and system time per request, split by who spends it.

    python -m bench.cpu_profile [--requests 20000] [--paths /plaintext,/] [--repeat 3] [--variants L/M|APP,...]
                                [--out DIR]

--repeat rounds (default 3), the order of the variants and paths rotated each round; in each round, for
each variant of bench.syscalls.variants() and each path: start the server pinned to one CPU, as the
bench pins it (bench.measure.cpu_split: this thread, its load and py-spy on the other CPUs), warm it with
500 requests, then three windows one after the other, each of --requests keep-alive GETs one after
another on one connection (bench.syscalls' keep_alive_load, the load of syscalls.json). One client, not
several: it keeps each model's per-request path and nothing else (no thread or task per connection), and
with several the threads of a one-CPU server wait runnable for the CPU, which a sampler counts as busy.
Beside our variants, the framework apps of the tutorial's last rung (frameworks/): `flask` (on gunicorn) and
`fastapi` (on uvicorn), started as bench.reference_servers starts them, from .venv-reference. They are in the
default set when .venv-reference has them (bench.reference_servers.versions()), else left out with a line on
stderr; named in --variants without it, a one-line error.

1. loaded: user and system CPU of the server from /proc/PID/stat (utime, stime and the children's cutime,
   cstime; bench.measure.user_and_system) before and after; for a framework app, of its whole process tree
   (bench.measure.tree_user_and_system: gunicorn serves from a worker it forked and has not reaped);
2. idle: the same for as long as the load took, no request; its CPU per second, scaled to each loaded
   window's length, is subtracted (a sweep or a timer is not charged to the requests). Per request:
   (loaded - idle) / requests, in µs. The OS counts in 10 ms ticks: the default of 20000 requests keeps
   each window near a second of CPU, so a tick is a percent or two of a figure;
3. sampled: the same load with `py-spy record --nonblocking --threads --format raw --rate 500` attached
   (it reads the server's memory from outside and never stops it; --native would need it stopped for
   every sample, and it runs on the load's CPU, not the server's; for a framework app with --subprocesses
   too, so gunicorn's worker is sampled, not only its master). Its CPU figures are kept as
   sampled_user_us / sampled_system_us beside the loaded ones: the sampler's cost to the server, in the
   open. py-spy leaves out the samples of idle threads (its default, kept), but it counts a thread as busy
   whenever the kernel says it is runnable: just woken in recv, before it runs, too. So many more samples
   land on a recv or send line than the system time's share: the rule below takes the kernel from the OS.

The grouping rule. py-spy without --native sees Python frames only: a sample taken while a thread is in
a C function is shown at the Python line that called it. So:

- a sample whose leaf frame's source line calls a socket or selector method (KERNEL_CALL: recv, send,
  sendall, recv_into, accept, poll, select, ...), waits on a lock or a thread queue (a lock's acquire or
  release, a queue's get(block=True): a futex call, where a thread pool's worker waits for its next job) or
  calls os.read, os.write or os.utime (gunicorn's wake-up pipe and its heartbeat file) is
  "in a system call": SYSCALL_FRAME is appended to its
  stack (the flame graph shows it) and its group is `kernel`; the line is read from the file under the
  repository, the stdlib or site-packages (.venv-reference's too, for the framework apps' servers), and a
  framework library's line is never one (its `send(` is a blinker signal's or ASGI's, not a socket's);
- any other sample belongs to the group of its leaf frame's file; a frame whose file is in no group
  (`<string>`, `<frozen runpy>`, a thread's name) passes it to its caller, and a stack with no grouped
  frame at all is `other`. Files are py-spy's short names (relative to the sys.path entry they lie
  under): `http11/`, `webapp/`, `serving/` are their own groups; a layer's package (bench.catalog.MODELS)
  is `layer`; frameworks/ and the framework libraries (FRAMEWORK_PACKAGES: flask, werkzeug, jinja2, fastapi,
  starlette, pydantic, anyio, ...) are `framework`; socket.py, selectors.py, socketserver.py, http/server.py,
  asyncio/ and uvloop/ are `stdlib layer`; any other module of sys.stdlib_module_names (email, http.client,
  re, threading, ...) is `other stdlib`. In a framework app's row the server that carries it (SERVERS:
  gunicorn, uvicorn, httptools, uvloop, h11) is its `layer` (uvloop too: there it is the server's loop, not a
  stdlib layer's stand-in). A C builtin (a regex match, bytes.join) is charged to the line that called it; so
  is a C server's own work (httptools' parser) when no Python frame of it is on the stack; but uvloop's
  loop, which has none, lands on asyncio.Runner.run's run_until_complete line (C_LOOP), and in a framework
  app's row that line is the `layer` (its epoll waits are there too: py-spy cannot tell them apart).
  The framework apps' threads also wait outside a socket call (gunicorn's pool on its work queue, FastAPI's
  sync routes on a threading.Condition): a sample just woken there is runnable, so py-spy counts it, and the
  lock and queue waits of KERNEL_CALL keep it out of the user time (without them a Flask row read 250 µs of
  `other stdlib`, most of it on concurrent/futures/thread.py's `work_queue.get(block=True)`).

The µs per request of a group: `kernel` is the OS's system time; the user time is shared out in
proportion to each group's samples among the samples not in a system call (those samples are kernel
time, and time the thread spent runnable but waiting for the CPU, which the OS does not charge; their
share is kept in samples_by_group beside system_us, to compare). The groups sum to user_us + system_us.

A row per variant and path: user and system µs per request, the medians over the rounds (each round's
loaded window less its own idle one; every round kept in per_round, the total's range in cpu_us_range),
split by the samples of every round pooled (more samples than one window gives). Writes cpu.json
{"schema": 1, "rows": [...]}, a flame graph per row (flame-LAYER-MODEL-PATH.svg, of the pooled samples,
coloured by group) and, per row, a folder with each round's server stderr and py-spy's raw file
(round-N/), and stacks.txt, the pooled stacks with the system-call frames added. Prints a table. Reported, never
asserted. To put the section into a bench run's report: `--out RUN` (the run's folder), then `server-layers report RUN`
(`make cpu-profile RUN=...` does both). It never imports locust and stops each server by its PID. A line on
stderr as each round of a variant and path starts (the time so far, an estimate of what is left); a bad flag is
one line, exit 2.
"""

import linecache
import os
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import time
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath

from oneline import OneLineParser

from . import flamegraph, measure, reference_servers, syscalls
from .catalog import MODELS
from .process import ROOT, ServerProcess, exit_on_sigterm, layer_command
from .syscalls import Steps, add_common, detach, keep_alive_load, output, request_path, resolve, save, wait_attached

RATE = 500  # samples per second
FORKING = "forking"  # the model that serves each connection in a child process: refused
WARM_REQUESTS = 500
GROUPS = {  # group -> colour (Paul Tol's light scheme: black text stays readable on each), in the chart's order
    "kernel": "#77AADD", "layer": "#EE8866", "stdlib layer": "#EEDD88", "serving": "#FFAABB", "http11": "#99DDFF",
    "webapp": "#44BB99", "framework": "#AAAA00", "other stdlib": "#BBCC33", "other": "#DDDDDD"}
USER_GROUPS = [group for group in GROUPS if group != "kernel"]
OURS = {"http11": "http11", "webapp": "webapp", "serving": "serving", **dict.fromkeys(MODELS, "layer")}
FRAMEWORK_PACKAGES = {"frameworks",  # our app written for each framework, then the frameworks and what they call
                      "flask", "werkzeug", "jinja2", "markupsafe", "itsdangerous", "click", "blinker",
                      "fastapi", "starlette", "pydantic", "pydantic_core", "anyio", "python_multipart", "multipart"}
SERVERS = {"gunicorn", "uvicorn", "httptools", "uvloop", "h11"}  # what carries a framework app: its row's `layer`
STDLIB_LAYER = {"socket", "selectors", "socketserver", "asyncio", "uvloop"}
FRAMEWORK = "frameworks"  # the layer half of a framework app's variant: (FRAMEWORK, "flask")
FRAMEWORK_APPS = {target.name: target for target in reference_servers.frameworks()}  # flask, fastapi
SYSCALL_FRAME = "(in a system call)"
C_LOOP = re.compile(r"\bself\._loop\.run_until_complete\(")  # asyncio.Runner.run: uvloop's loop runs in C under it
KERNEL_CALL = re.compile(r"\b(?:recv|recv_into|recvfrom|recvmsg|send|sendall|sendmsg|sendfile|accept|poll|select)\("
                         r"|\.(?:acquire|release)\(|\.get\(block=True\)"  # lock and thread-queue waits
                         r"|\bos\.(?:read|write|utime)\(")  # a file's: gunicorn's wake-up pipe and heartbeat
FRAME = re.compile(r"(?P<function>.*) \((?P<file>[^()]+):(?P<line>\d+)\)")
SOURCE_ROOTS = [ROOT, Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["purelib"]),
                *sorted((reference_servers.VENV / "lib").glob("python*/site-packages"))]  # the frameworks' files


# --- the stacks -----------------------------------------------------------------------------


def parse_raw(text: str) -> Counter[tuple[str, ...]]:
    """py-spy's raw (collapsed) format, `frame;frame;...;leaf count` a line: samples per stack (a tuple, root first)."""
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[tuple(stack.split(";"))] += int(count)
    return stacks


def marked(stacks: Counter) -> Counter:
    """The stacks, SYSCALL_FRAME appended to each whose leaf line calls into the kernel."""
    return Counter({(*stack, SYSCALL_FRAME) if in_kernel_call(stack[-1]) else stack: count
                    for stack, count in stacks.items()})


def in_kernel_call(frame: str) -> bool:
    """Does the frame's line call into the kernel? Never a framework library's: its `send(` is a signal's
    (blinker) or ASGI's, not a socket's, and it reaches a socket only through its server's frames."""
    match = FRAME.fullmatch(frame)
    return bool(match and group_of_file(match["file"]) != "framework"
                and KERNEL_CALL.search(source_line(match["file"], int(match["line"]))))


def source_line(file: str, line: int) -> str:
    """The source line py-spy names by its short file name: under the repository, the stdlib or site-packages."""
    path = source_file(file)
    return linecache.getline(path, line) if path else ""


@cache  # one search of the roots per file, not per frame of every stack
def source_file(file: str) -> str | None:
    return next((str(base / file) for base in SOURCE_ROOTS if (base / file).is_file()), None)


def group_of_file(file: str, framework: bool = False) -> str | None:
    """The group of a file py-spy names; `framework`: in a framework app's row, where SERVERS are the layer."""
    parts = PurePosixPath(file).parts
    top = parts[0].removesuffix(".py") if parts else ""
    if top in OURS:
        return OURS[top]
    if top in FRAMEWORK_PACKAGES:
        return "framework"
    if framework and top in SERVERS:
        return "layer"
    if top in STDLIB_LAYER or file == "http/server.py":
        return "stdlib layer"
    return "other stdlib" if top in sys.stdlib_module_names else None


def group_of_frame(frame: str, framework: bool = False) -> str | None:
    """The group of one frame; in a framework app's row the line that hands the loop to uvloop is uvloop's."""
    if frame == SYSCALL_FRAME:
        return "kernel"
    match = FRAME.fullmatch(frame)
    if not match:
        return None
    group = group_of_file(match["file"], framework)
    if framework and group == "stdlib layer" and C_LOOP.search(source_line(match["file"], int(match["line"]))):
        return "layer"
    return group


def group_of_stack(stack: tuple[str, ...], framework: bool = False) -> str:
    """The group of the innermost frame that has one (see the module docstring); `other` when none has."""
    return next((group for frame in reversed(stack) if (group := group_of_frame(frame, framework))), "other")


def samples_by_group(stacks: Counter[tuple[str, ...]], framework: bool = False) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for stack, count in stacks.items():
        counts[group_of_stack(stack, framework)] += count
    return {group: counts[group] for group in GROUPS}


def split(user_us: float, system_us: float, samples: dict[str, int]) -> dict[str, float]:
    """µs per request by group: the kernel's is the OS's system time; the user time goes to the other groups in
    proportion to their samples (all of it to `other` when there is none)."""
    user_side = sum(samples.get(group, 0) for group in USER_GROUPS)
    shares = {group: samples.get(group, 0) / user_side for group in USER_GROUPS} if user_side else {"other": 1.0}
    return {"kernel": system_us, **{group: round(user_us * shares.get(group, 0.0), 2) for group in USER_GROUPS}}


def colour(frame: str, framework: bool = False) -> str:
    return GROUPS[group_of_frame(frame, framework) or "other"]


def collapsed(stacks: Counter) -> str:
    return "".join(f"{';'.join(stack)} {count}\n" for stack, count in stacks.items())


# --- the windows ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """The server's CPU over one window of wall-clock time."""

    user_s: float
    system_s: float
    seconds: float


def window(pid: int, work, read: Callable[[int], tuple[float, float]] = measure.user_and_system) -> Window:
    """`work()` timed, and the (user, system) CPU seconds `read` gives for `pid` before and after it."""
    user, system = read(pid)
    started = time.monotonic()
    work()
    took = time.monotonic() - started
    after_user, after_system = read(pid)
    return Window(after_user - user, after_system - system, took)


def per_request_us(loaded: Window, idle: Window, requests: int) -> tuple[float, float]:
    """(user, system) µs per request: the window's CPU less the idle window's, scaled to the window's length."""
    scale = loaded.seconds / idle.seconds if idle.seconds else 0.0
    def us(busy: float, quiet: float) -> float:
        return round(max(0.0, busy - scale * quiet) / requests * 1e6, 2)

    return us(loaded.user_s, idle.user_s), us(loaded.system_s, idle.system_s)


def py_spy() -> str | None:
    """py-spy beside this interpreter (the venv's bin/) or on PATH; None when it is not installed."""
    return shutil.which("py-spy", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))


def profiled(pid: int, folder: Path, work, cpus: set[int] | None, tree: bool = False) -> tuple[Window, Counter]:
    """`work()` with py-spy, on `cpus`, sampling `pid` (`tree`: and the processes under it, their CPU read with
    it): the window, and the samples per stack."""
    raw, log = folder / "py-spy.raw", folder / "py-spy.log"
    command = [py_spy() or "py-spy", "record", "--pid", str(pid), "--rate", str(RATE), "--format", "raw",
               "--nonblocking", "--threads", "--output", str(raw), *(["--subprocesses"] if tree else [])]
    with log.open("w") as output:
        spy = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               preexec_fn=measure.pinned(cpus))
    try:
        wait_attached(log, spy, "Sampling process")
        sampled = window(pid, work, reading(tree))
    finally:
        detach(spy)
    if not raw.is_file():
        raise RuntimeError(f"py-spy wrote no samples: {log.read_text()[-300:]}")
    return sampled, parse_raw(raw.read_text())


@contextmanager
def running_on(cpus: set[int] | None):
    """This thread (the load, and py-spy started from it) on `cpus` for a while, off the server's CPU."""
    before = os.sched_getaffinity(0)
    if cpus:
        os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


# --- one variant and path -------------------------------------------------------------------


def slug(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-") or "root"


def variant_name(layer: str, model: str) -> str:
    """LAYER/MODEL, or a framework app's name (flask, fastapi)."""
    return model if layer == FRAMEWORK else f"{layer}/{model}"


def reading(tree: bool) -> Callable[[int], tuple[float, float]]:
    """How a server's (user, system) CPU seconds are read: of its whole process tree, or of the process."""
    return measure.tree_user_and_system if tree else measure.user_and_system


def started(layer: str, model: str, folder: Path, cpus: set[int] | None) -> ServerProcess:
    """The server of a variant, pinned to `cpus`, ready: a layer as the bench starts it, a framework app as
    bench.reference_servers does (from .venv-reference)."""
    if layer == FRAMEWORK:
        return reference_servers.start(FRAMEWORK_APPS[model], folder, cpus)
    return ServerProcess(layer_command(layer, model, folder / "data"), folder / "server.stderr",
                         name=f"{layer}/{model}", cpus=cpus).wait_ready()


def windows_of(layer: str, model: str, path: str, requests: int,
               folder: Path) -> tuple[Window, Window, Window, Counter[tuple[str, ...]]]:
    """One round on one server (started here, stopped by its PID): the loaded, idle and sampled windows, the stacks.
    A framework app's CPU is its process tree's, and py-spy samples the tree (gunicorn's worker is a child)."""
    server_cpus, load_cpus = measure.cpu_split()
    tree = layer == FRAMEWORK
    server = started(layer, model, folder, server_cpus)
    try:
        with running_on(load_cpus):
            keep_alive_load(server.host, server.port, WARM_REQUESTS, path)
            load = lambda: keep_alive_load(server.host, server.port, requests, path)
            loaded = window(server.pid, load, reading(tree))
            idle = window(server.pid, lambda: time.sleep(loaded.seconds), reading(tree))
            sampled, stacks = profiled(server.pid, folder, load, load_cpus, tree)
    finally:
        server.stop()
    return loaded, idle, sampled, stacks


def measure_all(which: list[tuple[str, str]], paths: list[str], requests: int, out: Path, repeat: int) -> list[dict]:
    """`repeat` rounds over every variant and path, the order rotated each round (a slow minute of the machine
    falls on different servers), each round a server of its own; then a row per variant and path."""
    keys = [(layer, model, path) for layer, model in which for path in paths]
    rounds: dict[tuple, list] = {key: [] for key in keys}
    steps = Steps("cpu profile", repeat * len(keys))
    for number in range(repeat):
        shift = number % len(keys)
        for layer, model, path in keys[shift:] + keys[:shift]:
            steps.step(f"round {number + 1}/{repeat}, {variant_name(layer, model)} GET {path}: loaded, idle and "
                       f"sampled windows of {requests} requests")
            folder = out / f"{layer}-{model}-{slug(path)}" / f"round-{number + 1}"
            rounds[(layer, model, path)].append(windows_of(layer, model, path, requests, folder))
    steps.finish()
    return [finish(layer, model, path, requests, out, rounds[(layer, model, path)]) for layer, model, path in keys]


def finish(layer: str, model: str, path: str, requests: int, out: Path, rounds: list[tuple]) -> dict:
    """The row of one variant and path from its rounds; the pooled stacks and their flame graph written into `out`."""
    name, framework = f"{layer}-{model}-{slug(path)}", layer == FRAMEWORK
    stacks = marked(sum((round_[3] for round_ in rounds), Counter()))
    (out / name / "stacks.txt").write_text(collapsed(stacks))
    flame = f"flame-{name}.svg"
    title = (f"{variant_name(layer, model)}, GET {path}: {sum(stacks.values())} samples of {len(rounds)} × "
             f"{requests} requests (py-spy, {RATE}/s)")
    (out / flame).write_text(flamegraph.render(stacks, title, lambda frame: colour(frame, framework)))
    return row(variant_name(layer, model), path, requests, [round_[:3] for round_ in rounds], stacks, framework) | {
        "flamegraph": flame, "stacks": f"{name}/stacks.txt"}


def row(variant: str, path: str, requests: int, windows: list[tuple[Window, Window, Window]], stacks: Counter,
        framework: bool = False) -> dict:
    """The medians over the rounds (each round's loaded and sampled windows less its own idle one), the rounds
    themselves, and the user time split by the pooled samples (`framework`: grouped as a framework app's)."""
    loaded = [per_request_us(busy, idle, requests) for busy, idle, _ in windows]
    sampled = [per_request_us(spied, idle, requests) for _, idle, spied in windows]
    user, system = (round(statistics.median(values), 2) for values in zip(*loaded, strict=True))
    sampled_user, sampled_system = (round(statistics.median(values), 2) for values in zip(*sampled, strict=True))
    totals = [u + s for u, s in loaded]
    samples = samples_by_group(stacks, framework)
    return {"variant": variant, "path": path, "requests": requests, "rounds": len(windows),
            "user_us": user, "system_us": system, "cpu_us": round(user + system, 2),
            "cpu_us_range": [round(min(totals), 2), round(max(totals), 2)],
            "per_round": [{"user_us": u, "system_us": s} for u, s in loaded],
            "groups": split(user, system, samples), "samples": sum(samples.values()), "samples_by_group": samples,
            "sampled_user_us": sampled_user, "sampled_system_us": sampled_system,
            "seconds": {"loaded": round(sum(w[0].seconds for w in windows), 3),
                        "idle": round(sum(w[1].seconds for w in windows), 3),
                        "sampled": round(sum(w[2].seconds for w in windows), 3)}}


# --- the run --------------------------------------------------------------------------------


def table(rows: list[dict]) -> str:
    head = (f"{'variant':<26} {'path':<11} {'user':>6} {'system':>6} {'sampled':>11} {'samples':>10}  "
            + " ".join(f"{group[:12]:>12}" for group in GROUPS))
    lines = [head, "-" * len(head)]
    for row in rows:
        sampled = f"{row['sampled_user_us']:.1f}+{row['sampled_system_us']:.1f}"
        samples = f"{row['samples'] - row['samples_by_group']['kernel']}/{row['samples']}"
        lines.append(f"{row['variant']:<26} {row['path']:<11} {row['user_us']:>6.1f} {row['system_us']:>6.1f} "
                     f"{sampled:>11} {samples:>10}  " + " ".join(f"{row['groups'][group]:>12.1f}" for group in GROUPS))
    return "\n".join(lines) + ("\n\nµs of CPU per request; sampled: user+system µs per request with py-spy attached; "
                               "samples: those not in a system call (they split the user time) / all.")


def unprofiled(which: list[tuple[str, str]]) -> str:
    """Why a chosen variant cannot be profiled here ('' when all can)."""
    forked = [f"{layer}/{model}" for layer, model in which if model == FORKING]
    if forked:
        return (f"{forked[0]}: a connection is served in a child of its own, which neither /proc's figures of the "
                "server nor py-spy's samples of it see whole")
    apps = [model for layer, model in which if layer == FRAMEWORK]
    return f"{', '.join(apps)}: {missing_reference()}" if apps and reference_servers.versions() is None else ""


def missing_reference() -> str:
    return (f"{reference_servers.VENV.name} has not the framework apps' packages "
            "(python -m bench.reference installs them)")


def chosen(text: str | None) -> list[tuple[str, str]]:
    """bench.syscalls.chosen()'s variants and the framework apps by name (flask, fastapi), in the order given; by
    default every variant and, when .venv-reference has them, the framework apps (else a line on stderr says so)."""
    if not text:
        return syscalls.variants() + default_apps()
    items = [item.strip() for item in text.split(",") if item.strip()]
    ours = [item for item in items if item not in FRAMEWORK_APPS]
    try:
        layered = iter(syscalls.chosen(",".join(ours) or text) if ours or not items else [])
    except ValueError as exc:
        raise ValueError(f"{exc}, or a framework app: {', '.join(FRAMEWORK_APPS)}") from exc
    return [(FRAMEWORK, item) if item in FRAMEWORK_APPS else next(layered) for item in items]


def default_apps() -> list[tuple[str, str]]:
    if reference_servers.versions() is None:
        print(f"cpu profile: {', '.join(FRAMEWORK_APPS)} left out: {missing_reference()}", file=sys.stderr)
        return []
    return [(FRAMEWORK, name) for name in FRAMEWORK_APPS]


DEFAULT_PATHS = ["/plaintext", "/"]


def request_paths(text: str) -> list[str]:
    """An argparse type: a comma list of request paths (bench.syscalls.request_path)."""
    return [request_path(item.strip()) for item in text.split(",")]


request_paths.__name__ = "comma list of request paths (/..., no spaces)"  # named in argparse's one-line error


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog="python -m bench.cpu_profile", description=__doc__.split("\n\n")[0])
    add_common(p, 20000, "per window", "LAYER/MODEL or a framework app (flask, fastapi),... (default: each layer's "
               "default model, every event-loop model, and the framework apps when .venv-reference has them)")
    p.add_argument("--paths", type=request_paths, default=DEFAULT_PATHS,
                   help=f"the GETs, comma-separated (default {','.join(DEFAULT_PATHS)})")
    p.add_argument("--repeat", type=int, default=3, help="rounds, the order rotated each round (default 3)")
    options = p.parse_args(argv)
    if options.repeat < 1:
        p.error("--repeat must be at least 1")
    which = resolve(p, options, "cpu", chosen)
    if refusal := unprofiled(which):
        p.error(refusal)
    if not py_spy():
        p.error("py-spy is not installed (pip install py-spy; the bench extra has it)")
    return run(which, options.paths, options.requests, options.repeat, output(options, "cpu"))


def run(which: list[tuple[str, str]], paths: list[str], requests: int, repeat: int, out: Path) -> int:
    """Profile each variant on `paths`, `repeat` rounds, into OUT/cpu.json (printed as a table too)."""
    rows = measure_all(which, paths, requests, out, repeat)
    return save(out, "cpu.json", rows, table(rows))


if __name__ == "__main__":
    exit_on_sigterm()
    sys.exit(main())
