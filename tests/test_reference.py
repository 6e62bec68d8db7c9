"""The reference point (bench/wrk.py, bench/reference.py, bench/stock_server.py).

parse_wrk and the ratio arithmetic are tested on captured wrk output, without a
socket. One live test starts the stock http.server; a second runs wrk for a second
against it when wrk is installed. No speed is asserted and uvicorn is never needed.
"""

import json
import shutil
import socket
import sys
import urllib.error
import urllib.request

import pytest
from helpers import ROOT, end_tree, python_tree

from bench import reference, reference_servers, wrk
from bench.process import ServerProcess

# wrk 4.1.0 with bench/wrk_report.lua, captured against bench.stock_server (200s) and its 404 path: its text, then
# the report line parse_wrk reads; the tests hold the figures read from the line to what the text shows
OK = """\
Running 2s test @ http://127.0.0.1:18977/plaintext
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    31.77ms  118.77ms 933.42ms   94.04%
    Req/Sec     3.92k     1.90k    7.26k    65.00%
  8050 requests in 2.08s, 1.27MB read
Requests/sec:   3875.16
Transfer/sec:    628.20KB
{"wrk_report": 1, "requests": 8050, "duration_us": 2077331, "bytes": 1336300, "errors": {"connect": 0, "read": 0, \
"write": 0, "timeout": 0, "status": 0}, "latency_us": {"mean": 31769.074887892377, "stdev": 118771.5265924555, \
"max": 933419, "p50": 1686, "p75": 4404, "p90": 24571, "p99": 722323}}
"""
NON_2XX = """\
Running 1s test @ http://127.0.0.1:18977/nope
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.53ms    6.15ms  47.46ms   88.95%
    Req/Sec     1.27k   835.85     2.88k    80.00%
  1296 requests in 1.04s, 220.22KB read
  Non-2xx or 3xx responses: 1296
Requests/sec:   1251.84
Transfer/sec:    212.71KB
{"wrk_report": 1, "requests": 1296, "duration_us": 1035277, "bytes": 225504, "errors": {"connect": 0, "read": 0, \
"write": 0, "timeout": 0, "status": 1296}, "latency_us": {"mean": 4534.4369933677226, "stdev": 6146.4698411973413, \
"max": 47462, "p50": 2013, "p75": 6280, "p90": 11073, "p99": 31406}}
"""
# captured against a server that answered 500s and closed every connection after its 50th answer
SOCKET_ERRORS = """\
Running 2s test @ http://127.0.0.1:18983/plaintext
  1 threads and 20 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.18ms    9.74ms  59.17ms   88.12%
    Req/Sec    13.16k     7.26k   27.91k    68.42%
  26023 requests in 2.02s, 1.46MB read
  Socket errors: connect 0, read 520, write 0, timeout 0
  Non-2xx or 3xx responses: 26023
Requests/sec:  12867.40
Transfer/sec:    741.38KB
{"wrk_report": 1, "requests": 26023, "duration_us": 2022397, "bytes": 1535357, "errors": {"connect": 0, \
"read": 520, "write": 0, "timeout": 0, "status": 26023}, "latency_us": {"mean": 5180.3845703644583, \
"stdev": 9742.152514927564, "max": 59171, "p50": 502, "p75": 5374, "p90": 17262, "p99": 46661}}
"""
# captured against a server that read the first request of each connection and never answered
NOTHING = """\
Running 5s test @ http://127.0.0.1:18985/plaintext
  1 threads and 5 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     0.00us    0.00us   0.00us    -nan%
    Req/Sec     0.00      0.00     0.00      -nan%
  0 requests in 5.09s, 0.00B read
  Socket errors: connect 0, read 5, write 730, timeout 0
Requests/sec:      0.00
Transfer/sec:       0.00B
{"wrk_report": 1, "requests": 0, "duration_us": 5089175, "bytes": 0, "errors": {"connect": 0, "read": 5, \
"write": 730, "timeout": 0, "status": 0}, "latency_us": {"mean": 0, "stdev": 0, "max": 0, "p50": 0, "p75": 0, \
"p90": 0, "p99": 0}}
"""


