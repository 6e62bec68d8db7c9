"""The reference point: our servers beside uvicorn, gunicorn, granian, the frameworks, stock http.server and the
pure-Python floor, measured with wrk.

    python -m bench.reference [--seconds 6] [--repeat 5] [--out DIR] [--baseline DIR]

Every row serves the same app (webapp.App; the reference servers through the thin
adapters of adapters/, see bench.reference_servers; Flask and FastAPI the same routes
written for them, frameworks/), so every row gives the same answer; the floor answers
/plaintext's bytes without parsing (bench.floor_server), and each row's paired distance
from it is reported in µs. Installs uvicorn[standard] (uvloop + httptools), gunicorn,
granian and the frameworks into .venv-reference on first use (a separate environment:
the project's own stays standard-library only). Then, for
each round of --repeat and each target (order rotated every round, so the targets
are measured side by side under the same machine load): start the server pinned
to the first CPU, warm it up with wrk for 1 s, run wrk (1 thread, 50 keep-alive
connections, GET /plaintext) pinned to the other CPU, read the server's CPU from
/proc before and after, stop it with SIGTERM. Writes reference.json and prints
median [min-max] per target and the issues' ratios (PASS/FAIL where there is an aim).

--baseline DIR adds our servers as they are in DIR (a checkout of an
earlier commit: `git worktree add /tmp/before <commit>`), named `before:...`,
to the same rounds, with their ratios: before and after measured side by
side under the same machine load.

The ratios are reported, never asserted: they depend on the machine and its load.
"""

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from oneline import OneLineParser, fail

from . import measure, wrk
from .catalog import DEFAULT_MODEL, EVENT_LOOP_VARIANTS, LAYERS, LOOPS
from .process import exit_on_sigterm, layer_command
from .reference_servers import VENV, Target, ensure_venv, floor, frameworks, production, start, stock
from .results import cpu_model

ROOT = Path(__file__).resolve().parent.parent
Record = dict[str, Any]  # one run, one summary entry or one ratio, as reference.json holds it


def reference_models(layer: str) -> list[str]:
    """The models of `layer` that meet the reference servers: its event-loop models, else its default model."""
    return [model for each, model in EVENT_LOOP_VARIANTS if each == layer] or [DEFAULT_MODEL[layer]]


OURS = [(layer, model, loop) for layer in LAYERS for loop in ["", *LOOPS.get(layer, [])[1:]]
        for model in reference_models(layer)]  # every catalog layer, each loop after the default, e.g. +uvloop
BEFORE = "before:"  # the prefix of a --baseline checkout's targets
FLOOR = floor().name  # every row's distance from it: what parsing, the app and the layer cost on top of a bare loop


def our_name(layer: str, model: str, loop: str) -> str:
    return f"{layer}/{model}" + (f"+{loop}" if loop else "")  # e.g. asyncio_impl/protocol+uvloop


def ours(prefix: str = "", cwd: Path = ROOT) -> list[Target]:
    """Our servers (in `cwd`: a --baseline checkout has only the layers it had then)."""
    return [Target(f"{prefix}{our_name(layer, model, loop)}",
                   tuple(layer_command(layer, model, "{data}", ["--loop", loop] if loop else [])), cwd=cwd)
            for layer, model, loop in OURS if (cwd / layer).is_dir()]


def targets(venv: Path = VENV, baseline: Path | None = None) -> list[Target]:
    """uvicorn, gunicorn, granian and stock http.server (with TCP_NODELAY and without) serving the project's app
    through the adapters, the same app written for Flask and FastAPI (the frameworks' rung, on gunicorn and
    uvicorn), the pure-Python floor, then our servers: the same answer on every row."""
    return [*production(venv), *frameworks(venv), stock("http.server+nodelay"), stock("http.server", nodelay=False),
            floor(), *ours(), *(ours(BEFORE, baseline) if baseline else [])]


# (measured, reference, at most): the issues' aims (each layer's catalog entry), as ratios of CPU microseconds per
# request; then every other row of ours beside its kind, at most None, how far it is with no aim: an event loop
# beside uvicorn (the same loop API with a C parser), a blocking model beside gunicorn (gthread)
AIMS = [(f"{layer}/{variant}", reference, at_most) for layer, entry in LAYERS.items()
        for variant, reference, at_most in entry.aims]
