"""`server-layers hostile`: clients that do not read what they asked for, against each concurrent server.

SPEC §4 (issue 22): the answers waiting on one connection hold at most 64 KiB beyond the one being sent, the
server reads no further request while they wait, and a send that makes no progress for --send-timeout closes
the connection. Three cases, each bounded in connections and time, on loopback, each on a fresh server
process started with the --send-timeout given:

- pipelining: N connections, each with a 4 KiB receive buffer, send 64 KiB of pipelined `GET /test.jpg`
  and never read;
- slow_readers: N connections ask for the largest file of webapp/static/ and read one byte a second;
- mix: both kinds at once beside keep-alive clients doing the usual requests.

Everything is measured from outside the server: its memory (PSS summed over its process tree: RSS with each
shared page split among the processes sharing it, so a forking server's children are not counted N times),
the kernel's view of each hostile connection (the server's end of it in /proc/net/tcp: its send and receive
queues, and the moment it stops being ESTABLISHED, which is when the server closed it; the client, which does
not read, could not see the FIN behind the unread data) and a normal client's latency meanwhile.

It reports what it sees and judges nothing: tests/test_stress.py holds the servers to the SPEC with these
functions. It must not import locust, serve anything, leave loopback, end a process it did not start, or
exit the process from the library (main() alone returns an exit status; bad flags exit 2 in one line).
"""

import argparse
import http.client
import json
import os
import platform
import resource
import select
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from urllib.parse import quote

import psutil

from http11.limits import OUTPUT_BUDGET
from oneline import OneLineParser, bounded, seconds

from . import measure
from .catalog import MODELS
from .results import cpu_model, git_commit, utc_now
from .runner import Server

ROOT = Path(__file__).resolve().parent.parent
STATIC_DIR = ROOT / "webapp" / "static"
PIPELINED = b"GET /test.jpg HTTP/1.1\r\nHost: a\r\n\r\n"
PIPELINE_BYTES = 65536
PIPELINE = PIPELINED * (PIPELINE_BYTES // len(PIPELINED))  # as many whole requests as fit in 64 KiB: 1872
CLIENT_RCVBUF = 4096  # set before connect, so the window the server sees stays small

CLOSE_MARGIN_S = 2.0  # "closed in time": within --send-timeout + this of the stall
KEEPALIVE_S = 5.0  # passed to every server explicitly: an idle connection's end (SPEC §4's default)
CLIENT_TIMEOUT_S = 5.0  # a normal client's request that takes longer is a failure
PROBES = 20  # normal requests on fresh connections (cases without keep-alive clients): the first amid the burst
NORMAL_PATHS = ("/plaintext", "/", "/test.jpg")
CASES = ("pipelining", "slow_readers", "mix")
ESTABLISHED = 0x01  # the state column of /proc/net/tcp
POLL_S, MEMORY_EVERY_S, READ_EVERY_S = 0.1, 0.25, 1.0
UNSEEN_GIVE_UP_S = 2.0  # a connection the server's kernel never showed as established (a full accept queue)
MEMORY_MEASURE = ("PSS summed over the server's process tree (/proc/PID/smaps_rollup, or smaps; VmRSS where neither "
                  "can be read)")


def concurrent_variants() -> list[tuple[str, str]]:
    """Every (layer, model) that serves connections at once: all but iterative."""
    return [(layer, model) for layer, models in MODELS.items() for model in models if model != "iterative"]


def largest_static() -> tuple[str, int]:
    """(`/static/NAME`, its size) of the largest regular file of webapp/static/ as it is now."""
    files = [path for path in STATIC_DIR.iterdir() if path.is_file() and not path.is_symlink()]
    if not files:
        raise FileNotFoundError(f"no file in {STATIC_DIR}")
    largest = max(files, key=lambda path: (path.stat().st_size, path.name))
    return f"/static/{quote(largest.name)}", largest.stat().st_size


# --- what the server holds: memory, and its end of each connection -------------------------------------------


def process_tree(pid: int) -> list[int]:
    """`pid` and every live process under it (a forking server's connection processes): what bench.soak samples
    and the memory here is summed over."""
    return [pid, *measure.descendants(pid)]


def process_memory_kib(pid: int) -> int:
    """One process's PSS (KiB), or its RSS (VmRSS) where smaps_rollup and smaps cannot be read; 0 once it is gone
    (a zombie has no memory). psutil: memory_full_info().pss reads /proc/PID/smaps_rollup (smaps where that is
    missing), memory_info().rss /proc/PID/statm, the same counters as status's VmRSS."""
    try:
        process = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return 0
    for read in (lambda: process.memory_full_info().pss, lambda: process.memory_info().rss):
        try:
            return read() // 1024  # whole KiB: the kernel counts in kB (pss) or pages (rss)
        except (psutil.Error, OSError):  # AccessDenied, NoSuchProcess; an unreadable smaps file
            continue
    return 0


def tree_memory_mib(pid: int) -> float:
    """MEMORY_MEASURE of process_tree(pid), MiB."""
    return sum(process_memory_kib(member) for member in process_tree(pid)) / 1024


@dataclass(frozen=True)
class ServerEnd:
    """The server's end of one TCP connection, as /proc/net/tcp shows it."""

    state: int  # ESTABLISHED while the server has not closed it
    send_queue: int  # bytes the server's kernel holds to send (written by the server, not yet acknowledged)
    unread: int  # bytes the server's kernel received that the server has not read


def server_ends(port: int) -> dict[int, ServerEnd]:
    """The server's end of each connection to local `port`, by the client's port (IPv4 and IPv6 tables); where
    one client port has several entries (an old one in TIME_WAIT), the established one.

    Read from /proc/net/tcp itself, not psutil: psutil.net_connections gives each socket's state and addresses
    but not its send and receive queues (tx_queue, rx_queue), which are the figures here."""
    ends: dict[int, ServerEnd] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, state, queues = fields[1], fields[2], int(fields[3], 16), fields[4]
            client = int(remote.rpartition(":")[2], 16)
            if int(local.rpartition(":")[2], 16) != port or client == 0:
                continue
            send_queue, unread = (int(value, 16) for value in queues.split(":"))
            if ends.get(client, ServerEnd(0, 0, 0)).state != ESTABLISHED:
                ends[client] = ServerEnd(state, send_queue, unread)
    return ends


# --- hostile and normal clients ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A running server: its process (the root of its tree) and its loopback address."""

    pid: int
    host: str
    port: int


def connect_small(target: Target, timeout: float = 10.0) -> socket.socket:
    """A connection with a CLIENT_RCVBUF receive buffer (set before connect, so the window starts small)."""
    family = socket.AF_INET6 if ":" in target.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, CLIENT_RCVBUF)
        sock.settimeout(timeout)
        sock.connect((target.host, target.port))
    except OSError:
        sock.close()
        raise
    return sock


