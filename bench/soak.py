"""`server-layers soak`: mixed load and hostile clients on one server for a while, sampling its RSS, fds and threads.

It passes when RSS grows by less than 10% after the warm-up, the count of open
fds stays flat, the normal clients see no error, and the server closes every
hostile client in time. The normal load comes from plain stdlib clients in
threads here (no locust); the hostile ones (bench.hostile.Churn) pipeline 64 KiB
of requests and never read, or read the largest static file a byte a second,
each replaced once the server has closed it: their closes are expected, counted
apart, never as errors. The server is a separate process, as in every benchmark,
started with --send-timeout.

With --variants, each variant is soaked by a `server-layers soak` process of its own
(the same options), --lanes of them at a time, each writing OUT/LAYER-MODEL/soak.json
and its output to OUT/LAYER-MODEL.log; then gather() merges them into OUT/soaks.json.
gather() reads any folder of that layout, however its soaks were started.
"""

import argparse
import http.client
import json
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path

import psutil

from oneline import OneLineParser, bounded, fail, seconds

from .catalog import DEFAULT_MODEL
from .catalog import SERVER_MODULES as LAYERS
from .cli import MODELS, duration
from .hostile import KEEPALIVE_S, Churn, Target, concurrent_variants, host, process_tree, server_flags, variant_list
from .measure import tail
from .results import ROOT, utc_now
from .runner import Server
from .syscalls import detach

MAX_RSS_GROWTH = 0.10
WARM_UP_MIN_S = 10.0  # a short soak's first tenth is a second or two: the load is still arriving
FD_SLACK = 2  # the floor may rise by an fd or two (a WAL file opened late) without a leak
STUCK_MARGIN_S = 10.0  # a hostile client open this long past --send-timeout and the keep-alive timeout is stuck
CHILD_MARGIN_S = 600.0  # a soak process still running this long past its --minutes is stopped (SIGINT, then SIGKILL)
SCHEMA = 1


def sample(pid: int) -> dict:
    """RSS (MB), open fds and threads, summed over the server's live process tree (psutil: VmRSS from
    /proc/PID/statm, the fds in /proc/PID/fd, Threads from /proc/PID/status); a member that ended while it was
    read, or a zombie (no memory, no fds), adds nothing. Then the main process alone (see `verdict`): its RSS,
    and its fds less the TCP connections it is serving at that moment (ESTABLISHED; a socket it failed to close
    is CLOSE_WAIT, and counts)."""
    rss = fds = threads = 0
    for member in process_tree(pid):
        try:
            process = psutil.Process(member)
            with process.oneshot():
                if process.status() == psutil.STATUS_ZOMBIE:
                    continue
                one = process.memory_info().rss, process.num_fds(), process.num_threads()
        except (psutil.Error, OSError):  # NoSuchProcess (ZombieProcess among them), AccessDenied; a file unread
            continue
        rss, fds, threads = rss + one[0], fds + one[1], threads + one[2]
    tree = {"rss_mb": round(rss / 1024**2, 1), "fds": fds, "threads": threads}
    try:
        main = psutil.Process(pid)
        return {**tree, "main_rss_mb": round(main.memory_info().rss / 1024**2, 1), "main_fds": own_fds_now(main)}
    except (psutil.Error, OSError):  # the server is gone: the soak fails on its exit status
        return tree


def own_fds_now(main: psutil.Process, reads: int = 3) -> int:
    """The main process's fds less the connections it is serving, the most of a few reads in a row. The fd count
    and the connection table are two reads: a connection that closes or opens between them is counted in one
    and not the other, so a single read can come out a few fds low while clients come and go. A low read would
    lower a third's floor; the most of a few cannot be low unless every read was."""
    def once() -> int:
        serving = sum(c.status == psutil.CONN_ESTABLISHED for c in main.net_connections("tcp"))
        return main.num_fds() - serving

    return max(once() for _ in range(reads))


