"""The benchmark harness, in short real runs on loopback: servers and Locust as separate processes.

No speed is asserted here: only that the harness measures, validates and records what it should.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import pytest
from helpers import ROOT, header, wait_for

from bench import measure
from bench.catalog import DEFAULT_MODEL, MODELS
from bench.classify import bound_by
from bench.cli import make_plan
from bench.knobs import DEFAULT, KNOBS, ONLY, STOCK_LAYER, STOCK_MODELS, flags
from bench.process import ServerProcess, layer_command
from bench.runner import Server
from conformance.corpus import ResponseReader

SHORT = ["--duration", "2s", "--warmup", "0.2s", "--users", "2"]
RUN_FIELDS = {"layer", "model", "scenario", "users", "rate", "repeat", "rps", "fail_ratio", "p50_ms", "p90_ms",
              "p99_ms", "max_ms", "server_cpu_s", "cpu_us_per_req", "server_peak_rss_mb", "locust_cpu_pct", "bound_by",
              "requests", "failures"}


def bench(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "server_layers", "bench", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def results(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())


# --- bound_by on synthetic numbers ---------------------------------------------------


@pytest.mark.parametrize(
    "rps,ceiling,locust_pct,server_pct,expected",
    [
        (4500, 5000, 60, 70, "load-generator"),  # above 80% of the harness ceiling
        (1000, 5000, 95, 40, "load-generator"),  # Locust itself saturated
        (1000, 5000, 50, 99, "server"),  # the server's core is full, the harness is not
        (1000, 5000, 50, 30, "pacing"),  # both have headroom: rps follows users or rate
        (3900, 5000, 89, 85, "server"),  # just under both harness limits
        (1000, None, 50, 99, "server"),  # no calibration: only Locust's CPU can say load-generator
    ],
)
def test_bound_by(rps, ceiling, locust_pct, server_pct, expected):
    assert bound_by(rps, ceiling, locust_pct, server_pct) == expected



# --- bad flags ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--layers", "twisted"],
        ["--users", "0"],
        ["--users", "1,x"],
        ["--duration", "soon"],
        ["--duration", "0s"],
        ["--users", "1", "--rates", "100"],
        ["--scenario", "nope"],
        ["--models", "selectors", "--layers", "http_server_impl"],
        ["--locust-workers", "2", "--expect-workers", "2"],
        ["--target", "http://10.0.0.1:80"],
        ["--server-args=--port 9"],  # only the servers' knobs, never where they listen
        ["--server-args=--backlog"],
        ["--knobs", "fast"],
        ["--knobs", "default,fast"],
        ["--knobs", ""],
        ["--knobs", "all", "--server-args=--backlog 64"],  # a knob's row would not be what it says
        ["--knobs", "no-keepalive", "--target", "http://127.0.0.1:9"],  # knobs are flags of servers the bench starts
    ],
)
def test_bad_flags_exit_2_with_one_line(args, tmp_path):
    result = bench(*args, "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


@pytest.mark.parametrize("args", [["--models", "iterative"], ["--scenario", "page"],
                                  ["--server-args=--max-connections 5"]])
def test_the_stock_pseudo_layer_takes_threaded_plaintext_and_knob_flags_only(args, tmp_path):
    result = bench("--layers", STOCK_LAYER, *args, "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert STOCK_LAYER in result.stderr and not (tmp_path / "out").exists()


def test_knob_selection_and_the_order_of_the_plan(tmp_path):
    out = ["--out", str(tmp_path / "out")]
    default = make_plan(out)
    assert default.knobs == [DEFAULT] and STOCK_LAYER not in default.layers  # the stock server only when asked
    assert make_plan(["--knobs", "all", *out]).knobs == list(KNOBS)
    plan = make_plan(["--knobs", "access-log,default", "--layers", f"raw_socket,{STOCK_LAYER}", "--users", "1,2", *out])
    assert plan.knobs == [DEFAULT, "access-log"]  # the table's order, whatever the order asked
    assert [(layer, knob, level.users) for layer, _, knob, level, _ in plan.runs()] == [
        (layer, knob, users) for layer in ("raw_socket", STOCK_LAYER) for knob in (DEFAULT, "access-log")
        for users in (1, 2)]


@pytest.mark.parametrize("knob", list(ONLY))
def test_a_knob_only_some_layers_take_runs_on_those_alone(knob, tmp_path):
    plan = make_plan(["--knobs", f"default,{knob}", "--layers", ",".join(MODELS), "--out", str(tmp_path / "out")])
    takers = {layer for layer, _, chosen, _, _ in plan.runs() if chosen == knob}
    assert takers == ONLY[knob] & set(MODELS) and takers
    assert {layer for layer, _, chosen, _, _ in plan.runs() if chosen == DEFAULT} == set(MODELS)


def test_out_folder_that_is_not_empty_needs_force(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    result = bench(*SHORT, "--out", str(tmp_path))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert (tmp_path / "keep.txt").read_text() == "mine"


# --- real runs ---------------------------------------------------------------------


def test_run_over_two_layers_writes_every_field(tmp_path):
    out = tmp_path / "run"
    result = bench("--layers", "raw_socket,http_server_impl", *SHORT, "--server-args=--backlog 64", "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    data = results(out)
    assert data["schema"] == 1
    assert {"python", "platform", "cpus", "locust", "git_commit", "started", "finished"} <= set(data["environment"])
    assert data["calibration"]["status"] == "ok" and data["calibration"]["rps"] > 0
    assert [(r["layer"], r["model"]) for r in data["runs"]] == [("raw_socket", "threaded"),
                                                                ("http_server_impl", "threaded")]
    for run in data["runs"]:
        assert set(run) >= RUN_FIELDS and run["status"] == "ok", run
        assert run["requests"] > 0 and run["failures"] == 0 and run["rps"] > 0
        assert run["latency_samples"] == run["requests"]  # every response time, not Locust's buckets
        assert 0 < run["p50_ms"] <= run["p90_ms"] <= run["p99_ms"] <= run["max_ms"]
        assert run["server_cpu_s"] > 0 and run["cpu_us_per_req"] > 0 and run["server_peak_rss_mb"] > 5
        assert run["bound_by"] in {"server", "load-generator", "pacing"} and run["server_args"] == "--backlog 64"
        assert (out / "locust" / f"{run['layer']}-threaded-plaintext-u2-1_stats.csv").is_file()
    assert {(s["layer"], s["repeats"]) for s in data["summary"]} == {("raw_socket", 1), ("http_server_impl", 1)}
    assert data["summary"][0]["cpu_us_per_req"]["median"] == data["runs"][0]["cpu_us_per_req"]


def test_knob_matrix_run_records_each_knob_and_its_flags(tmp_path):
    out = tmp_path / "run"
    layers = ["raw_socket", STOCK_LAYER]
    result = bench("--knobs", "default,no-keepalive", "--layers", ",".join(layers), *SHORT, "--repeat", "1",
                   "--server-args=--backlog 64", "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    data = results(out)
    knobs = [DEFAULT, "no-keepalive"]
    assert data["plan"]["knobs"] == knobs
    assert [(r["layer"], r["knob"]) for r in data["runs"]] == [(layer, knob) for layer in layers for knob in knobs]
    for run in data["runs"]:
        assert run["status"] == "ok" and run["requests"] > 0 and run["failures"] == 0, run
        assert run["server_args"] == " ".join([*flags(run["knob"]), "--backlog", "64"])
        assert run["cpu_us_per_req"] > 0
    assert len(list((out / "servers").iterdir())) == len(data["runs"])  # a folder of its own for every run
    assert sorted((s["layer"], s["knob"], s["repeats"]) for s in data["summary"]) == sorted(
        (layer, knob, 1) for layer in layers for knob in knobs)  # repeats of different knobs never merged


@pytest.mark.parametrize("knob", [DEFAULT, "no-keepalive"])
@pytest.mark.parametrize("layer", [*MODELS, STOCK_LAYER])
def test_a_knob_reaches_the_server(layer, knob, tmp_path):
    """The bench's own Server with the knob's flags: no-keepalive answers `Connection: close` and closes."""
    model = {**DEFAULT_MODEL, STOCK_LAYER: STOCK_MODELS[0]}[layer]
    server = Server(layer, model, tmp_path / "server", None, flags(knob))
    try:
        host, port = server.url.removeprefix("http://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            reader = ResponseReader(sock.recv)
            sock.sendall(b"GET /plaintext HTTP/1.1\r\nHost: test.local\r\n\r\n")
            first = reader.read_response()
            assert first.status == HTTPStatus.OK and first.body == b"Hello, World!"
            if knob == "no-keepalive":
                assert header(first, "connection") == "close" and reader.at_eof()
            else:
                assert header(first, "connection") != "close"
                sock.sendall(b"GET /plaintext HTTP/1.1\r\nHost: test.local\r\n\r\n")
                assert reader.read_response().status == HTTPStatus.OK  # the same connection, still open
    finally:
        usage = server.stop()
    assert usage is not None and usage.status == 0, server.stderr_tail()


class WrongAnswers(BaseHTTPRequestHandler):
    """A target that answers 200 with the wrong body: not one of our servers."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = b"Goodbye, World!"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_wrong_answers_count_as_failures_not_throughput(tmp_path):
    target = ThreadingHTTPServer(("127.0.0.1", 0), WrongAnswers)
    threading.Thread(target=target.serve_forever, daemon=True).start()
    try:
        result = bench("--target", f"http://127.0.0.1:{target.server_port}", *SHORT, "--out", str(tmp_path / "out"))
    finally:
        target.shutdown()
    assert result.returncode == 0, result.stderr[-2000:]
    (run,) = results(tmp_path / "out")["runs"]
    assert run["requests"] > 0 and run["failures"] == run["requests"]
    assert run["rps"] == 0 and run["fail_ratio"] == 1.0