def open_small(target: Target, count: int) -> list[socket.socket]:
    """`count` connect_small() connections; on a failure, those made so far are closed and it raises."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            socks.append(connect_small(target))
    except OSError:
        close_all(socks)
        raise
    return socks


def close_all(socks) -> None:
    for sock in socks:
        sock.close()


def send_all(socks: list[socket.socket], payload: bytes, deadline: float) -> list[float | None]:
    """Send `payload` on every socket at once (non-blocking, poll): for each, the monotonic time its last byte
    went out, or None when the deadline came first or the server closed it. The sockets stay non-blocking."""
    done: list[float | None] = [None] * len(socks)
    sent = [0] * len(socks)
    poller, by_fd = select.poll(), {}
    for index, sock in enumerate(socks):
        sock.setblocking(False)
        poller.register(sock, select.POLLOUT)
        by_fd[sock.fileno()] = index
    while by_fd and time.monotonic() < deadline:
        for fd, _event in poller.poll(max(0.0, deadline - time.monotonic()) * 1000):
            index = by_fd[fd]
            try:
                sent[index] += socks[index].send(payload[sent[index]:])
            except BlockingIOError:
                continue
            except OSError:  # reset or broken pipe: the server closed it before taking it all
                sent[index] = -1
            if sent[index] in (-1, len(payload)):
                done[index] = time.monotonic() if sent[index] > 0 else None
                poller.unregister(fd)
                del by_fd[fd]
    return done


def answer_once(socks: list[socket.socket]) -> None:
    """Each connection asks for /test.jpg once and reads the answer whole, as a normal client would; OSError when
    one is not a 200."""
    for sock in socks:
        sock.sendall(PIPELINED)
    for sock in socks:
        response = http.client.HTTPResponse(sock)
        try:
            response.begin()
            response.read()
        except http.client.HTTPException as exc:
            raise OSError(f"a hostile connection's first answer: {exc!r}") from exc
        finally:
            response.close()
        if response.status != HTTPStatus.OK:
            raise OSError(f"a hostile connection's first answer: status {response.status}")


def read_a_byte(sock: socket.socket) -> int:
    """What a slow reader does each second: one byte, if one is there (-1 once the connection has ended)."""
    try:
        return len(sock.recv(1)) or -1
    except BlockingIOError:
        return 0
    except OSError:
        return -1


def get(target: Target, path: str, connection: http.client.HTTPConnection | None = None) -> str:
    """One GET (on `connection`, else on a fresh one, closed after it): '' on a 200 with its whole body, else what
    went wrong (`status 503`, `TimeoutError`, ...)."""
    own = connection is None
    connection = connection or http.client.HTTPConnection(target.host, target.port, timeout=CLIENT_TIMEOUT_S)
    try:
        connection.request("GET", path, headers={"Connection": "close"} if own else {})
        response = connection.getresponse()
        response.read()
        return "" if response.status == HTTPStatus.OK else f"status {response.status}"
    except (OSError, http.client.HTTPException) as exc:
        connection.close()
        return type(exc).__name__
    finally:
        if own:
            connection.close()


def warm_up(target: Target, static_path: str) -> None:
    """Each kind of request once, so lazy imports and caches are in the server's memory before it is measured."""
    for path in (*NORMAL_PATHS, static_path):
        get(target, path)