RATIOS: list[tuple[str, str, float | None]] = AIMS + [
    pair for pair in ((our_name(*row), "uvicorn" if (row[0], row[1]) in EVENT_LOOP_VARIANTS else "gunicorn", None)
                      for row in OURS) if pair[:2] not in {aim[:2] for aim in AIMS}]
RATIOS += [(BEFORE + measured, reference, at_most) for measured, reference, at_most in RATIOS]  # n/a without --baseline
RATIOS += [(name, BEFORE + name, None) for name in (our_name(*row) for row in OURS)]  # after / before, per round
FIGURES = ["cpu_us_per_req", "rps", "p50_ms", "p99_ms", "server_cpu_pct", "wrk_cpu_pct", "errors"]


# -- one server ---------------------------------------------------------------------------------

def measure_target(target: Target, repeat: int, options: argparse.Namespace, folder: Path) -> Record:
    """One run; a failure is recorded, not raised."""
    server_cpus, load_cpus = measure.cpu_split()
    record: Record = {"target": target.name, "repeat": repeat, "status": "ok"}
    server = None
    try:
        server = start(target, folder, server_cpus)
        wrk.run_wrk(server.url, seconds=options.warmup, connections=options.connections, cpus=load_cpus)
        result = wrk.cpu_us_per_request(server.pid, lambda: wrk.run_wrk(
            server.url, seconds=options.seconds, connections=options.connections, cpus=load_cpus))
        died = measure.exited(server.process)
        usage = server.stop()
    except (RuntimeError, OSError) as exc:
        return {**record, "status": "failed", "error": str(exc)[-600:]}
    finally:  # stopped already when all went well (stop() is then a no-op); else here, whatever was raised
        if server is not None:
            server.stop()
    record.update({key: value for key, value in result.items() if key != "command"})
    record["server_peak_rss_mb"] = round(usage.peak_rss_mb, 1) if usage else None
    record["server_exit"] = usage.status if usage else None
    if died:
        record.update(status="failed", error=f"server died during the run: {server.stderr_tail()}")
    elif result["non_2xx"] or not result["ok_requests"]:
        record.update(status="failed", error=f"{result['non_2xx']} non-2xx answers of {result['requests']}")
    return record


# -- summary ------------------------------------------------------------------------------------

def spread(values: list[float | None]) -> Record | None:
    """{"median", "min", "max"} of the values that are there; None when none is."""
    present = [v for v in values if v is not None]
    return {"median": statistics.median(present), "min": min(present), "max": max(present)} if present else None


def summarise(runs: list[Record]) -> Record:
    summary: Record = {}
    for run in runs:
        summary.setdefault(run["target"], {"runs": 0, "ok": 0})
        summary[run["target"]]["runs"] += 1
        summary[run["target"]]["ok"] += run["status"] == "ok"
    for name, entry in summary.items():
        ok = [run for run in runs if run["target"] == name and run["status"] == "ok"]
        entry.update({figure: spread([run.get(figure) for run in ok]) for figure in FIGURES})
        entry["above_floor_us"] = spread([round(d, 2) for d in paired_differences(runs, name, FLOOR)])
    return summary


def noise(runs: list[Record]) -> Record | None:
    """Where a run's scatter comes from: each ok run's CPU per request as a log deviation from its target's median,
    split into what its round shares with every target in it (the machine's drift while the round ran) and what
    is left (the run's own: the start, its threads' scheduling). Both are standard deviations in percent, with
    the sentence they support: pairing within a round cancels the shared part and leaves a run's own, which only
    more rounds narrow. None with fewer than two rounds of two targets."""
    by_target: dict[str, dict[int, float]] = {}
    for run in runs:
        if run["status"] == "ok":
            by_target.setdefault(run["target"], {})[run["repeat"]] = run["cpu_us_per_req"]
    deviations = {name: {r: math.log(us / statistics.median(rounds.values())) for r, us in rounds.items()}
                  for name, rounds in by_target.items() if len(rounds) > 1}
    by_round: dict[int, list[float]] = {}
    for rounds in deviations.values():
        for r, deviation in rounds.items():
            by_round.setdefault(r, []).append(deviation)
    shared = {r: statistics.fmean(each) for r, each in by_round.items() if len(each) > 1}
    own = [deviation - shared[r] for rounds in deviations.values() for r, deviation in rounds.items() if r in shared]
    if len(shared) < 2:
        return None
    round_pct, own_pct = (round(100 * statistics.pstdev(values), 1) for values in (list(shared.values()), own))
    return {"round_shared_pct": round_pct, "run_own_pct": own_pct, "rounds": len(shared),
            "sentence": f"a run's CPU per request scatters {own_pct:.1f}% on its own and {round_pct:.1f}% with its "
                        f"round (standard deviations over {len(shared)} rounds): "
                        + ("a run's own scatter is the larger, so more rounds narrow a paired median"
                           if own_pct > round_pct else "the round's drift is the larger, so pairing within a "
                           "round is what narrows a ratio")}


