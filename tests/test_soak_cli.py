"""`server-layers soak --variants ... --lanes N`: a soak process per variant, N at a time, merged into soaks.json;
bench.soak.gather() on a folder of that layout; the bad combinations of flags (one line, exit 2).

The variants come from the catalog (bench.hostile.concurrent_variants), never named here. The soaks are short:
they check the plumbing, not drift.
"""

import json
import shutil
import subprocess
import sys

import pytest
from helpers import ROOT

from bench.catalog import MODELS
from bench.hostile import concurrent_variants
from bench.soak import FD_SLACK, MAX_RSS_GROWTH, gather, verdict

TWO = [concurrent_variants()[-1], concurrent_variants()[0]]  # given out of the catalog's order on purpose
ITERATIVE = next(f"{layer}/{model}" for layer, models in MODELS.items() for model in models if model == "iterative")


def soak(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server_layers", "soak", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.mark.stress
def test_soak_variants_runs_each_in_its_own_process_and_writes_soaks_json(tmp_path):
    out = tmp_path / "out"
    result = soak("--variants", ",".join(f"{layer}/{model}" for layer, model in TWO), "--lanes", "2",
                  "--minutes", "0.2", "--interval", "1s", "--slow", "1", "--pipelining", "1", "--out", str(out))
    print("\n" + result.stdout + result.stderr)
    document = json.loads((out / "soaks.json").read_text())
    in_order = [variant for variant in concurrent_variants() if variant in TWO]
    assert document["schema"] == 1
    assert [(run["layer"], run["model"]) for run in document["runs"]] == in_order
    assert all(run["errors"] == 0 and run["requests"] > 0 for run in document["runs"])
    # a soak of seconds says nothing of drift (a hostile client's socket may sit in CLOSE_WAIT through a whole
    # third of it): each verdict must follow its rule, and the exit status the verdicts (the rule's own tests
    # are below, the drift itself is the committed 20-minute soaks')
    assert all(run["passed"] == (run["rss_growth"] < MAX_RSS_GROWTH and run["fd_drift"] <= FD_SLACK)
               for run in document["runs"])
    assert result.returncode == (0 if all(run["passed"] for run in document["runs"]) else 1), result.stderr
    environment = document["environment"]
    assert {"cpu_model", "python", "git_commit", "started", "finished", "lanes"} <= set(environment)
    assert environment["lanes"] == 2 and environment["started"] <= environment["finished"]
    for layer, model in in_order:  # each variant's own folder and log, as a single-variant soak leaves them
        assert json.loads((out / f"{layer}-{model}" / "soak.json").read_text()) == document["runs"][in_order.index(
            (layer, model))]
        assert (out / f"{layer}-{model}.log").is_file()
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:-1]] == [f"{'PASS' if run['passed'] else 'FAIL'} {run['layer']}/"
                                                           f"{run['model']}" for run in document["runs"]]
    assert lines[-1] == str(out / "soaks.json")

    # gather() on the same layout made by other means (results/soak-all/: single-variant soaks started by hand),
    # with one variant's soak still running (its folder, no soak.json yet)
    copied = tmp_path / "copied"
    shutil.copytree(out, copied, ignore=shutil.ignore_patterns("soaks.json"))
    unfinished = next(variant for variant in concurrent_variants() if variant not in TWO)
    (copied / "-".join(unfinished) / "server").mkdir(parents=True)
    gathered = gather(copied)
    finished = [run for run in gathered["runs"] if "error" not in run]
    assert finished == document["runs"]
    assert [(run["layer"], run["model"]) for run in gathered["runs"]] == [
        variant for variant in concurrent_variants() if variant in [*TWO, unfinished]]
    missing = next(run for run in gathered["runs"] if "error" in run)
    assert (missing["layer"], missing["model"]) == unfinished and missing["passed"] is False
    assert gathered["environment"]["lanes"] is None and gathered["environment"]["started"]


@pytest.mark.parametrize("arguments", [
    ["--variants", "all", "--layer", next(iter(MODELS))],
    ["--variants", "all", "--model", concurrent_variants()[0][1]],
    ["--lanes", "2"],
    ["--variants", "all", "--lanes", "0"],
    ["--variants", "nonsense/x"],
    ["--variants", ITERATIVE],
    ["--variants", ","],
], ids=lambda arguments: " ".join(arguments))
def test_bad_combinations_are_one_line_and_exit_2(arguments, tmp_path):
    result = soak(*arguments, "--out", str(tmp_path / "missing"), timeout=60)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stdout == "" and not (tmp_path / "missing").exists()


def test_gather_says_when_there_is_nothing_to_gather(tmp_path):
    with pytest.raises(FileNotFoundError):
        gather(tmp_path)


def samples_of(main_fds: list[int], tree_fds: list[int], main_rss: list[float], tree_rss: list[float]) -> list[dict]:
    return [{"t": 2.0 * n, "fds": tree, "main_fds": main, "rss_mb": tree_mb, "main_rss_mb": main_mb, "threads": 1}
            for n, (main, tree, main_mb, tree_mb)
            in enumerate(zip(main_fds, tree_fds, main_rss, tree_rss, strict=True))]


def test_the_verdict_reads_the_main_process_not_how_many_children_were_alive():
    """A forking server's tree swings with the clients it serves; its main process is where a leak would stay."""
    swinging = [20 + 15 * (n % 3) for n in range(30)]
    flat = samples_of([12] * 30, swinging, [20.0] * 30, [20.0 + 30 * (n % 2) for n in range(30)])
    assert verdict(flat)["passed"] and verdict(flat)["fd_drift"] == 0 and verdict(flat)["rss_growth"] == 0


def test_a_main_process_that_keeps_fds_or_memory_fails_the_verdict():
    leaking_fds = samples_of([12 + n for n in range(30)], [40] * 30, [20.0] * 30, [20.0] * 30)
    growing = samples_of([12] * 30, [40] * 30, [20.0 + 0.2 * n for n in range(30)], [20.0] * 30)
    assert not verdict(leaking_fds)["passed"] and verdict(leaking_fds)["fd_drift"] > FD_SLACK
    assert not verdict(growing)["passed"] and verdict(growing)["rss_growth"] >= MAX_RSS_GROWTH
