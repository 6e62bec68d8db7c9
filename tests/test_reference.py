"""The reference point (bench/wrk.py, bench/reference.py, bench/stock_server.py).

parse_wrk and the ratio arithmetic are tested on captured wrk output, without a
socket. One live test starts the stock http.server; a second runs wrk for a second
against it when wrk is installed. No speed is asserted and uvicorn is never needed.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from helpers import ROOT

from bench import reference, wrk
from bench.process import ServerProcess

# wrk 4.1.0, captured against bench.stock_server (200s) and its 404 path
OK = """\
Running 2s test @ http://127.0.0.1:46589/plaintext
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    28.40ms  110.95ms 860.10ms   93.98%
    Req/Sec     6.50k     1.34k    9.31k    65.00%
  Latency Distribution
     50%    1.19ms
     75%    3.16ms
     90%    8.73ms
     99%  672.07ms
  12935 requests in 2.00s, 2.05MB read
Requests/sec:   6464.63
Transfer/sec:      1.02MB
"""
NON_2XX = """\
Running 1s test @ http://127.0.0.1:46589/nope
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.04ms    3.92ms  33.78ms   88.56%
    Req/Sec     1.50k   641.75     2.54k    63.64%
  Latency Distribution
     50%    2.54ms
     75%    3.77ms
     90%    8.51ms
     99%   21.43ms
  1648 requests in 1.10s, 817.74KB read
  Non-2xx or 3xx responses: 1648
Requests/sec:   1498.48
Transfer/sec:    743.54KB
"""
# captured against a server that answered 500s and dropped some connections
SOCKET_ERRORS = """\
Running 3s test @ http://127.0.0.1:34029/plaintext
  1 threads and 20 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   402.99us    2.01ms  38.79ms   97.38%
    Req/Sec    49.73k    10.23k   77.91k    83.33%
  Latency Distribution
     50%  120.00us
     75%  163.00us
     90%  214.00us
     99%    8.91ms
  149094 requests in 3.02s, 5.97MB read
  Socket errors: connect 0, read 25, write 0, timeout 0
  Non-2xx or 3xx responses: 149094
Requests/sec:  49407.93
Transfer/sec:      1.98MB
"""
# OK's layout with whole-second latencies and timeouts (wrk's "%.2f%s" with unit "s")
SECONDS = """\
Running 10s test @ http://127.0.0.1:8000/plaintext
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   512.30ms  401.22ms   1.99s    71.00%
    Req/Sec    97.31     40.12   210.00     66.00%
  Latency Distribution
     50%  401.00ms
     75%  802.11ms
     90%    1.20s
     99%    1.98s
  970 requests in 10.01s, 153.44KB read
  Socket errors: connect 0, read 0, write 0, timeout 12
