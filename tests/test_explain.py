"""`server-layers explain RUN_DIR`: strace, /proc and py-spy measured into a run's folder, then its report.

One real run on the first variant with few requests (strace and py-spy attach to a live server), into a
copy of the report fixture; the report then has the system-call and CPU sections and a why paragraph.
Bad input: one line on stderr and exit 2.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import ROOT

from bench.catalog import MODELS
from bench.cpu_profile import FORKING
from bench.syscalls import variants

FIXTURE = Path(__file__).resolve().parent / "data" / "report-run"


def explain(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server_layers", "explain", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_explain_measures_into_the_run_and_reports(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(FIXTURE, run)
    layer, model = variants()[0]
    result = explain(str(run), "--variants", f"{layer}/{model}", "--syscall-requests", "200", "--cpu-requests", "2000",
                     "--cpu-rounds", "1", "--no-reference")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("report.html")
    counted = json.loads((run / "syscalls.json").read_text())["rows"]
    profiled = json.loads((run / "cpu.json").read_text())["rows"]
    assert [row["variant"] for row in counted] == [f"{layer}/{model}"] and counted[0]["total_per_request"] > 0
    assert {row["variant"] for row in profiled} == {f"{layer}/{model}"}
    assert all((run / row["flamegraph"]).is_file() for row in profiled)
    page = (run / "report.html").read_text()
    for section in ("syscalls", "cpu", "why"):
        assert f'<section id="{section}">' in page
    assert f"{layer}/{model} makes {counted[0]['total_per_request']:.2f} system calls per request" in page


def test_explain_refuses_a_folder_without_a_run(tmp_path):
    result = explain(str(tmp_path))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1 and "results.json" in result.stderr
    result = explain(str(FIXTURE), "--variants", "nowhere/none")
    assert result.returncode == 2 and "unknown variant" in result.stderr and "Traceback" not in result.stderr
    forked = next(f"{layer}/{model}" for layer, models in MODELS.items() for model in models if model == FORKING)
    result = explain(str(FIXTURE), "--variants", forked)  # refused before anything runs
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1 and "child" in result.stderr


def test_the_cpu_profile_takes_the_framework_apps_and_strace_only_our_variants():
    """explain's plan: strace on our variants; the CPU profile on them and the framework apps .venv-reference has."""
    from bench import cpu_profile
    from bench.reference_servers import frameworks, versions
    from server_layers import explain as explaining
    steps = [what for what, _ in explaining.plan(explaining.parser().parse_args([str(FIXTURE), "--no-reference"]))]
    profiled = cpu_profile.chosen(None)
    assert steps == [f"system calls, strace on {len(variants())} variants (bench.syscalls)",
                     f"where the CPU goes, 3 rounds of {len(profiled)} variants (bench.cpu_profile)"]
    apps = [target.name for target in frameworks()]
    assert [model for layer, model in profiled if layer == cpu_profile.FRAMEWORK] == (apps if versions() else [])
    only_apps = explaining.parser().parse_args([str(FIXTURE), "--no-reference", "--variants", ",".join(apps)])
    assert [what for what, _ in explaining.plan(only_apps)] == [
        f"where the CPU goes, 3 rounds of {len(apps)} variants (bench.cpu_profile)"]  # no strace step with nothing
