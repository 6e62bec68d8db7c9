"""The stress tier: slow clients, clients that never read, many connections, a connection cap, kills and stops
under load, a soak with hostile clients mixed in.

Every count and duration is bounded. Figures are printed (run with -s to see
them) and never asserted against a clock: the assertions are about behaviour.
"""

import json
import resource
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from helpers import ROOT, VARIANTS, kill_group, wait_for

from bench import hostile
from bench.catalog import EVENT_LOOP_VARIANTS
from bench.process import ServerProcess
from conformance.corpus import Closed, ResponseReader

pytestmark = pytest.mark.stress

CONCURRENT = [v for v in VARIANTS if v[1] != "iterative"]
IDS = [f"{layer}-{model}" for layer, model in CONCURRENT]
EVENT_LOOP_IDS = [f"{layer}-{model}" for layer, model in EVENT_LOOP_VARIANTS]
GET = b"GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n"


@pytest.fixture(scope="module", autouse=True)
def many_fds():
    """Servers started from here inherit the raised limit too."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    yield hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def open_connections(server, count: int) -> list[socket.socket]:
    return [server.connect(timeout=30) for _ in range(count)]


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 1024**2  # VmRSS


@pytest.mark.parametrize("variant", CONCURRENT, ids=IDS)
def test_slowloris_gets_408_while_a_normal_client_is_served(variant, start_server):
    header_timeout = 3.0
    with start_server(variant, "--header-timeout", str(header_timeout)) as server:
        slow = open_connections(server, 200)
        started = time.monotonic()
        head = b"GET /plaintext HTTP/1.1\r\nHost: a\r\nX-Slow: " + b"a" * 60
        for position in range(6):  # dribble the head, one byte per connection per round
            for sock in slow:
                sock.sendall(head[position : position + 1])
        normal_started = time.monotonic()
        answer = server.get("/plaintext")
        normal_s = time.monotonic() - normal_started
        assert answer.status == 200
        statuses = []
        for sock in slow:
            try:
                sock.sendall(head[6:7])  # still dribbling; the server must not wait for the rest
            except OSError:
                pass
            statuses.append(ResponseReader(sock.recv).read_response().status)
            sock.close()
        closed_s = time.monotonic() - started
        assert statuses == [408] * 200
        print(f"\n{variant}: normal client answered in {normal_s * 1000:.1f} ms while 200 slow heads dribbled; "
              f"all 200 got 408 and close {closed_s:.2f} s after they began (--header-timeout {header_timeout:g})")


@pytest.mark.parametrize("variant", CONCURRENT, ids=IDS)
def test_a_thousand_keep_alive_clients(variant, start_server):
    with start_server(variant, "--keepalive-timeout", "60") as server:  # opening 1000 takes longer than 5 s
        clients = open_connections(server, 1000)
        errors = 0
        for _round in range(3):
            for sock in clients:
                sock.sendall(GET)
            for sock in clients:
                try:
                    answer = ResponseReader(sock.recv).read_response()
                    errors += (answer.status, answer.body) != (200, b"Hello, World!")
                except (OSError, Closed):
                    errors += 1
        peak = rss_mb(server.process.pid)
        for sock in clients:
            sock.close()
        assert errors == 0
        print(f"\n{variant}: 1000 keep-alive connections x 3 requests, 0 errors; server main process RSS {peak:.0f} MB")


@pytest.mark.parametrize("variant", EVENT_LOOP_VARIANTS, ids=EVENT_LOOP_IDS)
def test_an_event_loop_holds_ten_thousand_idle_connections(variant, start_server, many_fds):
    assert many_fds > 10_500, "raise the hard fd limit to run this test"
    with start_server(variant, "--keepalive-timeout", "120") as server:
        idle = open_connections(server, 10_000)
        answer = server.get("/plaintext")
        rss = rss_mb(server.process.pid)
        fds = len(list(Path(f"/proc/{server.process.pid}/fd").iterdir()))
        open_still = sum(1 for sock in idle if not closed_already(sock))
        for sock in idle:
            sock.close()
        assert answer.status == 200 and open_still == 10_000
        assert rss < 150, f"{rss:.0f} MB"
        print(f"\n{variant}: 10,000 idle connections held, {fds} fds open in the server, RSS {rss:.1f} MB")


def closed_already(sock: socket.socket) -> bool:
    """True if the server already closed this connection (no blocking)."""
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    finally:
        sock.setblocking(True)


@pytest.mark.parametrize("variant", CONCURRENT, ids=IDS)
def test_past_the_connection_cap_the_answer_is_503(variant, start_server):
    with start_server(variant, "--max-connections", "20") as server:
        held = open_connections(server, 20)
        for sock in held:
            sock.sendall(GET)
            assert ResponseReader(sock.recv).read_response().status == 200
        (over,) = server.exchange(GET)
        assert over.status == 503
        held.pop().close()
        assert wait_for(lambda: server.get("/plaintext").status == 200)
        for sock in held:
            sock.close()


def post_and_get(server, client: int, acknowledged: list, errors: list, stop: threading.Event) -> None:
    """Keep-alive mixed load: a POST, then GETs; record what was acknowledged."""
    try:
        with server.connect(timeout=10) as sock:
            reader = ResponseReader(sock.recv)
            n = 0
            while not stop.is_set():
                body = json.dumps({"text": f"client {client} message {n}"}).encode()
                head = (b"POST /messages HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n")
                sock.sendall(head % len(body) + body + GET + GET)
                answers = [reader.read_response() for _ in range(3)]
                if answers[0].status == 201:
                    acknowledged.append(json.loads(answers[0].body)["text"])
                if any(a.status not in (200, 201) for a in answers) or answers[0].status != 201:
                    errors.append([a.status for a in answers])
                n += 1
    except (OSError, Closed):
        pass  # killed or stopped: what was acknowledged so far is what counts


def run_clients(server, count: int):
    acknowledged, errors, stop = [], [], threading.Event()
    threads = [threading.Thread(target=post_and_get, args=(server, c, acknowledged, errors, stop))
               for c in range(count)]
    for thread in threads:
        thread.start()
    return acknowledged, errors, stop, threads


@pytest.mark.parametrize("variant", CONCURRENT, ids=IDS)
def test_sigkill_under_mixed_load_loses_no_acknowledged_post(variant, start_server):
    with start_server(variant) as server:
        acknowledged, errors, stop, threads = run_clients(server, 16)
        assert wait_for(lambda: len(acknowledged) >= 150, timeout=120)
        kill_group(server)
        stop.set()
        for thread in threads:
            thread.join(30)
    with sqlite3.connect(server.data_dir / "messages.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {row[0] for row in db.execute("SELECT text FROM messages")}
    missing = set(acknowledged) - stored
    assert not missing and not errors
    print(f"\n{variant}: {len(acknowledged)} posts acknowledged before SIGKILL, {len(stored)} stored, 0 missing")


@pytest.mark.parametrize("variant", CONCURRENT, ids=IDS)
def test_sigterm_under_load_finishes_in_flight_and_the_port_is_free_at_once(variant, start_server, tmp_path):
    with start_server(variant) as server:
        acknowledged, errors, stop, threads = run_clients(server, 16)
        assert wait_for(lambda: len(acknowledged) >= 100, timeout=120)
        asked = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        status = server.process.wait(10)
        exited_s = time.monotonic() - asked
        stop.set()
        for thread in threads:
            thread.join(30)
        assert status == 0 and not errors  # every answer complete and right until the end
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((server.host, server.port), timeout=2)
        command = [sys.executable, "-m", server.layer, "--model", server.model, "--port", str(server.port),
                   "--data-dir", str(server.data_dir)]
        again = ServerProcess(command, tmp_path / "again.stderr", name="again").wait_ready()
        try:
            assert (again.host, again.port) == (server.host, server.port)
            with socket.create_connection((server.host, server.port), timeout=5) as sock:
                sock.sendall(b"GET /messages?limit=500 HTTP/1.1\r\nHost: a\r\n\r\n")
                stored = {m["text"] for m in json.loads(ResponseReader(sock.recv).read_response().body)["messages"]}
        finally:
            again.stop()
    assert set(acknowledged[-100:]) <= stored
    print(f"\n{variant}: SIGTERM under 16 busy clients: exit 0 after {exited_s:.2f} s, "
          f"{len(acknowledged)} posts acknowledged, restart on the same port at once")


# --- clients that do not read what they asked for (SPEC §4, issue 22; the figures come from bench.hostile) ------

HOSTILE_SEND_TIMEOUT_S = 2.0  # short, so that the closes come soon
CLOSE_BOUND_S = 15.0  # generous: the closes are waited for until --send-timeout + this after the stall
MAX_GROWTH_MIB = 0.5  # per hostile connection: the 64 KiB budget, one file piece and the socket's own buffers


def run_hostile(server, plan: hostile.Plan) -> hostile.CaseResult:
    """`plan` against a server started with hostile.server_flags(); the figures printed (run with -s)."""
    target = hostile.Target(server.process.pid, server.host, server.port)
    result = hostile.attack(target, plan, lambda: not server.started.exited(), server.layer, server.model)
    closes = result.closes
    print(f"\n{hostile.table([result])}\nclose times (s from the stall; --send-timeout {plan.send_timeout_s:g}): "
          f"{closes.closed}/{closes.connections} closed, {closes.in_time} within {closes.in_time_bound_s:g} s, "
          f"min {closes.times_s[0] if closes.times_s else '-'} median {closes.median_s} p90 {closes.p90_s} "
          f"max {closes.max_s}; never established {closes.never_established}; normal client {result.normal}; "
          f"memory {result.memory}; kernel queues {result.kernel}")
    return result


@pytest.mark.parametrize("variant", CONCURRENT, ids=IDS)
def test_clients_that_pipeline_and_never_read_cost_bounded_memory_and_are_closed(variant, start_server):
    plan = hostile.Plan("pipelining", pipelining=100, send_timeout_s=HOSTILE_SEND_TIMEOUT_S,
                        watch_s=HOSTILE_SEND_TIMEOUT_S + CLOSE_BOUND_S)
    with start_server(variant, *hostile.server_flags(HOSTILE_SEND_TIMEOUT_S)) as server:
        result = run_hostile(server, plan)
    assert result.server_alive and not result.over_cap
    assert result.memory.growth_per_connection_mib < MAX_GROWTH_MIB, result.memory
    assert result.normal.requests > 0 and result.normal.failures == 0, result.normal  # its latency is printed
    assert result.closes.closed >= 0.95 * plan.pipelining, result.closes


@pytest.mark.parametrize("variant", CONCURRENT, ids=IDS)
def test_slow_readers_of_the_largest_static_file_cost_bounded_memory_and_are_closed(variant, start_server):
    """Ten, so that one connection's figure is not lost in the allocator's noise."""
    plan = hostile.Plan("slow_readers", slow_readers=10, send_timeout_s=HOSTILE_SEND_TIMEOUT_S,
                        watch_s=HOSTILE_SEND_TIMEOUT_S + hostile.KEEPALIVE_S + CLOSE_BOUND_S)
    with start_server(variant, *hostile.server_flags(HOSTILE_SEND_TIMEOUT_S)) as server:
        result = run_hostile(server, plan)
    assert result.server_alive and not result.over_cap
    assert result.memory.growth_per_connection_mib < MAX_GROWTH_MIB, result.memory
    assert result.normal.requests > 0 and result.normal.failures == 0, result.normal
    assert result.closes.closed == plan.slow_readers, result.closes


SOAKED = [EVENT_LOOP_VARIANTS[0], ("http_server_impl", "threaded")]  # one event loop, one thread per connection


@pytest.mark.parametrize("variant", SOAKED, ids=[f"{layer}-{model}" for layer, model in SOAKED])
def test_short_soak_keeps_rss_and_fds_flat(variant, tmp_path):
    layer, model = variant
    command = [sys.executable, "-m", "server_layers", "soak", "--layer", layer, "--model", model, "--minutes", "0.5",
               "--interval", "1s", "--slow", "1", "--pipelining", "1", "--out", str(tmp_path)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180)
    print("\n" + result.stdout.strip())
    report = json.loads((tmp_path / "soak.json").read_text())
    assert result.returncode == 0 and report["passed"] and report["errors"] == 0 and report["requests"] > 1000
    closed = report["hostile"]["closed_by_server"]  # hostile clients came and went, none held past its bound
    assert closed["pipelining"] >= 1 and closed["slow"] >= 1 and report["hostile"]["stuck"] == 0