@dataclass(frozen=True)
class Latency:
    """Normal requests while the hostile connections held: how many, how many failed, how long the good ones took."""

    requests: int
    failures: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    failure_kinds: dict[str, int]  # what went wrong, e.g. {"TimeoutError": 2}


def latency(times_s: list[float], failures: list[str]) -> Latency:
    ordered = sorted(times_s)

    def at(share: float) -> float | None:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000, 2) if ordered else None

    kinds = {kind: failures.count(kind) for kind in sorted(set(failures))}
    return Latency(len(ordered) + len(failures), len(failures), at(0.5), at(0.99), at(1.0), kinds)


class NormalClients:
    """`count` keep-alive clients in threads, each cycling through NORMAL_PATHS until stopped, timing each request;
    a failed request is counted and its connection made anew."""

    def __init__(self, target: Target, count: int) -> None:
        self.target, self.stopped = target, threading.Event()
        self.times: list[float] = []
        self.failures: list[str] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.client, daemon=True) for _ in range(count)]

    def __enter__(self) -> "NormalClients":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(CLIENT_TIMEOUT_S * 2)

    def client(self) -> None:
        connection = http.client.HTTPConnection(self.target.host, self.target.port, timeout=CLIENT_TIMEOUT_S)
        step = 0
        while not self.stopped.is_set():
            started = time.monotonic()
            failure = get(self.target, NORMAL_PATHS[step % len(NORMAL_PATHS)], connection)
            self.record(time.monotonic() - started, failure)
            step += 1
        connection.close()

    def record(self, took_s: float, failure: str) -> None:
        with self.lock:
            if failure:
                self.failures.append(failure)
            else:
                self.times.append(took_s)

    def latency(self) -> Latency:
        with self.lock:
            return latency(list(self.times), list(self.failures))


# --- watching the server while they hold ---------------------------------------------------------------------


@dataclass(frozen=True)
class Kernel:
    """The server's kernel queues of the open hostile connections, KiB: the median over them, at its highest
    in the watch (the kernel holds this much outside the server's memory)."""

    send_queue_kib: float | None
    unread_kib: float | None