def test_parse_ok():
    result = wrk.parse_wrk(OK)
    assert result["requests"] == 8050 and result["ok_requests"] == 8050
    assert result["rps"] == 3875.16  # wrk's Requests/sec: requests over the run's duration
    assert result["duration_s"] == 2.077 and round(result["duration_s"], 2) == 2.08
    assert (result["p50_ms"], result["p75_ms"], result["p90_ms"], result["p99_ms"]) == (1.686, 4.404, 24.571, 722.323)
    assert (result["latency_avg_ms"], result["latency_stdev_ms"], result["latency_max_ms"]) == (31.769075, 118.771527,
                                                                                                933.419)
    assert result["non_2xx"] == 0 and result["errors"] == 0
    assert result["socket_errors"] == {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    assert result["bytes_read"] == 1336300 and round(result["bytes_read"] / 1024**2, 2) == 1.27
    assert round(result["transfer_bytes_per_s"] / 1024, 2) == 628.20


def test_parse_non_2xx():
    result = wrk.parse_wrk(NON_2XX)
    assert result["requests"] == 1296 and result["non_2xx"] == 1296 and result["ok_requests"] == 0
    assert result["duration_s"] == 1.035 and result["errors"] == 0 and result["rps"] == 1251.84
    assert round(result["bytes_read"] / 1024, 2) == 220.22


def test_parse_socket_errors_and_microseconds():
    result = wrk.parse_wrk(SOCKET_ERRORS)
    assert result["socket_errors"] == {"connect": 0, "read": 520, "write": 0, "timeout": 0}
    assert result["errors"] == 520 and result["non_2xx"] == 26023 and result["rps"] == 12867.40
    assert result["p50_ms"] == pytest.approx(0.502) and result["p99_ms"] == pytest.approx(46.661)
    assert result["latency_avg_ms"] == pytest.approx(5.18, abs=0.005)


def test_parse_a_run_with_no_answer():
    result = wrk.parse_wrk(NOTHING)
    assert result["requests"] == 0 and result["rps"] == 0.0 and result["bytes_read"] == 0
    assert result["socket_errors"] == {"connect": 0, "read": 5, "write": 730, "timeout": 0} and result["errors"] == 735
    assert result["duration_s"] == 5.089 and result["p99_ms"] == 0.0


@pytest.mark.parametrize("text", ["", "unable to connect to 127.0.0.1:1 Connection refused\n",
                                  OK.split("{")[0], OK.replace('"requests": 8050, ', ""),
                                  OK.replace('"p99": 722323}}', '"p99": 722323}')])
def test_parse_rejects_what_is_not_a_report(text):
    with pytest.raises(ValueError):
        wrk.parse_wrk(text)


def test_wrk_command():
    command = wrk.wrk_command("http://127.0.0.1:8000/", seconds=10, connections=50, threads=1,
                              headers=["Connection: keep-alive"])
    assert command == ["wrk", "-t", "1", "-c", "50", "-d", "10s", "-s", str(wrk.REPORT_SCRIPT),
                       "-H", "Connection: keep-alive", "http://127.0.0.1:8000/plaintext"]
    page = wrk.wrk_command("http://127.0.0.1:8000", "/", 1, 4, script=wrk.PATHS["page"][1])
    assert page[page.index("-s") + 1] == str(wrk.PATHS["page"][1]) and page.count("-s") == 1


def test_cpu_us_per_request_reads_proc_around_the_run(monkeypatch):
    reads = iter([1.0, 1.5])
    monkeypatch.setattr(wrk.measure, "tree_cpu_so_far", lambda pid: next(reads))
    result = wrk.cpu_us_per_request(1234, lambda: wrk.parse_wrk(OK))
    assert result["server_cpu_s"] == 0.5
    assert result["cpu_us_per_req"] == round(0.5e6 / 8050, 2)


def run(target: str, repeat: int, cpu_us: float) -> dict:
    return {"target": target, "repeat": repeat, "status": "ok", "cpu_us_per_req": cpu_us, "rps": 1000.0,
            "p50_ms": 1.0, "p99_ms": 2.0, "server_cpu_pct": 99.0, "wrk_cpu_pct": 30.0, "errors": 0}


def test_ratios_with_verdicts_on_the_paired_median():
    (fast, base, aim), (slow, slow_base, _) = reference.RATIOS[:2]  # two aims against the same reference
    assert base == slow_base and aim < 1.0
    runs = [run(base, r, us) for r, us in [(1, 40.0), (2, 36.0), (3, 38.0)]]
    runs += [run(fast, r, us * aim) for r, us in [(1, 40.0), (2, 36.0 * 0.9), (3, 38.0 * 0.95)]]  # aim x 1, .9, .95
    runs += [run(slow, r, 45.6) for r in (1, 2, 3)]
    runs.append({"target": base, "repeat": 4, "status": "failed", "error": "x"})
    summary = reference.summarise(runs)
    assert summary[base]["cpu_us_per_req"] == {"median": 38.0, "min": 36.0, "max": 40.0}
    assert summary[base]["ok"] == 3 and summary[base]["runs"] == 4
    verdicts = {(v["measured"], v["reference"]): v for v in reference.ratios(runs, summary)}
    fast_verdict = verdicts[(fast, base)]
    assert fast_verdict["paired"] == pytest.approx(aim * 0.95, abs=1e-3) and fast_verdict["verdict"] == "PASS"
    assert verdicts[(fast, base)]["rounds"]["max"] == pytest.approx(aim, abs=1e-3)
    assert verdicts[(slow, base)]["paired"] == 1.2 and verdicts[(slow, base)]["verdict"] == "FAIL"
    unmeasured = next(key for key in verdicts if not {*key} & {fast, slow, base})
    assert verdicts[unmeasured]["verdict"] == "n/a"  # neither side measured
    unaimed = [v for v in reference.RATIOS if v[2] is None and v[1] == base]  # how far, with no target
    aside = [run(unaimed[0][0], r, us) for r, us in [(1, 50.0), (2, 46.0), (3, 44.0)]]
    far = {(v["measured"], v["reference"]): v
           for v in reference.ratios(runs + aside, reference.summarise(runs + aside))}[unaimed[0][:2]]
    assert far["verdict"] == "-" and far["ratio"] == round(46.0 / 38.0, 3)  # of the medians
    assert "PASS" in reference.table(summary, list(verdicts.values()))


def test_the_times_column_is_the_median_of_the_paired_ratios():
    """× uvicorn is the median of the per-round ratios (4.10, 4.52, 5.10: 4.52) with their range, not the ratio
    of the medians (41.0 / 10.0 = 4.10, kept beside it as "ratio"); an aim is judged on the paired median too."""
    base = [run("uvicorn", r, us) for r, us in [(1, 12.0), (2, 10.0), (3, 8.0)]]
    other = [run("gunicorn", r, us) for r, us in [(1, 12.0 * 4.52), (2, 10.0 * 4.10), (3, 8.0 * 5.10)]]
    runs = base + other + [{"target": "gunicorn", "repeat": 4, "status": "failed", "error": "x"}]
    times = reference.ratio(runs, reference.summarise(runs), "gunicorn", "uvicorn")
    assert times["paired"] == 4.52 and times["rounds"] == {"median": 4.52, "min": 4.1, "max": 5.1}
    assert times["ratio"] == 4.1  # of the medians
    assert reference.paired_ratios(runs, "gunicorn", "uvicorn") == pytest.approx([4.52, 4.10, 5.10])
    assert "4.52 [4.10-5.10]" in reference.table(reference.summarise(runs), [times])
    judged = reference.ratio(runs, reference.summarise(runs), "gunicorn", "uvicorn", at_most=4.3)
    assert judged["verdict"] == "FAIL"  # 4.52 > 4.3, though the ratio of the medians (4.10) is under it


def test_noise_splits_a_runs_scatter_into_its_rounds_and_its_own():
    """A round that slows every target alike is the round's share; a run off on its own is the run's."""
    drift = [run(name, r, us * slow) for name, us in [("a", 10.0), ("b", 20.0), ("c", 40.0)]
             for r, slow in [(1, 1.0), (2, 1.2), (3, 1.0), (4, 1.2)]]
    shared = reference.noise(drift)
    assert shared is not None and shared["run_own_pct"] == 0.0 and shared["round_shared_pct"] > 5
    assert "pairing within a round" in shared["sentence"]
    own = [run(name, r, us * (1.3 if (name, r) in {("a", 1), ("b", 2), ("c", 3)} else 1.0))
           for name, us in [("a", 10.0), ("b", 20.0), ("c", 40.0)] for r in (1, 2, 3, 4)]
    scattered = reference.noise(own)
    assert scattered is not None and scattered["run_own_pct"] > scattered["round_shared_pct"]
    assert "more rounds narrow" in scattered["sentence"] and scattered["rounds"] == 4
    assert reference.noise([run("a", 1, 10.0), run("b", 1, 20.0)]) is None  # one round: nothing to split


def test_the_committed_runs_table_is_what_their_files_print():
    """docs/results/reference/README.md's table of runs is `--runs` over runs/, in the order they ran."""
    folder = ROOT / "docs" / "results" / "reference"
    text = (folder / "README.md").read_text(encoding="utf-8")
    shown = text.split("<!-- runs:begin -->\n")[1].split("\n<!-- runs:end -->")[0]
    files = sorted((folder / "runs").glob("*.json"))
    assert shown == reference.run_index(files)
    started = [json.loads(path.read_text(encoding="utf-8"))["environment"]["started"] for path in files]
    assert started == sorted(started) and len(files) >= 2


def test_the_runs_table_gives_each_aim_its_paired_median_range_and_verdict(tmp_path, capsys):
    runs = [run("uvicorn", r, us) for r, us in [(1, 40.0), (2, 36.0), (3, 38.0)]]
    measured, base, aim = reference.AIMS[0]
    runs += [run(measured, r, us) for r, us in [(1, 40.0 * aim * 1.2), (2, 36.0 * aim * 0.9), (3, 38.0 * aim)]]
    summary = reference.summarise(runs)
    data = {"environment": {"git_commit": "abcdef0123", "started": "2026-12-04T16:31:00Z", "load_before": 0.5,
                            "load_after": 7.0},
            "plan": {"repeat": 3, "seconds": 6}, "runs": runs, "ratios": reference.ratios(runs, summary),
            "noise": reference.noise(runs)}
    path = tmp_path / "01.json"
    path.write_text(json.dumps(data))
    assert reference.main(["--runs", str(path)]) == 0
    table = capsys.readouterr().out
    row = table.splitlines()[2]
    assert row.startswith("| `01.json` | abcdef0 | 2026-12-04 16:31 | 3 × 6 s | 0.50 → 7.00 | ")
    assert f"{aim:.2f} [{aim * 0.9:.2f}-{aim * 1.2:.2f}] met" in row and f"{measured} / {base} ≤ {aim:g}×" in table
    assert "% own" in row
    with pytest.raises(SystemExit):
        reference.parse_args(["--runs", str(tmp_path / "missing.json")])
    assert "no such file" in capsys.readouterr().err
    for text in ("not json", '{"plan": {}}', "[1, 2]"):  # one line and exit 2, never a traceback
        (tmp_path / "bad.json").write_text(text)
        with pytest.raises(SystemExit) as exit_info:
            reference.main(["--runs", str(tmp_path / "bad.json")])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and "not a bench.reference run" in err and len(err.strip().splitlines()) == 1


def test_the_load_average_is_recorded_before_and_after(monkeypatch):
    monkeypatch.setattr(reference.os, "getloadavg", lambda: (1.234, 0.5, 0.25))
    environment = reference.environment(None)
    assert environment["load_before"] == 1.23 and environment["load_after"] is None


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
    page = wrk.run_wrk(stock_server.url, "/", seconds=1, connections=2, script=wrk.PATHS["page"][1])
    assert page["requests"] > 0 and page["p50_ms"] is not None  # the scenario's script loads the report's done()


def test_wrk_missing_or_failing_or_silent_raises(tmp_path, monkeypatch):
    silent = tmp_path / "silent.lua"
    silent.write_text('request = function() return wrk.format("GET", "/") end\n')
    with pytest.raises(wrk.WrkError, match=r"does not load wrk_report\.lua"):
        wrk.start_wrk("http://127.0.0.1:1", script=silent)
    if shutil.which("wrk"):
        with pytest.raises(wrk.WrkError, match=r"wrk failed \(exit [1-9]"):  # nothing listens on port 1
            wrk.run_wrk("http://127.0.0.1:1", seconds=1, connections=1)
    monkeypatch.setattr(wrk, "WRK", str(tmp_path / "no-wrk"))
    with pytest.raises(wrk.WrkError, match="not installed"):
        wrk.start_wrk("http://127.0.0.1:1")


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
    runs = [run("uvicorn", 1, 40.0), run("raw_socket/selectors", 1, 16.0), run("before:raw_socket/selectors", 1, 60.0)]
    verdicts = {(v["measured"], v["reference"]): v for v in reference.ratios(runs, reference.summarise(runs))}
    assert verdicts[("before:raw_socket/selectors", "uvicorn")]["ratio"] == 1.5
    assert verdicts[("before:raw_socket/selectors", "uvicorn")]["verdict"] == "FAIL"
    assert verdicts[("raw_socket/selectors", "uvicorn")]["verdict"] == "PASS"
    after_before = verdicts[("raw_socket/selectors", "before:raw_socket/selectors")]  # what the change bought
    assert after_before["paired"] == round(16.0 / 60.0, 3) and after_before["verdict"] == "-"
    with pytest.raises(SystemExit) as exit_info:
        reference.parse_args(["--baseline", str(tmp_path / "nowhere")])
    assert exit_info.value.code == 2 and "nowhere" in capsys.readouterr().err


def test_without_a_baseline_no_before_ratios():
    runs = [run("uvicorn", 1, 40.0), run("raw_socket/selectors", 1, 16.0)]
    assert not any(name.startswith(reference.BEFORE) for v in reference.ratios(runs, reference.summarise(runs))
                   for name in (v["measured"], v["reference"]))


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
    parent = python_tree(code)
    try:
        assert parent.stdout.readline().strip() == b"spent"
        assert len(measure.descendants(parent.pid)) == 1
        assert measure.tree_cpu_so_far(parent.pid) - measure.cpu_so_far(parent.pid) >= 0.25
    finally:
        end_tree(parent)


def test_each_row_has_its_paired_distance_from_the_floor():
    """above_floor_us: the median and range, over the rounds, of a row's CPU per request less the floor's."""
    runs = [run(reference.FLOOR, r, us) for r, us in [(1, 10.0), (2, 12.0), (3, 11.0)]]
    runs += [run("uvicorn", r, us) for r, us in [(1, 30.0), (2, 31.0), (3, 35.0)]]
    summary = reference.summarise(runs)
    assert summary["uvicorn"]["above_floor_us"] == {"median": 20.0, "min": 19.0, "max": 24.0}
    assert summary[reference.FLOOR]["above_floor_us"] is None  # not a distance from itself


def test_the_floor_answers_each_pipelined_request_without_parsing(tmp_path):
    floor = ServerProcess([sys.executable, "-m", reference_servers.FLOOR_MODULE, "--port", "0"],
                          tmp_path / "floor.stderr", name="floor").wait_ready()
    try:
        with socket.create_connection((floor.host, floor.port), timeout=5) as sock:
            sock.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n" * 2 + b"GET /plaintext HTTP/1.1\r\nHo")
            sock.sendall(b"st: x\r\n\r")
            sock.sendall(b"\n")  # the third request's blank line spans two reads
            received = b""
            while received.count(b"Hello, World!") < 3:
                received += sock.recv(65536)
    finally:
        floor.stop()
    assert received.count(b"HTTP/1.1 200 OK\r\n") == 3 and b"Server: server-layers (floor)\r\n" in received


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_sigterm_ends_a_run_and_the_servers_and_wrk_it_started(tmp_path):
    """A tool ended by SIGTERM stops what it started (in sessions of their own, the signal never reaches them):
    its server and wrk are gone when it exits, with 128 + SIGTERM, as a shell reports it."""
    import signal
    import subprocess

    import psutil
    from helpers import wait_for

    target = next(t.name for t in reference.targets() if "/" in t.name and not t.production and "+" not in t.name)
    tool = subprocess.Popen([sys.executable, "-m", "bench.reference", "--targets", target, "--seconds", "60",
                             "--repeat", "1", "--warmup", "1", "--out", str(tmp_path)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        children = wait_for(lambda: len(psutil.Process(tool.pid).children()) >= 2 and
                            psutil.Process(tool.pid).children(), timeout=30)
        assert children, "the run never started its server and wrk"
        tool.send_signal(signal.SIGTERM)
        assert tool.wait(timeout=30) == 128 + signal.SIGTERM
        _, alive = psutil.wait_procs(children, timeout=15)
        assert not alive, f"left running: {[p.cmdline() for p in alive]}"
        assert b"Traceback" not in tool.stderr.read()
    finally:
        end_tree(tool)