def server_pids(out: Path) -> list[int]:
    """Our bench's server processes: their command line names its output folder."""
    pids = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []  # None where it cannot be read
        if "--data-dir" in cmdline and str(out / "servers") in " ".join(cmdline) and "-m" in cmdline:
            pids.append(process.pid)
    return pids


def test_a_server_that_dies_mid_run_is_recorded_and_the_rest_goes_on(tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "server_layers", "bench", "--layers", "raw_socket,socketserver_impl",
               "--duration", "4s", "--warmup", "0.2s", "--users", "2", "--out", str(out)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    first = f"{out}/servers/raw_socket-threaded"
    victims = wait_for(lambda: [p for p in server_pids(out) if first in " ".join(psutil.Process(p).cmdline())],
                       timeout=120)
    assert victims
    wait_for(lambda: list((out / "locust").glob("raw_socket*")), timeout=60)  # Locust is running against it
    os.kill(victims[0], signal.SIGKILL)
    assert process.wait(300) == 1, process.stderr.read()[-2000:]  # a failed run: the bench says so in its status
    first_run, second_run = results(out)["runs"]
    assert first_run["status"] == "failed" and first_run["server_exit"] == -signal.SIGKILL
    assert "error" in first_run and "stderr_tail" in first_run
    assert second_run["status"] == "ok" and second_run["rps"] > 0


def test_a_master_with_two_local_workers_completes_a_run(tmp_path):
    out = tmp_path / "out"
    result = bench("--layers", "raw_socket", "--locust-workers", "2", "--duration", "3s", "--warmup", "0.2s",
                   "--users", "4", "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    (run,) = results(out)["runs"]
    assert run["status"] == "ok" and run["requests"] > 0 and run["failures"] == 0
    assert run["latency_samples"] == run["requests"]  # both workers' histograms reached the master


# --- compare: the quick profile in rounds ----------------------------------------------------


def test_compare_exits_1_when_a_run_fails_and_still_reports_the_rest(tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "server_layers", "compare", "--no-probe", "--rounds", "1", "--windows", "1",
               "--window", "2s", "--share", "1s", "--scenarios", "plaintext", "--out", str(out)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: list((out / "locust").glob("*")), timeout=120)  # Locust is pacing every server
    victim = server_pids(out)[0]
    os.kill(victim, signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 1, stderr[-2000:]
    assert "FAILED" in stderr and stdout.strip() == str(out / "report.html")
    runs = results(out)["runs"]
    dead = [run for run in runs if run["status"] != "ok"]
    assert dead and all("server" in run["error"] for run in dead)
    assert len({(run["layer"], run["model"]) for run in dead}) == 1  # only the killed server's passes
    assert [run for run in runs if run["status"] == "ok"] and (out / "report.html").is_file()
    assert {run["load"] for run in runs} == {"locust", "wrk"} and {run["round"] for run in runs} == {1}


# --- the soak's leak verdict on synthetic samples ----------------------------------------------


def samples(fds: list[int]) -> list[dict]:
    return [{"t": i, "rss_mb": 20.0, "fds": n, "threads": 9} for i, n in enumerate(fds)]


def test_soak_fds_in_flight_are_no_leak_but_a_rising_floor_is():
    from bench.soak import FD_SLACK, verdict

    in_flight = [30] * 3 + [12, 15, 12, 18, 12, 13, 12, 16, 12, 12, 17, 12, 12, 14, 12, 19, 12, 12, 15, 12, 12]
    assert verdict(samples(in_flight)) == {"rss_growth": 0.0, "fd_drift": 0, "passed": True}
    leak = [12 + i for i in range(24)]  # one fd more every sample, never given back
    assert verdict(samples(leak))["fd_drift"] > FD_SLACK and not verdict(samples(leak))["passed"]


@pytest.mark.parametrize("args", [["--layers", "twisted"], ["--models", "nope"],
                                  ["--layers", "http_server_impl", "--models", "selectors"], ["--rounds", "0"],
                                  ["--windows", "0"], ["--scenarios", "guestbook"]])
def test_compare_bad_flags_exit_2_with_one_line(args, tmp_path):
    result = subprocess.run([sys.executable, "-m", "server_layers", "compare", *args, "--out", str(tmp_path / "out")],
                            cwd=ROOT, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


# --- the CPU clock sampled through a pass ------------------------------------------------------------


def test_the_cpu_sampler_reads_any_window_inside_its_reads_and_none_outside():
    busy = subprocess.Popen([sys.executable, "-c", "import time\nend = time.time() + 1\nwhile time.time() < end: pass"])
    with measure.CpuSampler(busy.pid, None, interval=0.02) as sampler:
        busy.wait()
    first, last = sampler.times[0], sampler.times[-1]
    assert len(sampler.times) > 10 and sampler.cpu == sorted(sampler.cpu)
    assert sampler.at(first - 0.01) is None and sampler.at(last + 0.01) is None
    early, late = sampler.at(first + 0.2), sampler.at(first + 0.7)
    assert 0 < late - early <= 0.5 + 0.02  # one thread spends at most the window's length
    assert sampler.at(first) == sampler.cpu[0] and sampler.at(last) == sampler.cpu[-1]


# --- the process tree through psutil: what the soak samples and hostile sums ----------------------------------


def test_a_tree_is_sampled_whole_and_a_zombie_adds_nothing():
    from bench import hostile, soak

    code = ("import os, subprocess, sys, threading, time\n"
            "threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
            "quick = subprocess.Popen([sys.executable, '-c', 'pass'])\n"
            "print(child.pid, quick.pid, flush=True)\n"
            "time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        child, zombie = map(int, parent.stdout.readline().split())
        assert wait_for(lambda: measure.stopped(zombie), timeout=30)  # exited, never reaped: a zombie
        assert sorted(hostile.process_tree(parent.pid)) == sorted([parent.pid, child, zombie])
        alone = soak.sample(child)
        whole = soak.sample(parent.pid)
        assert alone["threads"] == 1 and alone["fds"] >= 3 and alone["rss_mb"] > 1
        # the parent's two threads and the child's one; none of the zombie's
        assert whole["threads"] == alone["threads"] + 2
        assert whole["fds"] > alone["fds"] and whole["rss_mb"] > alone["rss_mb"]
        assert hostile.process_memory_kib(zombie) == 0 and hostile.process_memory_kib(child) > 0
        assert measure.descendants(2**22 + 1) == [] and measure.stopped(2**22 + 1)  # beyond pid_max: gone
        with pytest.raises(ProcessLookupError):
            measure.user_and_system(2**22 + 1)
    finally:
        parent.kill()
        parent.wait()


def test_no_serving_module_imports_psutil_or_locust():
    """psutil and locust are the harness's: a server, bench.stock_cgi among them (it imports bench.process and so
    bench.measure), loads neither."""
    serving = ["raw_socket", "socketserver_impl", "http_server_impl", "asyncio_impl", "serving", "webapp", "http11",
               "adapters"]
    code = ("import importlib, pkgutil, sys\n"
            f"for package in {serving!r}:\n"
            "    module = importlib.import_module(package)\n"
            "    for info in pkgutil.iter_modules(module.__path__):\n"
            "        if info.name != '__main__':\n"
            "            importlib.import_module(f'{package}.{info.name}')\n"
            "import bench.stock_server, bench.stock_cgi\n"
            "print(sorted(name for name in sys.modules if name.split('.')[0] in ('psutil', 'locust')))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# --- the one launcher ---------------------------------------------------------------------------------


def session_members(session: int) -> list[int]:
    """Live processes (not zombies) of a session."""
    members = []
    for process in psutil.process_iter(["status"]):
        try:
            if process.info["status"] != psutil.STATUS_ZOMBIE and os.getsid(process.pid) == session:
                members.append(process.pid)
        except OSError:  # gone since it was listed
            continue
    return members


def test_the_launcher_stops_a_forking_server_with_its_children(tmp_path):
    server = ServerProcess(layer_command("raw_socket", "forking", tmp_path / "data"), tmp_path / "server.stderr",
                           name="raw_socket/forking").wait_ready()
    with socket.create_connection((server.host, server.port), timeout=10) as sock:  # a child serves this one
        sock.sendall(b"GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 200")
        children = [pid for pid in session_members(server.pid) if pid != server.pid]
        usage = server.stop()
    assert children and usage.status == 0 and server.url == f"http://{server.host}:{server.port}"
    assert wait_for(lambda: not session_members(server.pid)), session_members(server.pid)


def test_a_server_that_never_says_where_it_listens_is_stopped_and_named(tmp_path):
    mute = ServerProcess([sys.executable, "-c", "import time\nprint('hello', flush=True)\ntime.sleep(60)"],
                         tmp_path / "mute.stderr", name="mute")
    with pytest.raises(RuntimeError, match="mute did not start: 'hello'"):
        mute.wait_ready(timeout=1)
    assert mute.process.returncode is not None and not session_members(mute.pid)


def test_a_wrk_stopped_half_way_is_ended_and_reaped(tmp_path):
    from bench import wrk

    layer, model = next(iter(DEFAULT_MODEL.items()))
    server = Server(layer, model, tmp_path / "server", None)
    try:
        load = wrk.start_wrk(server.url, "/plaintext", 30, 4, 1, None)
        wait_for(lambda: server.process.poll() is None and not load.done(), timeout=5)
        load.stop()
        assert load.done() and load.process.returncode is not None  # killed, and wait4 has reaped it
        load.stop()  # a second stop is no error
    finally:
        server.stop()