class Watch:
    """From a thread of its own: every POLL_S the server's end of each hostile connection (closed once, having been
    seen ESTABLISHED, it is no longer), every MEMORY_EVERY_S the server's memory. It starts before the hostile
    clients send; once they have, stalled() sets its bounds. It ends when stopped, at its deadline, when the
    memory passes `max_mib`, or once every connection is closed and `hold_s` has passed since the last stall."""

    def __init__(self, target: Target, ports: list[int], bound_s: float, max_mib: float) -> None:
        self.target, self.ports, self.max_mib = target, ports, max_mib
        self.started = time.monotonic()
        self.hold_until, self.deadline, self.ended = float("inf"), self.started + bound_s, self.started
        ends = server_ends(target.port)
        self.seen = {port for port in ports if port in ends and ends[port].state == ESTABLISHED}
        self.closed_at: dict[int, float] = {}  # client port -> when the server's end stopped being established
        self.peak_mib, self.kernel, self.over_cap = 0.0, Kernel(None, None), False
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def __enter__(self) -> "Watch":
        self.thread.start()
        return self

    def __exit__(self, *_) -> None:
        self.stopped.set()
        self.thread.join()

    def stalled(self, last_stall: float, hold_s: float, watch_s: float) -> None:
        """Every hostile client has sent: watch at least `hold_s` and at most `watch_s` from `last_stall` on."""
        self.hold_until, self.deadline = last_stall + hold_s, last_stall + watch_s

    def done(self) -> bool:
        return not self.thread.is_alive()

    def run(self) -> None:
        try:
            self.watch()
        finally:
            self.ended = time.monotonic()

    def watch(self) -> None:
        next_memory = 0.0
        while not self.stopped.is_set():
            now = time.monotonic()
            ends = server_ends(self.target.port)
            self.note_closes(ends, now)
            self.note_queues(ends)
            if now >= next_memory:
                self.note_memory()
                next_memory = now + MEMORY_EVERY_S
            all_closed = len(self.closed_at) == len(self.ports)
            if self.over_cap or now >= self.deadline or (all_closed and now >= self.hold_until):
                return
            self.stopped.wait(POLL_S)

    def note_closes(self, ends: dict[int, ServerEnd], now: float) -> None:
        for port in self.ports:
            end = ends.get(port)
            if end is not None and end.state == ESTABLISHED:
                self.seen.add(port)
            elif port not in self.closed_at and (port in self.seen or now - self.started > UNSEEN_GIVE_UP_S):
                self.closed_at[port] = now

    def note_queues(self, ends: dict[int, ServerEnd]) -> None:
        held = [ends[port] for port in self.ports if port in ends and ends[port].state == ESTABLISHED]
        if held:
            send, unread = median_kib([end.send_queue for end in held]), median_kib([end.unread for end in held])
            self.kernel = Kernel(max(send, self.kernel.send_queue_kib or 0.0),
                                 max(unread, self.kernel.unread_kib or 0.0))

    def note_memory(self) -> None:
        mib = tree_memory_mib(self.target.pid)
        self.peak_mib = max(self.peak_mib, mib)
        self.over_cap = mib > self.max_mib

    def never_established(self) -> int:
        return len(set(self.ports) - self.seen)


def median_kib(values: list[int]) -> float:
    return round(statistics.median(values) / 1024, 1)


# --- one case ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """One case: how many hostile connections of each kind, the normal traffic beside them, and its bounds."""

    case: str
    pipelining: int = 0
    slow_readers: int = 0
    normal_clients: int = 0  # keep-alive clients for the whole window; 0: PROBES requests on fresh connections
    send_timeout_s: float = 3.0  # the server's --send-timeout (the caller starts the server with it)
    watch_s: float = 13.0  # how long after the stall to wait for the server to close them, at most
    hold_s: float = 2.0  # watch at least this long after the stall, even once all are closed (memory samples)
    max_server_mib: float = 4096.0  # past this the case ends at once: the hostile connections are let go

    @property
    def hostile(self) -> int:
        return self.pipelining + self.slow_readers