def ratios(runs: list[Record], summary: Record) -> list[Record]:
    """Each issue ratio: the median and range of its same-round pairs (the verdict), and the ratio of the medians."""
    return [ratio(runs, summary, measured, reference, at_most) for measured, reference, at_most in RATIOS
            if not any(name.startswith(BEFORE) and name not in summary for name in (measured, reference))
            ]  # no --baseline, or no such layer then


def ratio(runs: list[Record], summary: Record, measured: str, reference: str,
          at_most: float | None = None) -> Record:
    """measured / reference in CPU us per request. "paired": the median of the same-round ratios, each round's
    measured over that round's reference (what the verdict judges against `at_most`, and what a "× reference"
    column shows), with "rounds" their median, min and max (None when no round has both); "ratio": of the medians,
    kept beside it (a ratio of medians can sit at the edge of the rounds' own range)."""
    entry: Record = {"measured": measured, "reference": reference, "at_most": at_most, "ratio": None,
                     "paired": None, "rounds": None, "verdict": "n/a"}
    a, b = (summary.get(name, {}).get("cpu_us_per_req") for name in (measured, reference))
    if a and b:
        entry["ratio"] = round(a["median"] / b["median"], 3)
        entry["rounds"] = rounds = spread([round(p, 3) for p in paired_ratios(runs, measured, reference)])
        entry["paired"] = paired = rounds["median"] if rounds else None
        entry["verdict"] = ("-" if at_most is None else "n/a" if paired is None
                            else "PASS" if paired <= at_most else "FAIL")
    return entry


def paired_ratios(runs: list[Record], measured: str, reference: str) -> list[float]:
    """measured / reference of every round in which both ran ok, in round order."""
    return [a / b for a, b in paired(runs, measured, reference)]


def paired_differences(runs: list[Record], measured: str, reference: str) -> list[float]:
    """measured - reference, in CPU us per request, of every round in which both ran ok (none for itself)."""
    return [a - b for a, b in paired(runs, measured, reference)] if measured != reference else []


def paired(runs: list[Record], measured: str, reference: str) -> list[tuple[float, float]]:
    """(measured, reference) CPU us per request of every round in which both ran ok, in round order."""
    per_round: dict[int, dict[str, float]] = {}
    for run in runs:
        if run["status"] == "ok" and run["target"] in (measured, reference):
            per_round.setdefault(run["repeat"], {})[run["target"]] = run["cpu_us_per_req"]
    return [(r[measured], r[reference]) for _, r in sorted(per_round.items()) if len(r) == 2]


def cell(entry: Record | None, fmt: str) -> str:
    if not entry:
        return "-"
    return f"{entry['median']:{fmt}} [{entry['min']:{fmt}}-{entry['max']:{fmt}}]"


def table(summary: Record, verdicts: list[Record]) -> str:
    head = (f"{'target':<36} {'CPU us/req':>22} {'above floor us':>22} {'requests/s':>24} {'p99 ms':>20} "
            f"{'srv CPU%':>7} {'wrk CPU%':>8} {'ok':>4}")
    lines = [head, "-" * len(head)]
    for name, entry in summary.items():
        srv, load = (f"{e['median']:.1f}" if e else "-" for e in (entry["server_cpu_pct"], entry["wrk_cpu_pct"]))
        lines.append(f"{name:<36} {cell(entry['cpu_us_per_req'], '.1f'):>22} "
                     f"{cell(entry.get('above_floor_us'), '.1f'):>22} {cell(entry['rps'], '.0f'):>24} "
                     f"{cell(entry['p99_ms'], '.2f'):>20} {srv:>7} {load:>8} {entry['ok']}/{entry['runs']:<2}")
    lines.append("")
    lines.append(f"{'CPU us/req ratio':<52} {'paired, per round':<17} {'of medians':<10} target")
    for v in verdicts:
        label = f"{v['measured']} / {v['reference']}"
        if v["ratio"] is None:
            lines.append(f"  {label:<50} n/a")
            continue
        paired = cell(v["rounds"], ".2f") if v["rounds"] else "n/a"  # "paired" is the rounds' median
        aim = f"<= {v['at_most']:<5}" if v["at_most"] is not None else " " * 8
        lines.append(f"  {label:<50} {paired:<17} {v['ratio']:<10.2f} {aim} {v['verdict']}")
    return "\n".join(lines)


