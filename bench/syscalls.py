"""System calls per request, per layer and model: strace attached to a live server under a bounded load.

    python -m bench.syscalls [--requests 2000] [--path /plaintext] [--out DIR]

For each variant: start the server, attach `strace -f -c` to it (every thread, and the children it
forks), send --requests keep-alive requests one after another on one connection, detach, and read
strace's count of each call. Then the same for an idle window as long as the load took, so the calls a
server makes on a timer (a sweep, an accept poll) are not charged to the requests. Per request:
(loaded - idle) / requests. strace slows a server down many times: its counts are exact, its timing
is not used. Writes syscalls.json and prints a table; reported, never asserted. A line on stderr as each
variant starts (Steps: the time so far and an estimate of what is left); a bad flag is one line, exit 2.
"""

import argparse
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from oneline import OneLineParser

from .catalog import MEASURED_VARIANTS, MODELS
from .process import ServerProcess, exit_on_sigterm, layer_command

ATTACH_TIMEOUT_S = 10.0
DETACH_S = 30.0


def variants() -> list[tuple[str, str]]:
    return list(MEASURED_VARIANTS)


DEFAULT_PATH = "/plaintext"


def chosen(text: str | None) -> list[tuple[str, str]]:
    """bench.syscalls.variants(), or those of a `LAYER/MODEL,...` list; ValueError naming the unknown ones."""
    if not text:
        return variants()
    items = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [item for item in items if item.partition("/")[2] not in MODELS.get(item.partition("/")[0], [])]
    if unknown or not items:
        raise ValueError(f"unknown variant(s): {', '.join(unknown) or repr(text)} (give LAYER/MODEL,..., "
                         f"e.g. {'/'.join(variants()[0])})")
    return [(layer, model) for layer, _, model in (item.partition("/") for item in items)]


class Steps:
    """Progress as lines on stderr, one as each step starts: `[  42 s] syscalls 3/6: ... (about 80 s left)`.
    The time left is the mean step so far times the steps still to run (none is guessed before one has ended)."""

    def __init__(self, name: str, total: int) -> None:
        self.name, self.total, self.done, self.started = name, total, 0, time.monotonic()

    def step(self, text: str) -> None:
        elapsed = time.monotonic() - self.started
        left = f" (about {elapsed / self.done * (self.total - self.done):.0f} s left)" if self.done else ""
        self.done += 1
        self.say(f"{self.name} {self.done}/{self.total}: {text}{left}")

    def finish(self) -> None:
        self.say(f"{self.name}: {self.total} done")

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.started:5.0f} s] {text}", file=sys.stderr, flush=True)


def traced(pid: int, folder: Path, name: str, work) -> dict[str, int]:
    """strace -f -c on `pid` while `work()` runs: calls per system call name."""
    summary, log = folder / f"{name}.strace", folder / f"{name}.strace.log"
    with log.open("w") as stderr:
        tracer = subprocess.Popen(["strace", "-f", "-c", "-U", "name,calls", "-o", str(summary), "-p", str(pid)],
                                  stderr=stderr, stdin=subprocess.DEVNULL)
    try:
        wait_attached(log, tracer)
        work()
    finally:
        detach(tracer)
    return parse_summary(summary.read_text())


def detach(tracer: subprocess.Popen) -> None:
    """SIGINT, on which strace and py-spy detach and write their file; SIGKILL if it has not ended in DETACH_S."""
    tracer.send_signal(signal.SIGINT)
    try:
        tracer.wait(DETACH_S)
    except subprocess.TimeoutExpired:
        tracer.kill()
        tracer.wait()


def wait_attached(log: Path, tracer: subprocess.Popen, marker: str = "attached") -> None:
    """Wait until the tracer (strace, or py-spy for bench.cpu_profile) has written `marker` into its log."""
    deadline = time.monotonic() + ATTACH_TIMEOUT_S
    while marker not in log.read_text():
        if tracer.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{Path(cast(list[str], tracer.args)[0]).name} did not attach: {log.read_text()[-300:]}")
        time.sleep(0.02)
    time.sleep(0.2)  # every thread's attach line comes at once; let the last settle


def parse_summary(text: str) -> dict[str, int]:
    """strace -c -U name,calls: `name calls` rows between the dashes, then a total row."""
    counts: dict[str, int] = {}
    for line in text.splitlines():
        match = re.fullmatch(r"([a-z_0-9]+)\s+(\d+)", line.strip())
        if match and match[1] != "total":
            counts[match[1]] = counts.get(match[1], 0) + int(match[2])
    return counts


def keep_alive_load(host: str, port: int, requests: int, path: str) -> None:
    """`requests` GETs one after another on one keep-alive connection, each answer read whole."""
    request = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    with socket.create_connection((host, port), timeout=30) as sock:
        buffer = b""
        for _ in range(requests):
            sock.sendall(request)
            buffer = read_answer(sock, buffer)


def read_answer(sock: socket.socket, buffer: bytes) -> bytes:
    """Read one Content-Length-framed answer; what follows it stays in the returned buffer."""
    while b"\r\n\r\n" not in buffer:
        buffer += receive(sock)
    head, _, rest = buffer.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200 "):
        raise RuntimeError(f"unexpected answer: {head[:80]!r}")
    length = int(cast(re.Match[bytes], re.search(rb"(?im)^content-length:\s*(\d+)", head))[1])  # Content-Length-framed
    while len(rest) < length:
        rest += receive(sock)
    return rest[length:]