class Load:
    """Client threads doing the mixed scenario (6 plaintext : 3 page : 1 guestbook) on keep-alive connections,
    each a new one after a round of the mix."""

    STEPS = ["plaintext"] * 6 + ["page"] * 3 + ["guestbook"]

    def __init__(self, url: str, clients: int) -> None:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        self.address = (host.strip("[]"), int(port))
        self.stop = threading.Event()
        self.requests = self.errors = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.client, daemon=True) for _ in range(clients)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)

    def client(self) -> None:
        connection = http.client.HTTPConnection(*self.address, timeout=10)
        step = 0
        while not self.stop.is_set():
            ok = self.call(connection, self.STEPS[step % len(self.STEPS)])
            step += 1
            if not ok or step % len(self.STEPS) == 0:  # a new connection after each round of the mix, as clients
                connection.close()  # come and go: what a server keeps per connection would show as a leak
        connection.close()

    def call(self, connection, step: str) -> bool:
        steps: dict[str, list[tuple[str, str, bytes | None, int]]] = {  # method, path, body, the status it must be
            "plaintext": [("GET", "/plaintext", None, 200)],
            "page": [("GET", "/", None, 200), ("GET", "/test.jpg", None, 200)],
            "guestbook": [("POST", "/messages", b"text=soak", 303), ("GET", "/messages?limit=20", None, 200)],
        }
        requests = steps[step]
        good = True
        for method, path, body, status in requests:
            headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                good = good and response.status == status
            except (OSError, http.client.HTTPException):
                good = False
            with self.lock:
                self.requests += 1
                self.errors += not good
        return good


def own_fds(sample: dict) -> int:
    """The main process's fds, less the connections it was serving (a sample of a soak before main_fds was
    recorded: the tree's fds less the hostile clients' connections)."""
    return sample["main_fds"] if "main_fds" in sample else sample["fds"] - sample.get("hostile_open", 0)


def own_rss(sample: dict) -> float:
    """The main process's RSS, MB (a sample of a soak before it was recorded: the tree's)."""
    return sample.get("main_rss_mb", sample["rss_mb"])