Requests/sec:     96.90
Transfer/sec:     15.33KB
"""


def test_parse_ok():
    result = wrk.parse_wrk(OK)
    assert result["requests"] == 12935 and result["ok_requests"] == 12935
    assert result["rps"] == 6464.63
    assert result["duration_s"] == 2.0
    assert (result["p50_ms"], result["p75_ms"], result["p90_ms"], result["p99_ms"]) == (1.19, 3.16, 8.73, 672.07)
    assert (result["latency_avg_ms"], result["latency_max_ms"]) == (28.4, 860.1)
    assert result["non_2xx"] == 0 and result["errors"] == 0
    assert result["socket_errors"] == {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    assert result["bytes_read"] == round(2.05 * 1024**2)
    assert result["transfer_bytes_per_s"] == round(1.02 * 1024**2)


def test_parse_non_2xx():
    result = wrk.parse_wrk(NON_2XX)
    assert result["requests"] == 1648 and result["non_2xx"] == 1648 and result["ok_requests"] == 0
    assert result["duration_s"] == 1.1 and result["errors"] == 0
    assert result["bytes_read"] == round(817.74 * 1024)


def test_parse_socket_errors_and_microseconds():
    result = wrk.parse_wrk(SOCKET_ERRORS)
    assert result["socket_errors"] == {"connect": 0, "read": 25, "write": 0, "timeout": 0}
    assert result["errors"] == 25 and result["non_2xx"] == 149094
    assert result["p50_ms"] == pytest.approx(0.12) and result["p90_ms"] == pytest.approx(0.214)
    assert result["p99_ms"] == 8.91
    assert result["latency_avg_ms"] == pytest.approx(0.40299)


def test_parse_seconds():
    result = wrk.parse_wrk(SECONDS)
    assert result["p90_ms"] == 1200.0 and result["p99_ms"] == 1980.0 and result["latency_max_ms"] == 1990.0
    assert result["socket_errors"]["timeout"] == 12 and result["errors"] == 12
    assert result["duration_s"] == 10.01 and result["rps"] == 96.9


@pytest.mark.parametrize("text", ["", "unable to connect to 127.0.0.1:1 Connection refused\n", OK.split("Requests/sec")[0]])
def test_parse_rejects_what_is_not_a_report(text):
    with pytest.raises(ValueError):
        wrk.parse_wrk(text)


def test_wrk_command():
    command = wrk.wrk_command("http://127.0.0.1:8000/", seconds=10, connections=50, threads=1, headers=["Connection: keep-alive"])
    assert command == ["wrk", "--latency", "-t", "1", "-c", "50", "-d", "10s", "-H", "Connection: keep-alive",
                       "http://127.0.0.1:8000/plaintext"]


def test_cpu_us_per_request_reads_proc_around_the_run(monkeypatch):
    reads = iter([1.0, 1.5])
    monkeypatch.setattr(wrk.measure, "tree_cpu_so_far", lambda pid: next(reads))
    result = wrk.cpu_us_per_request(1234, lambda: wrk.parse_wrk(OK))
    assert result["server_cpu_s"] == 0.5
    assert result["cpu_us_per_req"] == round(0.5e6 / 12935, 2)


def run(target: str, repeat: int, cpu_us: float) -> dict:
    return {"target": target, "repeat": repeat, "status": "ok", "cpu_us_per_req": cpu_us, "rps": 1000.0,
            "p50_ms": 1.0, "p99_ms": 2.0, "server_cpu_pct": 99.0, "wrk_cpu_pct": 30.0, "errors": 0}


def test_ratios_of_medians_with_verdicts():
    (fast, base, aim), (slow, slow_base, _) = reference.RATIOS[:2]  # two aims against the same reference
    assert base == slow_base and aim < 1.0
    runs = [run(base, r, us) for r, us in [(1, 40.0), (2, 36.0), (3, 38.0)]]
    runs += [run(fast, r, us) for r, us in [(1, 30.0), (2, 26.6), (3, 25.0)]]
    runs += [run(slow, r, 45.6) for r in (1, 2, 3)]
    runs.append({"target": base, "repeat": 4, "status": "failed", "error": "x"})
    summary = reference.summarise(runs)
    assert summary[base]["cpu_us_per_req"] == {"median": 38.0, "min": 36.0, "max": 40.0}
    assert summary[base]["ok"] == 3 and summary[base]["runs"] == 4
    verdicts = {(v["measured"], v["reference"]): v for v in reference.ratios(runs, summary)}
    assert verdicts[(fast, base)]["ratio"] == 0.7 and verdicts[(fast, base)]["verdict"] == "PASS"
    assert verdicts[(fast, base)]["rounds"]["max"] == 0.75
    assert verdicts[(slow, base)]["ratio"] == 1.2 and verdicts[(slow, base)]["verdict"] == "FAIL"
    unmeasured = next(key for key in verdicts if not {*key} & {fast, slow, base})
    assert verdicts[unmeasured]["verdict"] == "n/a"  # neither side measured
    unaimed = [v for v in reference.RATIOS if v[2] is None and v[1] == base]  # how far, with no target
    aside = [run(unaimed[0][0], r, us) for r, us in [(1, 50.0), (2, 46.0), (3, 44.0)]]
    far = {(v["measured"], v["reference"]): v
           for v in reference.ratios(runs + aside, reference.summarise(runs + aside))}[unaimed[0][:2]]
    assert far["verdict"] == "-" and far["ratio"] == round(46.0 / 38.0, 3)  # of the medians
    assert "PASS" in reference.table(summary, list(verdicts.values()))


def test_reference_rejects_bad_flags(capsys):
    with pytest.raises(SystemExit) as exit_info:
        reference.parse_args(["--targets", "nginx"])
    assert exit_info.value.code == 2 and "nginx" in capsys.readouterr().err


@pytest.fixture
def stock_server(tmp_path):
    server = ServerProcess([sys.executable, "-m", "bench.stock_server", "--port", "0"], tmp_path / "stock.stderr",
                           name="stock").wait_ready()
    assert server.host == "127.0.0.1" and server.port > 0
    yield server
    server.stop()


def test_stock_server_answers_plaintext(stock_server):
    url = stock_server.url
    with urllib.request.urlopen(url + "/plaintext", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        assert response.read() == b"Hello, World!"
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(url + "/nope", timeout=10)
    assert missing.value.code == 404
    assert stock_server.stop().status == 0
    assert stock_server.stderr() == ""  # log_message is silenced


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_run_wrk_live(stock_server):
    result = wrk.cpu_us_per_request(stock_server.pid, lambda: wrk.run_wrk(stock_server.url, seconds=1, connections=4))
    assert result["requests"] > 0 and result["non_2xx"] == 0 and result["p99_ms"] is not None
    assert result["server_cpu_s"] >= 0 and result["wrk_exit"] == 0


def test_a_baseline_adds_its_servers_and_ratios(tmp_path, capsys):
    """--baseline DIR: our servers from DIR beside today's, with their own ratios; only the layers DIR has."""
    older = sorted({layer for layer, *_ in reference.OURS})[1:]  # a checkout from before one of the layers
    for layer in older:
        (tmp_path / layer).mkdir()
    options = reference.parse_args(["--baseline", str(tmp_path)])
    before = [name for name in options.targets if name.startswith(reference.BEFORE)]
    assert len(before) == sum(layer in older for layer, *_ in reference.OURS) > 0
    chosen = {t.name: t for t in reference.targets(baseline=tmp_path)}
    assert all(chosen[name].cwd == tmp_path for name in before)
    runs = [run("uvicorn", 1, 40.0), run("raw_socket/selectors", 1, 30.0), run("before:raw_socket/selectors", 1, 60.0)]
    verdicts = {v["measured"]: v for v in reference.ratios(runs, reference.summarise(runs))}
    assert verdicts["before:raw_socket/selectors"]["ratio"] == 1.5
    assert verdicts["before:raw_socket/selectors"]["verdict"] == "FAIL"
    assert verdicts["raw_socket/selectors"]["verdict"] == "PASS"
    with pytest.raises(SystemExit) as exit_info:
        reference.parse_args(["--baseline", str(tmp_path / "nowhere")])
    assert exit_info.value.code == 2 and "nowhere" in capsys.readouterr().err