def receive(sock: socket.socket) -> bytes:
    data = sock.recv(65536)
    if not data:
        raise RuntimeError("the server closed the connection")
    return data


def measure(layer: str, model: str, requests: int, path: str, folder: Path) -> dict:
    """One variant: calls per request (loaded minus idle over the same time), and the raw counts."""
    folder.mkdir(parents=True, exist_ok=True)
    server = ServerProcess(layer_command(layer, model, folder / "data"), folder / "server.stderr",
                           name=f"{layer}/{model}").wait_ready()
    try:
        keep_alive_load(server.host, server.port, 50, path)  # warm: imports, caches, the first thread
        started = time.monotonic()
        loaded = traced(server.pid, folder, "loaded", lambda: keep_alive_load(server.host, server.port, requests, path))
        took = time.monotonic() - started
        idle = traced(server.pid, folder, "idle", lambda: time.sleep(took))
    finally:
        server.stop()
    per_request = {name: round(max(0, calls - idle.get(name, 0)) / requests, 3) for name, calls in loaded.items()}
    per_request = {name: value for name, value in sorted(per_request.items(), key=lambda kv: -kv[1]) if value > 0}
    return {"variant": f"{layer}/{model}", "requests": requests, "path": path, "loaded": loaded, "idle": idle,
            "traced_s": round(took, 2), "per_request": per_request,
            "total_per_request": round(sum(per_request.values()), 2)}


def frequent(rows: list[dict]) -> list[str]:
    """The calls some variant makes at least once in 100 requests, the most frequent first (table, report, chart)."""
    most = {name: max(row["per_request"].get(name, 0) for row in rows) for row in rows for name in row["per_request"]}
    return [name for name, value in sorted(most.items(), key=lambda kv: -kv[1]) if value >= 0.01]


def table(rows: list[dict]) -> str:
    names = frequent(rows)
    head = f"{'variant':<28} {'total':>6} " + " ".join(f"{name[:10]:>10}" for name in names)
    lines = [head, "-" * len(head)]
    for row in rows:
        cells = " ".join(f"{row['per_request'].get(name, 0):>10.2f}" for name in names)
        lines.append(f"{row['variant']:<28} {row['total_per_request']:>6.2f} {cells}")
    return "\n".join(lines)


VARIANTS_HELP = "LAYER/MODEL,... (default: each layer's default model and every event-loop model)"


def add_common(p: argparse.ArgumentParser, requests: int, what: str, variants_help: str = VARIANTS_HELP) -> None:
    """--requests, --variants and --out, the same on every per-variant measurement (this one, bench.cpu_profile)."""
    p.add_argument("--requests", type=int, default=requests, help=f"keep-alive requests {what} (default {requests})")
    p.add_argument("--variants", help=variants_help)
    p.add_argument("--out", type=Path, help="the folder to write into (default results/<name>-<UTC stamp>)")


def resolve(p: argparse.ArgumentParser, options: argparse.Namespace, name: str,
            choose: Callable[[str | None], list[tuple[str, str]]] = chosen) -> list[tuple[str, str]]:
    """The variants `choose` makes of --variants (bench.cpu_profile's own adds the framework apps), the flags shared
    with bench.cpu_profile checked; a bad flag is p.error()."""
    if options.requests < 1:
        p.error("--requests must be at least 1")
    if options.out is not None and options.out.exists() and not options.out.is_dir():
        p.error(f"--out {options.out} is a file, not a folder")
    try:
        return choose(options.variants)
    except ValueError as exc:
        p.error(str(exc))


def output(options: argparse.Namespace, name: str) -> Path:
    """--out, or results/NAME-<UTC stamp>; made (once every flag has been checked)."""
    out = options.out or Path("results") / datetime.now(UTC).strftime(f"{name}-%Y%m%dT%H%M%SZ")
    out.mkdir(parents=True, exist_ok=True)
    return out


def request_path(text: str) -> str:
    """An argparse type: a request target (starts with /, no white space), e.g. /plaintext."""
    if not text.startswith("/") or any(char.isspace() for char in text):
        raise ValueError(text)
    return text


request_path.__name__ = "request path (/..., no spaces)"  # argparse names the type in its one-line error


def save(out: Path, name: str, rows: list[dict], text: str) -> int:
    """Write {"schema": 1, "rows": rows} as OUT/NAME and print the table and the file."""
    (out / name).write_text(json.dumps({"schema": 1, "rows": rows}, indent=2))
    print(text + f"\n\n{out / name}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog="python -m bench.syscalls", description=__doc__.split("\n\n")[0])
    add_common(p, 2000, "traced per variant")
    p.add_argument("--path", type=request_path, default=DEFAULT_PATH,
                   help="the GET each request makes (default /plaintext)")
    options = p.parse_args(argv)
    which = resolve(p, options, "syscalls")
    if not shutil.which("strace"):
        p.error("strace is not installed (apt-get install strace)")
    return run(which, options.requests, options.path, output(options, "syscalls"))


def run(which: list[tuple[str, str]], requests: int, path: str, out: Path) -> int:
    """strace each variant over `requests` GETs of `path`, into OUT/syscalls.json (printed as a table too)."""
    steps, rows = Steps("syscalls", len(which)), []
    for layer, model in which:
        steps.step(f"{layer}/{model}, strace over {requests} keep-alive requests, then as long idle")
        rows.append(measure(layer, model, requests, path, out / f"{layer}-{model}"))
    steps.finish()
    return save(out, "syscalls.json", rows, table(rows))


if __name__ == "__main__":
    exit_on_sigterm()
    sys.exit(main())
