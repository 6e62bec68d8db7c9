"""`server-layers soak`: mixed load and hostile clients on one server for a while, sampling its RSS, fds and threads.

It passes when RSS grows by less than 10% after the warm-up, the count of open
fds stays flat, the normal clients see no error, and the server closes every
hostile client in time. The normal load comes from plain stdlib clients in
threads here (no locust); the hostile ones (bench.hostile.Churn) pipeline 64 KiB
of requests and never read, or read the largest static file a byte a second,
each replaced once the server has closed it: their closes are expected, counted
apart, never as errors. The server is a separate process, as in every benchmark,
started with --send-timeout.
"""

import argparse
import http.client
import json
import threading
import time
from dataclasses import asdict
from pathlib import Path

from serving.options import OneLineParser, bounded, fail, seconds

from .catalog import DEFAULT_MODEL
from .catalog import SERVER_MODULES as LAYERS
from .cli import MODELS, duration
from .hostile import KEEPALIVE_S, Churn, Target, proc_fields, process_tree, server_flags
from .runner import Server

MAX_RSS_GROWTH = 0.10
FD_SLACK = 2  # the floor may rise by an fd or two (a WAL file opened late) without a leak
STUCK_MARGIN_S = 10.0  # a hostile client open this long past --send-timeout and the keep-alive timeout is stuck


def sample(pid: int) -> dict:
    """RSS (MB), open fds and threads, summed over the server's process tree."""
    rss_kb = fds = threads = 0
    for member in process_tree(pid):
        try:
            status = proc_fields(member, "status")
            rss_kb += int(status["VmRSS"].split()[0])
            threads += int(status["Threads"])
            fds += len(list(Path(f"/proc/{member}/fd").iterdir()))
        except (OSError, KeyError):
            continue
    return {"rss_mb": round(rss_kb / 1024, 1), "fds": fds, "threads": threads}


class Load:
    """Client threads doing the mixed scenario (6 plaintext : 3 page : 1 guestbook) on keep-alive connections."""

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
            if not ok:
                connection.close()
        connection.close()

    def call(self, connection, step: str) -> bool:
        requests = {
            "plaintext": [("GET", "/plaintext", None, 200)],
            "page": [("GET", "/", None, 200), ("GET", "/test.jpg", None, 200)],
            "guestbook": [("POST", "/messages", b"text=soak", 303), ("GET", "/messages?limit=20", None, 200)],
        }[step]
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


def verdict(samples: list[dict]) -> dict:
    """RSS growth from the first sample after the warm-up (the first 10%) to the last; fd drift as the rise of
    the floor, the fewest open fds in the last third against the fewest in the first third after the warm-up.

    In-flight fds come and go (each client's static file being read, a WAL file, an accept): a sample can
    catch several at once under load. A leak never gives its fds back, so it raises the floor."""
    settled = samples[max(1, len(samples) // 10) :] or samples
    base, last = settled[0], settled[-1]
    growth = (last["rss_mb"] - base["rss_mb"]) / base["rss_mb"] if base["rss_mb"] else 0.0
    third = max(1, len(settled) // 3)
    fd_drift = min(s["fds"] for s in settled[-third:]) - min(s["fds"] for s in settled[:third])
    return {
        "rss_growth": round(growth, 4),
        "fd_drift": fd_drift,
        "passed": growth < MAX_RSS_GROWTH and fd_drift <= FD_SLACK,
    }


hostile_count = bounded(int, 0, 256, "hostile client count (0..256)")


def spread(samples: list[dict], name: str) -> dict:
    """The fewest, the most and the last of one sampled figure."""
    values = [s[name] for s in samples]
    return {"min": min(values), "max": max(values), "last": values[-1]}


def parser() -> OneLineParser:
    p = OneLineParser(prog="server-layers soak", description=__doc__.split("\n\n")[0],
                      formatter_class=argparse.RawDescriptionHelpFormatter,
                      epilog="example:\n  server-layers soak --layer raw_socket --model selectors --minutes 10")
    p.add_argument("--layer", choices=list(LAYERS), default="raw_socket")
    p.add_argument("--model", help="one of the layer's models (default: its default model, threaded where it has one)")
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
    p.add_argument("--out", type=Path, default=Path("results") / "soak", help="folder for soak.json")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.model = args.model or DEFAULT_MODEL[args.layer]
    if args.model not in MODELS[args.layer]:
        fail(f"server-layers soak: {args.layer} has no model {args.model} (it has {', '.join(MODELS[args.layer])})")
    if not 0 < args.minutes <= 24 * 60 or not 1 <= args.clients <= 512:
        fail("server-layers soak: --minutes must be in (0, 1440] and --clients in 1..512")
    args.out.mkdir(parents=True, exist_ok=True)
    server = Server(args.layer, args.model, args.out / "server", None, server_flags(args.send_timeout))
    load = Load(server.url, args.clients)
    churn = Churn(Target(server.pid, server.host, server.port), args.pipelining, args.slow,
                  max(args.send_timeout, KEEPALIVE_S) + STUCK_MARGIN_S)
    load.start()
    churn.start()
    samples, started = [], time.monotonic()
    while time.monotonic() - started < args.minutes * 60:
        samples.append({"t": round(time.monotonic() - started, 1), **sample(server.process.pid)})
        time.sleep(args.interval)
    load.finish()
    hostile = churn.finish()
    usage = server.stop()
    result = {"layer": args.layer, "model": args.model, "minutes": args.minutes, "clients": args.clients,
              "interval_s": args.interval, "send_timeout_s": args.send_timeout, "keepalive_timeout_s": KEEPALIVE_S,
              "requests": load.requests, "errors": load.errors, "server_exit": usage.status if usage else None,
              "threads": spread(samples, "threads"), "fds": spread(samples, "fds"),
              "hostile": {"pipelining": args.pipelining, "slow": args.slow, "static_path": churn.static_path,
                          **asdict(hostile)},
              "samples": samples, **verdict(samples)}
    result["passed"] = result["passed"] and load.errors == 0 and result["server_exit"] == 0 and hostile.stuck == 0
    (args.out / "soak.json").write_text(json.dumps(result, indent=2))
    print(f"{'PASS' if result['passed'] else 'FAIL'}: {load.requests} requests, {load.errors} errors, "
          f"RSS {samples[0]['rss_mb']} -> {samples[-1]['rss_mb']} MB ({100 * result['rss_growth']:+.1f}% after warm-up), "
          f"fds drift {result['fd_drift']}, threads {result['threads']['min']}..{result['threads']['max']}; "
          f"hostile opened {hostile.opened}, closed by the server {hostile.closed_by_server}, "
          f"{hostile.stuck} stuck past {hostile.stuck_after_s:g} s; {args.out / 'soak.json'}")
    return 0 if result["passed"] else 1