def test_without_a_baseline_no_before_ratios():
    runs = [run("uvicorn", 1, 40.0), run("raw_socket/selectors", 1, 30.0)]
    assert not any(v["measured"].startswith(reference.BEFORE)
                   for v in reference.ratios(runs, reference.summarise(runs)))


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_a_baseline_server_runs_from_its_checkout(tmp_path):
    """A real round of one before:* target, started from the baseline folder (here the work tree itself)."""
    out = tmp_path / "out"
    code = reference.main(["--seconds", "1", "--repeat", "1", "--connections", "4", "--out", str(out),
                           "--targets", "before:raw_socket/selectors", "--baseline", str(ROOT)])
    results = json.loads((out / "reference.json").read_text())
    assert code == 0, results["runs"]
    (only,) = results["runs"]
    assert only["target"] == "before:raw_socket/selectors" and only["status"] == "ok" and only["ok_requests"] > 0
    assert results["environment"]["baseline"]["path"] == str(ROOT.resolve())


def test_the_cpu_of_a_process_tree_counts_its_live_children(tmp_path):
    """A pre-fork server spends its CPU in a worker it never reaps: tree_cpu_so_far counts it, cpu_so_far cannot."""
    from bench import measure

    code = ("import os, sys, time\n"
            "if os.fork() == 0:\n"
            "    end = time.process_time() + 0.3\n"
            "    while time.process_time() < end: pass\n"
            "    print('spent', flush=True); time.sleep(30); os._exit(0)\n"
            "time.sleep(30)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert parent.stdout.readline().strip() == b"spent"
        assert len(measure.descendants(parent.pid)) == 1
        assert measure.tree_cpu_so_far(parent.pid) - measure.cpu_so_far(parent.pid) >= 0.25
    finally:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait()
        parent.stdout.close()
