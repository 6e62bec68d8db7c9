"""Stock CGIHTTPRequestHandler, the reference row of the CGI benchmark, and what it does differently.

Live: stock serves the shipped scripts through bench/stock_cgi.py, and tools/cgi_differences.py asks
it and one of our servers the same questions.
"""

import json
import re
import subprocess
import sys
import urllib.request

import pytest
from helpers import ROOT

from bench.cli import make_plan
from bench.knobs import PSEUDO, STOCK_CGI_LAYER
from bench.process import ServerProcess
from bench.results import Results
from bench.scenarios import CGI_SCENARIOS
from server_layers.cgi_cost import SCENARIOS, bench_args, merged, variants
from webapp.cgi import PATH as GATEWAY_PATH


@pytest.fixture(scope="module")
def stock(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stock-cgi")
    server = ServerProcess([sys.executable, "-m", PSEUDO[STOCK_CGI_LAYER][0], "--port", "0"], folder / "stderr",
                           name=STOCK_CGI_LAYER).wait_ready()
    yield server
    server.stop()


def test_stock_runs_the_shipped_scripts(stock):
    with urllib.request.urlopen(f"{stock.url}/cgi-bin/hello.sh", timeout=10) as answer:
        assert answer.status == 200 and answer.read() == b"Hello, World!"
        assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_stock_gives_the_scripts_the_gateways_path(stock):
    """The rows compare the same script only if `#!/usr/bin/env python3` finds the same interpreter."""
    with urllib.request.urlopen(f"{stock.url}/cgi-bin/env.py", timeout=10) as answer:
        assert json.loads(answer.read())["env"]["PATH"] == GATEWAY_PATH


def test_the_differences_tool_finds_what_stock_does_otherwise():
    result = subprocess.run([sys.executable, "-m", "conformance.cgi_differences"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    count = int(re.search(r": (\d+) differences", result.stdout)[1])
    assert count == len([line for line in result.stdout.splitlines() if line.startswith("- ")]) > 0
    inherited = int(re.search(r"and (\d+) inherited from the server's own environment", result.stdout)[1])
    assert inherited > 0  # stock copies the server's own environment into every script's
    assert "`exits-1.sh`: stock answers 200" in result.stdout and "ours 502" in result.stdout


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_cost_runs_every_layer_and_stock_on_the_cgi_scenarios(scenario, tmp_path):
    plan = make_plan(bench_args(scenario, type("Options", (), {"rate": 20, "repeat": 3, "duration": "6s"}),
                                tmp_path / scenario))
    chosen = {tuple(combo) for combo in plan.combos}
    assert set(variants()) <= chosen and plan.levels[0].rate == 20 and plan.repeat == 3
    assert ((STOCK_CGI_LAYER, "threaded") in chosen) == (scenario in CGI_SCENARIOS)
    assert chosen - set(variants()) <= {(STOCK_CGI_LAYER, "threaded")}  # no model a layer has beyond those


def test_stock_cgi_serves_the_cgi_scenarios_only(tmp_path):
    result = subprocess.run([sys.executable, "-m", "server_layers", "bench", "--layers", STOCK_CGI_LAYER,
                             "--scenario", "plaintext", "--out", str(tmp_path / "out")], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1 and STOCK_CGI_LAYER in result.stderr


def test_merged_parts_keep_every_scenarios_runs():
    run = {"layer": "raw_socket", "model": "threaded", "status": "ok", "load": "locust", "users": 1, "rate": 20,
           "repeat": 1, "cpu_us_per_req": 10.0, "p50_ms": 1.0, "p99_ms": 2.0, "bound_by": "pacing"}
    parts = [Results.from_json({"environment": {"python": "3"}, "calibration": None, "plan": {"scenario": s},
                                "runs": [{**run, "scenario": s}]}) for s in SCENARIOS]
    results = merged(parts, type("Options", (), {"rate": 20, "repeat": 1, "duration": "6s"})).to_json()
    assert results["plan"]["kind"] == "cgi" and [r["scenario"] for r in results["runs"]] == SCENARIOS
    assert {entry["scenario"] for entry in results["summary"]} == set(SCENARIOS)