def aim_label(verdict: Record) -> str | None:
    """"measured / reference ≤ N×" for a ratio with an aim, else None."""
    at_most = verdict["at_most"]
    return None if at_most is None else f"{verdict['measured']} / {verdict['reference']} ≤ {at_most:g}×"


def run_index(paths: list[Path]) -> str:
    """A markdown table of committed runs, one row each: its file, commit, start, plan, load before and after,
    each aim's paired median [range] and whether it was met, and its scatter (noise); what `--runs` prints."""
    loaded = [(path, json.loads(path.read_text(encoding="utf-8"))) for path in paths]
    judged = [(path, data, {label: v for v in data.get("ratios", []) if (label := aim_label(v))})
              for path, data in loaded]
    aims = list(dict.fromkeys(label for _, _, by_aim in judged for label in by_aim))
    rows = ["| run | commit | started (UTC) | plan | load before → after | " + " | ".join(aims) + " | scatter |",
            "| --- | --- | --- | --- | --- | " + " | ".join("---" for _ in aims) + " | --- |"]
    for path, data, by_aim in judged:
        env, plan, scatter = data["environment"], data["plan"], data.get("noise")
        cells = [f"{cell(v['rounds'], '.2f')} {'met' if v['verdict'] == 'PASS' else '**not met**'}"
                 if (v := by_aim.get(aim)) and v.get("rounds") else "—" for aim in aims]
        spread_text = (f"{scatter['run_own_pct']:.1f}% own, {scatter['round_shared_pct']:.1f}% shared"
                       if scatter else "—")
        rows.append(f"| `{path.name}` | {(env.get('git_commit') or '?')[:7]} | {env['started'][:16].replace('T', ' ')} "
                    f"| {plan['repeat']} × {plan['seconds']} s | {env['load_before']:.2f} → {env['load_after']:.2f} | "
                    + " | ".join(cells) + f" | {spread_text} |")
    return "\n".join(rows)


# -- main ---------------------------------------------------------------------------------------

def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_1min() -> float:
    """The machine's 1-minute load average, as a caption shows it."""
    return round(os.getloadavg()[0], 2)


def environment(versions: dict[str, str] | None) -> Record:
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    wrk_version = subprocess.run([wrk.WRK, "-v"], capture_output=True, text=True)
    return {
        "python": platform.python_version(), "platform": platform.platform(), "cpu_model": cpu_model(),
        "cpus": os.cpu_count(),
        "server_cpus": sorted(measure.cpu_split()[0] or []), "wrk_cpus": sorted(measure.cpu_split()[1] or []),
        "wrk": (wrk_version.stdout + wrk_version.stderr).split("Copyright")[0].strip(),
        "reference": versions, "git_commit": commit or None, "started": utc_now(), "finished": None,
        "loadavg_before": os.getloadavg(), "loadavg_after": None, "load_before": load_1min(), "load_after": None,
        "baseline": None,
    }