def verdict(samples: list[dict]) -> dict:
    """RSS growth from the first sample after the warm-up (the first tenth, and at least WARM_UP_MIN_S: the
    clients' own start, the first hostile ones, the first slow reader's file) to the last; fd drift as the rise of
    the floor, the fewest open fds in the last third against the fewest in the first third after the warm-up.

    Both read the server's main process: what outlives a connection lives there. A forking model's children
    end with their connection, so how many are alive at a sample says how many clients were being served, not
    what leaked. The connections being served at a sample are not counted either: clients come and go (each
    normal client takes a new connection after a round of the mix, each hostile one lives for seconds), so the
    thirds would catch different numbers of them. Other in-flight fds come and go too (a static file being
    read, an accept): a leak never gives its fds back, so it raises the floor."""
    warm_up_s = max(WARM_UP_MIN_S, 0.1 * samples[-1].get("t", 0.0))
    settled = [one for one in samples if one.get("t", 0.0) >= warm_up_s]
    settled = settled if len(settled) >= 3 else samples[max(1, len(samples) // 10) :] or samples
    base, last = own_rss(settled[0]), own_rss(settled[-1])
    growth = (last - base) / base if base else 0.0
    third = max(1, len(settled) // 3)
    fd_drift = min(map(own_fds, settled[-third:])) - min(map(own_fds, settled[:third]))
    return {
        "rss_growth": round(growth, 4),
        "fd_drift": fd_drift,
        "passed": growth < MAX_RSS_GROWTH and fd_drift <= FD_SLACK,
    }


hostile_count = bounded(int, 0, 256, "hostile client count (0..256)")
lane_count = bounded(int, 1, 64, "lane count (1..64)")


def variant_choice(text: str) -> list[tuple[str, str]]:
    """An argparse type: `all` (every concurrent variant of the catalog), or LAYER/MODEL,... among them; in the
    catalog's order."""
    chosen = concurrent_variants() if text.strip() == "all" else variant_list(text)
    return [variant for variant in concurrent_variants() if variant in chosen]


variant_choice.__name__ = "variant list ('all', or LAYER/MODEL,... of the concurrent models)"


def spread(samples: list[dict], name: str) -> dict:
    """The fewest, the most and the last of one sampled figure."""
    values = [s[name] for s in samples]
    return {"min": min(values), "max": max(values), "last": values[-1]}


EXAMPLES = """examples:
  server-layers soak --layer raw_socket --model selectors --minutes 10
  server-layers soak --variants all --lanes 3 --minutes 20 --out results/soak-all   # every concurrent variant
  server-layers soak --variants raw_socket/threaded,asyncio_impl/protocol --lanes 2 --minutes 1
"""


def parser() -> OneLineParser:
    first = next(iter(LAYERS))
    p = OneLineParser(prog="server-layers soak", description=__doc__.split("\n\n")[0],
                      formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXAMPLES)
    p.add_argument("--layer", choices=list(LAYERS), help=f"the layer (default {first})")
    p.add_argument("--model", help="one of the layer's models (default: its default model, threaded where it has one)")
    p.add_argument("--variants", type=variant_choice, metavar="all|LAYER/MODEL,...",
                   help="instead of --layer/--model: soak each of these (all: every concurrent variant), a "
                   "`server-layers soak` process each, into OUT/LAYER-MODEL/, then OUT/soaks.json")
    p.add_argument("--lanes", type=lane_count, help="with --variants: how many soaks run at a time (default 1)")
    p.add_argument("--minutes", type=float, default=5.0, help="how long (default 5)")
    p.add_argument("--clients", type=int, default=8, help="client threads (default 8)")
    p.add_argument("--interval", type=duration, default=2.0, help="sampling interval (default 2s)")
    p.add_argument("--pipelining", type=hostile_count, default=2,
                   help="hostile clients at any time that send 64 KiB of pipelined GET /test.jpg and never read "
                   "(default 2)")
    p.add_argument("--slow", type=hostile_count, default=2,
                   help="hostile clients at any time that read the largest static file a byte a second (default 2)")
    p.add_argument("--send-timeout", type=seconds, default=5.0, metavar="S",
                   help="the server's --send-timeout (default 5)")
    p.add_argument("--out", type=Path, default=Path("results") / "soak",
                   help="folder for soak.json (with --variants: for the variants' folders and soaks.json)")
    return p


def check(p: OneLineParser, args: argparse.Namespace) -> None:
    """Bad combinations: one line on stderr and exit 2 (p.error, fail), before anything starts."""
    if args.variants and (args.layer or args.model):
        p.error("give --variants, or --layer and --model, not both")
    if args.lanes is not None and not args.variants:
        p.error("--lanes goes with --variants")
    if not args.variants:
        args.layer = args.layer or next(iter(LAYERS))
        args.model = args.model or DEFAULT_MODEL[args.layer]
        if args.model not in MODELS[args.layer]:
            fail(f"server-layers soak: {args.layer} has no model {args.model} "
                 f"(it has {', '.join(MODELS[args.layer])})")
    if not 0 < args.minutes <= 24 * 60 or not 1 <= args.clients <= 512:
        fail("server-layers soak: --minutes must be in (0, 1440] and --clients in 1..512")
    if args.out.exists() and not args.out.is_dir():
        p.error(f"--out {args.out} is a file, not a folder")


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    check(p, args)
    stop_on_signals()
    try:
        if args.variants:
            return soak_variants(args)
        result = soak(args)
    except Interrupted as stopped:
        what = "the soaks still running" if args.variants else "its clients and the server"
        print(f"server-layers soak: {stopped.name}: {what} were stopped", file=sys.stderr)
        return 128 + stopped.signum
    print(f"{'PASS' if result['passed'] else 'FAIL'}: {figures(result)}; {args.out / 'soak.json'}")
    return 0 if result["passed"] else 1


class Interrupted(BaseException):
    """SIGINT or SIGTERM: raised where the main thread is, so every finally on the way out runs (the clients,
    the server, the soak processes started are stopped)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum, self.name = signum, signal.Signals(signum).name


def stop_on_signals() -> None:
    """SIGINT and SIGTERM raise Interrupted, SIGINT even where it was ignored when this process started (a job
    started with & from a script, and so the soak processes it starts): `timeout`, kill and Ctrl-C leave no
    server behind."""

    def interrupt(signum: int, _frame) -> None:
        raise Interrupted(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, interrupt)


# --- one variant ---------------------------------------------------------------------------------------------


def soak(args: argparse.Namespace) -> dict:
    """Soak args.layer/args.model as the flags say: soak.json written into args.out, and returned."""
    args.out.mkdir(parents=True, exist_ok=True)
    server = Server(args.layer, args.model, args.out / "server", None, server_flags(args.send_timeout))
    try:
        load, hostile, static_path, samples = hold(server, args)
    finally:
        usage = server.stop()
    result = {"layer": args.layer, "model": args.model, "minutes": args.minutes, "clients": args.clients,
              "interval_s": args.interval, "send_timeout_s": args.send_timeout, "keepalive_timeout_s": KEEPALIVE_S,
              "requests": load.requests, "errors": load.errors, "server_exit": usage.status if usage else None,
              "threads": spread(samples, "threads"), "fds": spread(samples, "fds"),
              "hostile": {"pipelining": args.pipelining, "slow": args.slow, "static_path": static_path,
                          **asdict(hostile)},
              "samples": samples, **verdict(samples)}
    result["passed"] = result["passed"] and load.errors == 0 and result["server_exit"] == 0 and hostile.stuck == 0
    (args.out / "soak.json").write_text(json.dumps(result, indent=2))
    return result


def hold(server: Server, args: argparse.Namespace) -> tuple:
    """The load and the hostile clients on `server` for args.minutes, sampling it every args.interval; both
    stopped however it ends. (load, hostile counts, the slow readers' path, samples)."""
    load = Load(server.url, args.clients)
    churn = Churn(Target(server.pid, server.host, server.port), args.pipelining, args.slow,
                  max(args.send_timeout, KEEPALIVE_S) + STUCK_MARGIN_S)
    load.start()
    churn.start()
    try:
        samples, started = [], time.monotonic()
        while time.monotonic() - started < args.minutes * 60:
            samples.append({"t": round(time.monotonic() - started, 1), **sample(server.process.pid),
                            "hostile_open": len(churn.live)})
            time.sleep(args.interval)
    finally:
        load.finish()
        hostile = churn.finish()
    return load, hostile, churn.static_path, samples


def figures(result: dict) -> str:
    """The key figures of a soak.json, as one line says them."""
    samples, hostile = result["samples"], result["hostile"]
    return (f"{result['requests']} requests, {result['errors']} errors, "
            f"RSS {own_rss(samples[0])} -> {own_rss(samples[-1])} MB "
            f"({100 * result['rss_growth']:+.1f}% after warm-up), "
            f"fds drift {result['fd_drift']}, threads {result['threads']['min']}..{result['threads']['max']}; "
            f"hostile opened {hostile['opened']}, closed by the server {hostile['closed_by_server']}, "
            f"{hostile['stuck']} stuck past {hostile['stuck_after_s']:g} s")


# --- several variants, a process each --------------------------------------------------------------------------


def folder_name(layer: str, model: str) -> str:
    return f"{layer}-{model}"


def plain(number: float) -> str:
    """A number as the flags take it back: positional, no exponent (1e-05 -> 0.00001)."""
    return format(Decimal(repr(number)), "f")


def child_command(args: argparse.Namespace, layer: str, model: str) -> list[str]:
    """The `server-layers soak` of one variant, with the options of this one."""
    return [sys.executable, "-m", "server_layers", "soak", "--layer", layer, "--model", model,
            "--minutes", plain(args.minutes), "--clients", str(args.clients), "--interval", f"{plain(args.interval)}s",
            "--pipelining", str(args.pipelining), "--slow", str(args.slow), "--send-timeout", plain(args.send_timeout),
            "--out", str((args.out / folder_name(layer, model)).resolve())]


class Lanes:
    """Run commands, at most `lanes` at a time, each in a session of its own (a Ctrl-C reaches this process
    alone) with its output in a log file. A command still running `bound_s` after it started is stopped, and
    so is every command still running when this one is interrupted: SIGINT to its pid (a soak then stops its
    clients and its server), SIGKILL if it has not ended in DETACH_S."""

    def __init__(self, lanes: int, bound_s: float) -> None:
        self.lanes, self.bound_s = lanes, bound_s
        self.running: dict[str, tuple[subprocess.Popen, float]] = {}
        self.status: dict[str, int | str] = {}  # name -> exit status, or why it was stopped

    def run(self, jobs: list[tuple[str, list[str], Path]], on_end=lambda name, status: None) -> dict:
        """`jobs` as (name, command, log): name -> its exit status (or why it was stopped)."""
        waiting = list(jobs)
        try:
            while waiting or self.running:
                while waiting and len(self.running) < self.lanes:
                    name, command, log = waiting.pop(0)
                    with log.open("wb") as output:
                        process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=output,
                                                   stderr=subprocess.STDOUT, start_new_session=True)
                    self.running[name] = (process, time.monotonic())
                for name in list(self.running):
                    if (status := self.reap(name)) is not None:
                        on_end(name, status)
                time.sleep(0.2)
        finally:
            for name in list(self.running):
                self.stop(name, "interrupted")
        return self.status

    def reap(self, name: str) -> int | str | None:
        """Its exit status once it has ended (or why it was stopped), else None."""
        process, started = self.running[name]
        if process.poll() is not None:
            del self.running[name]
            self.status[name] = process.returncode
        elif time.monotonic() - started > self.bound_s:
            self.stop(name, f"still running {self.bound_s:g} s after it started; stopped")
        return self.status.get(name)

    def stop(self, name: str, why: str) -> None:
        """SIGINT to that process alone (by its pid), SIGKILL if it has not ended in bench.syscalls.DETACH_S."""
        process, _ = self.running.pop(name)
        if process.poll() is None:
            detach(process)
        self.status[name] = why


def soak_variants(args: argparse.Namespace) -> int:
    """Each of args.variants by a `server-layers soak` process of its own, args.lanes at a time; OUT/soaks.json,
    a line per variant. 1 when one failed."""
    args.out.mkdir(parents=True, exist_ok=True)
    count = args.lanes or 1
    environment = {**host(), "started": utc_now(), "finished": None, "lanes": count}
    jobs = []
    for layer, model in args.variants:
        name = folder_name(layer, model)
        (args.out / name / "soak.json").unlink(missing_ok=True)  # an earlier run's must not stand for this one
        jobs.append((name, child_command(args, layer, model), args.out / f"{name}.log"))
    started = time.monotonic()
    print(f"{len(jobs)} soaks of {plain(args.minutes)} min, {count} at a time, into {args.out}", file=sys.stderr,
          flush=True)
    statuses = Lanes(count, args.minutes * 60 + CHILD_MARGIN_S).run(
        jobs, lambda name, status: print(f"[{time.monotonic() - started:6.0f} s] {name}: exit {status}",
                                         file=sys.stderr, flush=True))
    environment["finished"] = utc_now()
    document = gather(args.out, args.variants, environment, statuses)
    path = write(args.out, document)
    for run in document["runs"]:
        print(line(run))
    print(path)
    return 0 if all(run.get("passed") for run in document["runs"]) else 1


# --- soaks.json ------------------------------------------------------------------------------------------------


def gather(folder: Path, variants: list[tuple[str, str]] | None = None, environment: dict | None = None,
           statuses: dict | None = None) -> dict:
    """soaks.json's content from `folder`/LAYER-MODEL/soak.json: {"schema", "environment", "runs"}, the runs in
    the catalog's order. `variants`: those (default: every variant of the catalog that has a folder there).
    A variant without a readable soak.json is a run that failed: {"layer", "model", "passed": false, "error"}.
    `environment`: the run's (default: this host's, the commit checked out now, started and finished from
    the files' times: each variant's server/ folder, made as its server started, and its soak.json; lanes
    unknown). FileNotFoundError when there is no variant to gather."""
    if variants is None:
        variants = [(layer, model) for layer, models in MODELS.items() for model in models
                    if (folder / folder_name(layer, model)).is_dir()]
    else:
        order = [(layer, model) for layer, models in MODELS.items() for model in models]
        variants = [variant for variant in order if variant in variants]
    if not variants:
        raise FileNotFoundError(f"no LAYER-MODEL folder of a soak in {folder}")
    runs = [read_run(folder, layer, model, (statuses or {}).get(folder_name(layer, model)))
            for layer, model in variants]
    return {"schema": SCHEMA, "environment": environment or file_environment(folder, variants), "runs": runs}


def read_run(folder: Path, layer: str, model: str, status: int | str | None = None) -> dict:
    """One variant's soak.json, or what stands for it when there is none."""
    name = folder_name(layer, model)
    try:
        return json.loads((folder / name / "soak.json").read_text())
    except (OSError, ValueError) as exc:
        said = [f"exit {status}" if isinstance(status, int) else status,
                "no soak.json" if isinstance(exc, OSError) else "soak.json is not JSON"]
        try:
            last = tail(folder / f"{name}.log", 1).strip()
        except OSError:
            last = ""
        said.append(last and f"last line of {name}.log: {last}")
        return {"layer": layer, "model": model, "passed": False, "error": "; ".join(filter(None, said))}


def file_environment(folder: Path, variants: list[tuple[str, str]]) -> dict:
    """The environment of soaks started elsewhere: this host and the commit checked out now; started when the
    first server/ folder was made (as its server started), finished when the last soak.json was written."""
    names = [folder_name(layer, model) for layer, model in variants]
    starts = [path.stat().st_mtime for path in (folder / name / "server" for name in names) if path.exists()]
    ends = [path.stat().st_mtime for path in (folder / name / "soak.json" for name in names) if path.exists()]
    return {**host(), "started": stamp(min(starts)) if starts else None,
            "finished": stamp(max(ends)) if ends else None, "lanes": None}


def stamp(epoch_s: float) -> str:
    """utc_now()'s form of a file's time."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


def write(folder: Path, document: dict) -> Path:
    path = folder / "soaks.json"
    path.write_text(json.dumps(document, indent=2))
    return path


def line(run: dict) -> str:
    """One variant's line: PASS or FAIL, and its key figures (or why there are none)."""
    head = f"{'PASS' if run.get('passed') else 'FAIL'} {run['layer']}/{run['model']}"
    return f"{head}: {run['error']}" if "error" in run else f"{head}: {figures(run)}, server exit {run['server_exit']}"
