"""The cost-against-load words and chart on synthetic sweep runs, and the sweep's flags.

Socket-free but for the flags' subprocess: the runs are made up here, so each case knows its answer.
Variant names are placeholders: the sweep's words know no layer.
"""

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from bench.results import Results, Run
from reports import sweep

ROOT = Path(__file__).resolve().parent.parent
FAST, SLOW = "fast/loop", "slow/threaded"


def run(name: str, rate: int, rps: float, cpu: float, wrk_rps: float, wrk_cpu: float, scenario="plaintext") -> Run:
    layer, model = name.split("/")
    return Run(layer=layer, model=model, scenario=scenario, rate=rate, users=1, status="ok",
               rps=rps, cpu_us_per_req=cpu, p50_ms=1.0, p99_ms=5.0, bound_by="pacing",
               wrk_rps=wrk_rps, wrk_cpu_us_per_req=wrk_cpu, wrk_p50_ms=4.0, wrk_p99_ms=9.0)


def results() -> Results:
    runs = (run(FAST, 25, 25, 500, 20_000, 50), run(FAST, 400, 400, 200, 22_000, 45),
            run(SLOW, 25, 25, 600, 5_000, 200), run(SLOW, 400, 400, 400, 4_000, 220))
    return Results({}, {"kind": "sweep", "scenarios": ["plaintext"], "rates": [25, 400], "duration_s": 3,
                        "variants": [FAST, SLOW], "wrk_connections": 50}, None, runs)


def test_a_curve_runs_from_the_lightest_rate_to_the_median_saturation_point():
    points = sweep.curve(results().runs, "plaintext", FAST)
    assert [p.label for p in points] == ["25 req/s", "400 req/s", "wrk"]
    assert points[-1].rps == 21_000 and points[-1].cpu_us == pytest.approx(47.5)  # the median of the wrk passes
    assert sweep.falls(points) == pytest.approx(500 / 47.5)


def test_the_sentence_gives_every_variants_fall_with_its_figures_the_largest_first():
    said = sweep.sentence(results(), "plaintext")
    assert said == (f"On plaintext, from 25 req/s to saturation, CPU per request falls 10.5× on {FAST} (500 → 47.5 µs "
                    f"at 21 000 req/s), 2.9× on {SLOW} (600 → 210 µs at 4 500 req/s).")


def test_a_failed_run_is_left_out_and_no_run_means_no_sentence_and_no_chart(tmp_path):
    made = results()
    made = replace(made, runs=(replace(made.runs[0], status="failed"), *made.runs[1:]))
    assert [p.label for p in sweep.curve(made.runs, "plaintext", FAST)] == ["400 req/s", "wrk"]
    empty = Results({}, made.plan, None, ())
    assert sweep.sentences(empty) == [] and sweep.write_chart(empty, tmp_path, None) is None


def test_the_chart_has_a_cpu_and_a_latency_panel_per_scenario_on_log_axes():
    fig = sweep.chart(results())
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["CPU per request: plaintext", "Latency: plaintext"]
    assert all(ax.get_xscale() == "log" and ax.get_yscale() == "log" for ax in fig.axes)
    cpu_lines = [line for line in fig.axes[0].get_lines() if len(line.get_xdata()) > 1]
    assert len(cpu_lines) == 2 and all(len(line.get_xdata()) == 3 for line in cpu_lines)  # two rates and wrk


@pytest.mark.parametrize("args", [["--rates", "0"], ["--rates", "x"], ["--duration", "-1s"], ["--nope"]])
def test_bad_flags_are_one_line_and_exit_2(args, tmp_path):
    result = subprocess.run([sys.executable, "-m", "bench.sweep", *args, "--out", str(tmp_path / "out")], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()