PROG = "python -m bench.reference"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    names = [t.name for t in targets(baseline=Path("."))]
    p = OneLineParser(prog=PROG, description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--seconds", type=int, default=6, help="wrk duration per run (whole seconds, default 6)")
    p.add_argument("--repeat", type=int, default=5, help="rounds over all targets (default 5)")
    p.add_argument("--connections", type=int, default=50, help="wrk keep-alive connections (default 50)")
    p.add_argument("--warmup", type=int, default=1, help="wrk warm-up before each run, seconds (default 1)")
    p.add_argument("--targets", help=f"comma list of: {', '.join(names)} (default: all; before:* with --baseline)")
    p.add_argument("--out", type=Path, default=None, help="folder for reference.json (default results/reference-UTC)")
    p.add_argument("--baseline", type=Path, default=None, metavar="DIR",
                   help="also measure our servers as checked out in DIR (targets before:LAYER/MODEL)")
    p.add_argument("--runs", type=Path, nargs="+", metavar="FILE",
                   help="measure nothing: print a markdown table of these reference.json runs and their aims")
    p.set_defaults(targets=None)
    options = p.parse_args(argv)
    if options.runs:
        if missing := [str(path) for path in options.runs if not path.is_file()]:
            p.error(f"--runs: no such file: {', '.join(missing)}")
        return options
    if options.baseline is not None and not (options.baseline / OURS[0][0]).is_dir():
        p.error(f"--baseline {options.baseline}: not a checkout of this project (no {OURS[0][0]}/ in it)")
    if options.targets is None:
        options.targets = ",".join(t.name for t in targets(baseline=options.baseline))
    options.targets = [t.strip() for t in options.targets.split(",") if t.strip()]
    if unknown := set(options.targets) - set(names):
        p.error(f"unknown target(s): {', '.join(sorted(unknown))}")
    if not options.targets:
        p.error("--targets names no target")
    if min(options.seconds, options.repeat, options.connections, options.warmup) < 1:
        p.error("--seconds, --repeat, --connections and --warmup must be >= 1")
    if any(name.startswith(BEFORE) for name in options.targets) and options.baseline is None:
        p.error("before:* targets need --baseline DIR")
    if options.out is not None and options.out.exists() and not options.out.is_dir():
        p.error(f"--out {options.out} is a file, not a folder")
    return options


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    if options.runs:
        try:
            print(run_index(options.runs))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # not JSON, or not a run's record
            fail(f"{PROG} --runs: not a bench.reference run ({type(exc).__name__}: {exc})")
        return 0
    if not wrk.available():
        fail(f"{PROG}: wrk is not installed (apt-get install wrk)")
    chosen = [t for t in targets(baseline=options.baseline) if t.name in options.targets]
    versions = ensure_venv() if any(t.production for t in chosen) else None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = options.out or ROOT / "results" / f"reference-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    environ = environment(versions)
    run_list: list[Record] = []
    results: Record = {"schema": 1, "environment": environ,
               "plan": {"seconds": options.seconds, "repeat": options.repeat, "connections": options.connections,
                        "wrk_threads": 1, "warmup_s": options.warmup, "path": "/plaintext", "app": "webapp.App",
                        "targets": [t.name for t in chosen]},
               "runs": run_list}
    if options.baseline is not None:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=options.baseline, capture_output=True, text=True)
        environ["baseline"] = {"path": str(options.baseline.resolve()),
                                              "git_commit": commit.stdout.strip() or None}
    started = time.monotonic()
    for repeat in range(1, options.repeat + 1):
        shift = (repeat - 1) % len(chosen)
        for target in chosen[shift:] + chosen[:shift]:
            print(f"round {repeat}/{options.repeat}: {target.name} ...", end=" ", flush=True)
            slug = target.name.replace("/", "-").replace("+", "-")
            run = measure_target(target, repeat, options, out / "servers" / f"{slug}-{repeat}")
            run_list.append(run)
            print(f"{run['cpu_us_per_req']} us/req, {run['rps']:.0f} req/s" if run["status"] == "ok"
                  else f"FAILED: {run['error'][:200]}", flush=True)
            (out / "reference.json").write_text(json.dumps(results, indent=2))
    results["summary"] = summary = summarise(run_list)
    results["ratios"] = verdicts = ratios(run_list, summary)
    results["noise"] = scatter = noise(run_list)
    environ.update(finished=utc_now(), loadavg_after=os.getloadavg(), load_after=load_1min(),
                   elapsed_s=round(time.monotonic() - started, 1))
    (out / "reference.json").write_text(json.dumps(results, indent=2))
    text = table(summary, verdicts) + (f"\n\n{scatter['sentence']}" if scatter else "")
    (out / "reference.txt").write_text(text + "\n")
    print(f"\n{text}\n\nload average before {environ['load_before']:.2f}, after {environ['load_after']:.2f} "
          f"(1 min); {environ['elapsed_s']:.0f} s; {out / 'reference.json'}")
    return 0 if all(run["status"] == "ok" for run in run_list) else 1


if __name__ == "__main__":
    exit_on_sigterm()
    sys.exit(main())