def plans(cases: list[str], connections: int, slow: int, clients: int, send_timeout_s: float,
          margin_s: float) -> list[Plan]:
    """The cases asked for: `connections` pipelining; `slow` slow readers; the mix with half of each beside
    `clients` keep-alive clients, held until the send timeout and its margin have passed."""
    watch = send_timeout_s + margin_s
    made = {
        "pipelining": Plan("pipelining", pipelining=connections, send_timeout_s=send_timeout_s, watch_s=watch),
        "slow_readers": Plan("slow_readers", slow_readers=slow, send_timeout_s=send_timeout_s, watch_s=watch),
        "mix": Plan("mix", pipelining=max(1, connections // 2), slow_readers=max(1, slow // 2),
                    normal_clients=clients, send_timeout_s=send_timeout_s, watch_s=watch,
                    hold_s=send_timeout_s + CLOSE_MARGIN_S),
    }
    return [made[case] for case in cases]


@dataclass(frozen=True)
class Memory:
    """The server's memory (MEMORY_MEASURE), MiB: before; idle, with the hostile connections open, each having had
    one normal answer (so that a forked connection process has already copied the pages serving touches); and at
    its peak once they had turned hostile."""

    before_mib: float
    idle_mib: float
    peak_mib: float
    idle_per_connection_mib: float  # what an open connection costs at all (a thread, a forked process, buffers)
    growth_per_connection_mib: float  # peak over idle, per hostile connection: what their unread answers cost


@dataclass(frozen=True)
class Closes:
    """When the server closed the hostile connections, in seconds from each one's stall (its last byte sent)."""

    connections: int
    closed: int  # closed by the server before the watch ended
    in_time: int  # closed within in_time_bound_s
    in_time_bound_s: float  # --send-timeout + CLOSE_MARGIN_S
    never_established: int  # the server's kernel never showed them established (counted as closed)
    median_s: float | None
    p90_s: float | None
    max_s: float | None
    watched_s: float
    times_s: tuple[float, ...]  # each closed connection's, in order


@dataclass(frozen=True)
class CaseResult:
    """One case on one server."""

    layer: str
    model: str
    case: str
    pipelining: int
    slow_readers: int
    normal_clients: int
    send_timeout_s: float
    static_path: str  # the slow readers' file (the largest of webapp/static/)
    static_bytes: int
    memory: Memory
    closes: Closes
    normal: Latency  # while the hostile clients hold (the mix: its keep-alive clients, all the while)
    amid_burst_ms: float | None  # a normal request sent as they finished sending (None in the mix, or if it failed)
    kernel: Kernel
    slow_bytes_read: int
    server_alive: bool  # at the end of the watch
    over_cap: bool  # the memory passed max_server_mib and the case was cut short
    elapsed_s: float


def settle_memory(pid: int, samples: int = 3, interval: float = 0.2) -> float:
    """The median of a few memory readings a moment apart."""
    readings = []
    for index in range(samples):
        if index:
            time.sleep(interval)
        readings.append(tree_memory_mib(pid))
    return statistics.median(readings)


def closes(watch: Watch, stalled: dict[int, float], plan: Plan) -> Closes:
    """Each closed connection's time from its stall to the server's close (0 when it closed before its stall)."""
    times = sorted(round(max(0.0, at - stalled[port]), 2) for port, at in watch.closed_at.items())
    bound = plan.send_timeout_s + CLOSE_MARGIN_S
    quantile = (lambda share: times[min(len(times) - 1, int(share * len(times)))] if times else None)
    return Closes(plan.hostile, len(times), sum(t <= bound for t in times), bound, watch.never_established(),
                  statistics.median(times) if times else None, quantile(0.9), quantile(1.0),
                  round(watch.ended - watch.started, 2), tuple(times))


def stall(pipelining: list[socket.socket], slow: list[socket.socket], static_path: str,
          send_bound_s: float) -> dict[int, float]:
    """The slow readers ask for `static_path`, the others send PIPELINE: by client port, when each one stalled
    (its last byte sent; for a connection the server closed first, when the sending ended)."""
    stalled = {}
    for sock in slow:
        sock.sendall(f"GET {static_path} HTTP/1.1\r\nHost: a\r\n\r\n".encode())
        sock.setblocking(False)
        stalled[sock.getsockname()[1]] = time.monotonic()
    finished = send_all(pipelining, PIPELINE, time.monotonic() + send_bound_s)
    ended = time.monotonic()
    for sock, at in zip(pipelining, finished, strict=True):
        stalled[sock.getsockname()[1]] = at or ended
    return stalled


def memory_figures(before: float, idle: float, peak: float, connections: int) -> Memory:
    peak, connections = max(peak, idle), max(1, connections)
    return Memory(round(before, 2), round(idle, 2), round(peak, 2), round((idle - before) / connections, 3),
                  round((peak - idle) / connections, 3))


def attack(target: Target, plan: Plan, alive=lambda: True, layer: str = "", model: str = "") -> CaseResult:
    """Run `plan` against the server at `target` (started with --send-timeout plan.send_timeout_s); `alive()` says
    whether the server process is still running. Raises OSError when the hostile connections cannot be opened."""
    started = time.monotonic()
    static_path, static_bytes = largest_static()
    warm_up(target, static_path)
    before = settle_memory(target.pid)
    pipelining = open_small(target, plan.pipelining)
    slow = open_small(target, plan.slow_readers)
    try:
        answer_once(pipelining + slow)
        idle = settle_memory(target.pid)
        ports = [sock.getsockname()[1] for sock in pipelining + slow]
        with Watch(target, ports, 2 * plan.watch_s, plan.max_server_mib) as watch:
            stalled = stall(pipelining, slow, static_path, plan.watch_s)
            watch.stalled(max(stalled.values(), default=time.monotonic()), plan.hold_s, plan.watch_s)
            with NormalClients(target, plan.normal_clients) as normal:
                probed, amid_burst, read = hold(target, watch, slow, probes=0 if plan.normal_clients else PROBES)
            server_alive = alive()
    finally:
        close_all(pipelining + slow)
    asked = (static_path, static_bytes) if plan.slow_readers else ("", 0)
    return CaseResult(layer, model, plan.case, plan.pipelining, plan.slow_readers, plan.normal_clients,
                      plan.send_timeout_s, *asked, memory_figures(before, idle, watch.peak_mib, plan.hostile),
                      closes(watch, stalled, plan), normal.latency() if plan.normal_clients else probed, amid_burst,
                      watch.kernel, read, server_alive, watch.over_cap, round(time.monotonic() - started, 2))


def hold(target: Target, watch: Watch, slow: list[socket.socket], probes: int) -> tuple[Latency, float | None, int]:
    """While the watch runs: the slow readers read a byte a second each, and `probes` normal requests go out on
    fresh connections, one every POLL_S. The first goes out as the hostile clients finish sending, while the
    server still answers what they sent until its send buffers are full: it is timed apart (ms, None if it
    failed; a failure of any probe counts in the latency's). The latency of the others, sent while the hostile
    clients hold, and the bytes the slow readers read."""
    times, failures, read, next_read = [], [], 0, time.monotonic()
    first, sent = None, 0
    reading = list(slow)
    while not watch.done():
        if time.monotonic() >= next_read:
            got = [read_a_byte(sock) for sock in reading]
            read += sum(n for n in got if n > 0)
            reading = [sock for sock, n in zip(reading, got, strict=True) if n >= 0]
            next_read += READ_EVERY_S
        if sent < probes:
            asked = time.monotonic()
            failure = get(target, "/plaintext")
            if failure:
                failures.append(failure)
            elif sent == 0:
                first = round((time.monotonic() - asked) * 1000, 2)
            else:
                times.append(time.monotonic() - asked)
            sent += 1
        time.sleep(POLL_S)
    return latency(times, failures), first, read


# --- soak: hostile connections that come and go --------------------------------------------------------------


@dataclass(frozen=True)
class ChurnCounts:
    """What the soak's hostile clients did: opened, closed by the server (expected: they are hostile), failed to
    open, still open at the end, and stuck: open longer than `stuck_after_s`, closed late or never."""

    opened: dict[str, int]
    closed_by_server: dict[str, int]
    open_failures: int
    open_at_end: int
    stuck: int
    stuck_after_s: float
    longest_open_s: float


@dataclass
class Hostile:
    kind: str  # "pipelining" or "slow"
    sock: socket.socket
    port: int
    opened: float
    seen: bool = False
    read: int = 0


class Churn:
    """`pipelining` connections that send PIPELINE and never read, and `slow` ones that ask for the largest static
    file and read a byte a second; each the server closes is replaced at once, so hostile clients come and go for
    the whole run. Driven from a thread of its own; it counts and never raises."""

    def __init__(self, target: Target, pipelining: int, slow: int, stuck_after_s: float) -> None:
        self.target, self.want = target, {"pipelining": pipelining, "slow": slow}
        self.stuck_after_s = stuck_after_s
        self.static_path = largest_static()[0]
        self.live: list[Hostile] = []
        self.opened = dict.fromkeys(self.want, 0)
        self.closed = dict.fromkeys(self.want, 0)
        self.failures, self.late, self.longest_s = 0, 0, 0.0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def finish(self) -> ChurnCounts:
        self.stopped.set()
        self.thread.join(30)
        now = time.monotonic()
        ages = [now - hostile.opened for hostile in self.live]
        counts = ChurnCounts(dict(self.opened), dict(self.closed), self.failures, len(self.live),
                             self.late + sum(age > self.stuck_after_s for age in ages), self.stuck_after_s,
                             round(max([self.longest_s, *ages]), 1))
        close_all(hostile.sock for hostile in self.live)
        return counts

    def run(self) -> None:
        next_read = time.monotonic()
        while not self.stopped.wait(POLL_S * 2.5):
            self.refill()
            self.reap(server_ends(self.target.port))
            if time.monotonic() >= next_read:
                for hostile in self.live:
                    hostile.read += max(0, read_a_byte(hostile.sock)) if hostile.kind == "slow" else 0
                next_read += READ_EVERY_S

    def refill(self) -> None:
        for kind, want in self.want.items():
            for _ in range(want - sum(hostile.kind == kind for hostile in self.live)):
                try:
                    self.live.append(self.open(kind))
                    self.opened[kind] += 1
                except OSError:
                    self.failures += 1

    def open(self, kind: str) -> Hostile:
        sock = connect_small(self.target)
        try:
            if kind == "slow":
                sock.sendall(f"GET {self.static_path} HTTP/1.1\r\nHost: a\r\n\r\n".encode())
                sock.setblocking(False)
            elif send_all([sock], PIPELINE, time.monotonic() + CLIENT_TIMEOUT_S)[0] is None:
                raise OSError("the pipelined requests did not go out")
        except OSError:
            sock.close()
            raise
        return Hostile(kind, sock, sock.getsockname()[1], time.monotonic())

    def reap(self, ends: dict[int, ServerEnd]) -> None:
        """Close (ours) and count each hostile connection the server has closed (its end no longer established)."""
        now, keep = time.monotonic(), []
        for hostile in self.live:
            end = ends.get(hostile.port)
            established = end is not None and end.state == ESTABLISHED
            hostile.seen = hostile.seen or established
            gone = not established and (hostile.seen or now - hostile.opened > UNSEEN_GIVE_UP_S)
            if gone:
                hostile.sock.close()
                self.closed[hostile.kind] += 1
                self.late += now - hostile.opened > self.stuck_after_s
                self.longest_s = max(self.longest_s, now - hostile.opened)
            else:
                keep.append(hostile)
        self.live = keep


# --- the command ---------------------------------------------------------------------------------------------


def variant_list(text: str) -> list[tuple[str, str]]:
    """An argparse type: LAYER/MODEL,... among the concurrent variants."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    chosen = [(layer, model) for layer, _, model in (item.partition("/") for item in items)]
    if not chosen or any(variant not in concurrent_variants() for variant in chosen):
        raise ValueError(text)
    return list(dict.fromkeys(chosen))


variant_list.__name__ = "list of LAYER/MODEL (concurrent models only, e.g. raw_socket/selectors)"


def case_list(text: str) -> list[str]:
    chosen = [item.strip() for item in text.split(",") if item.strip()]
    if not chosen or any(case not in CASES for case in chosen):
        raise ValueError(text)
    return [case for case in CASES if case in chosen]


case_list.__name__ = f"list of {', '.join(CASES)}"


count = bounded(int, 1, 2000, "connection count (1..2000)")

EXAMPLES = """examples:
  server-layers hostile                                             # every concurrent variant, every case
  server-layers hostile --layer http_server_impl --model threaded --connections 20 --send-timeout 2 --out /tmp/h
  server-layers hostile --variants raw_socket/selectors,asyncio_impl/protocol --cases pipelining
"""


def parser() -> OneLineParser:
    p = OneLineParser(prog="server-layers hostile", description=__doc__.split("\n\n")[0],
                      epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layer", choices=list(MODELS), help="only this layer's concurrent models")
    p.add_argument("--model", help="only this model (with or without --layer)")
    p.add_argument("--variants", type=variant_list,
                   help="LAYER/MODEL,... instead (default: every concurrent variant)")
    p.add_argument("--cases", type=case_list, default=list(CASES), help=f"some of {','.join(CASES)} (default: all)")
    p.add_argument("--connections", type=count, default=100,
                   help="pipelining connections (default 100; the mix: half)")
    p.add_argument("--slow", type=count, default=20, help="slow readers (default 20; the mix: half)")
    p.add_argument("--clients", type=count, default=8, help="keep-alive clients beside them in the mix (default 8)")
    p.add_argument("--send-timeout", type=seconds, default=3.0, metavar="S",
                   help="the servers' --send-timeout (default 3, so that runs are short)")
    p.add_argument("--margin", type=seconds, default=10.0, metavar="S",
                   help="wait for the closes until --send-timeout + S after the stall (default 10)")
    p.add_argument("--max-server-mib", type=float, default=4096.0, metavar="MIB",
                   help="cut a case short when the server's memory passes this (default 4096)")
    p.add_argument("--out", type=Path, help="folder for hostile.json (default results/hostile-<UTC stamp>)")
    return p


def selected(p: OneLineParser, args: argparse.Namespace) -> list[tuple[str, str]]:
    """The variants the flags name; p.error() when they name none or mix --variants with --layer/--model."""
    if args.variants and (args.layer or args.model):
        p.error("give --variants, or --layer and --model, not both")
    chosen = args.variants or [(layer, model) for layer, model in concurrent_variants()
                               if args.layer in (None, layer) and args.model in (None, model)]
    if not chosen:
        p.error(f"no concurrent variant is {args.layer or '*'}/{args.model or '*'} (iterative serves one at a time)")
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        p.error(f"--out {args.out} is a file, not a folder")
    return chosen


def host() -> dict:
    """The machine, the Python and the code a run measures: the first keys of hostile.json's and soaks.json's
    environment."""
    return {"python": platform.python_version(), "platform": platform.platform(), "cpu_model": cpu_model(),
            "cpus": os.cpu_count(), "git_commit": git_commit(), "git_changed": git_changed()}


def environment(args: argparse.Namespace) -> dict:
    """The host and the settings of the run."""
    return {**host(), "started": utc_now(), "finished": None,
            "tcp_wmem": read_text("/proc/sys/net/ipv4/tcp_wmem"),
            "tcp_rmem": read_text("/proc/sys/net/ipv4/tcp_rmem"),
            "memory_measure": MEMORY_MEASURE, "send_timeout_s": args.send_timeout, "keepalive_timeout_s": KEEPALIVE_S,
            "connections": args.connections, "slow_readers": args.slow, "mix_clients": args.clients,
            "probes": PROBES, "probe_every_s": POLL_S, "watch_margin_s": args.margin, "close_margin_s": CLOSE_MARGIN_S,
            "client_rcvbuf": CLIENT_RCVBUF,
            "pipeline_bytes": len(PIPELINE), "pipelined_requests": len(PIPELINE) // len(PIPELINED),
            "budget_bytes": OUTPUT_BUDGET,
            "largest_static": dict(zip(("path", "bytes"), largest_static(), strict=True))}


def git_changed() -> list[str] | None:
    """The files changed from the commit (the servers measured may be those of a work in progress)."""
    try:
        result = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True,
                                timeout=10)
    except OSError:
        return None
    return [line[3:] for line in result.stdout.splitlines()] if result.returncode == 0 else None


def read_text(path: str) -> str | None:
    try:
        return " ".join(Path(path).read_text().split())
    except OSError:
        return None


def server_flags(send_timeout_s: float) -> list[str]:
    return ["--send-timeout", f"{send_timeout_s:g}", "--keepalive-timeout", f"{KEEPALIVE_S:g}"]


def measure_case(layer: str, model: str, plan: Plan, folder: Path) -> CaseResult:
    """`plan` on a fresh server of this variant, stopped afterwards (RuntimeError when it does not start)."""
    server = Server(layer, model, folder, None, server_flags(plan.send_timeout_s))
    try:
        return attack(Target(server.pid, server.host, server.port), plan, lambda: not server.exited(), layer, model)
    finally:
        server.stop()


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(rows: list[CaseResult]) -> str:
    lines = [f"{'variant':<28} {'case':<12} {'conns':>5} {'MiB/conn':>8} {'idle/conn':>9} {'peak MiB':>8} "
             f"{'closed':>8} {'in time':>8} {'close med/max s':>15} {'normal p50/max ms':>17} {'burst ms':>8} "
             f"{'fail':>4} {'sendq KiB':>9} {'time s':>6}"]
    for row in rows:
        c, n = row.closes, row.normal
        lines.append(f"{row.layer + '/' + row.model:<28} {row.case:<12} {c.connections:>5} "
                     f"{row.memory.growth_per_connection_mib:>8.3f} {row.memory.idle_per_connection_mib:>9.3f} "
                     f"{row.memory.peak_mib:>8.1f} {f'{c.closed}/{c.connections}':>8} "
                     f"{f'{c.in_time}/{c.connections}':>8} "
                     f"{fmt(c.median_s) + '/' + fmt(c.max_s):>15} {fmt(n.p50_ms) + '/' + fmt(n.max_ms):>17} "
                     f"{fmt(row.amid_burst_ms):>8} {n.failures:>4} {fmt(row.kernel.send_queue_kib, 0):>9} "
                     f"{row.elapsed_s:>6.1f}"
                     + (" OVER CAP" if row.over_cap else "") + ("" if row.server_alive else " SERVER GONE"))
    return "\n".join(lines)


def raise_fd_limit() -> None:
    """Our clients' sockets, and the servers' (they inherit it), up to the hard limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    variants = selected(p, args)
    out = args.out or Path("results") / datetime.now(UTC).strftime("hostile-%Y%m%dT%H%M%SZ")
    out.mkdir(parents=True, exist_ok=True)
    raise_fd_limit()
    env, rows, errors = environment(args), [], []
    for layer, model in variants:
        started = time.monotonic()
        for plan in plans(args.cases, args.connections, args.slow, args.clients, args.send_timeout, args.margin):
            plan = replace(plan, max_server_mib=args.max_server_mib)
            try:
                rows.append(measure_case(layer, model, plan, out / f"{layer}-{model}" / plan.case))
            except (RuntimeError, OSError) as exc:
                errors.append({"layer": layer, "model": model, "case": plan.case, "error": str(exc)})
        print(f"{layer}/{model}: {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
    env["finished"] = utc_now()
    document = {"schema": 1, "environment": env, "rows": [asdict(row) for row in rows], "errors": errors}
    (out / "hostile.json").write_text(json.dumps(document, indent=2))
    print(table(rows))
    for error in errors:
        print(f"{error['layer']}/{error['model']} {error['case']}: {error['error']}")
    print(f"\n{out / 'hostile.json'}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
