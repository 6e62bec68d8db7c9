"""The quick profile of `server-layers compare` (BENCH §5): paired rounds, every figure bound by pacing or the server.

Every variant (layer/model) gets one server process for the whole profile, all pinned to the same
CPU; the load generators get the other. Per scenario, two passes:

- `locust`: one Locust process loads every server *at the same time*, at one fixed offered rate
  per server (the same for every variant; all together well under the harness's calibrated
  ceiling); its `windows` of `window_s` seconds are its rounds (window 0 warms up and is not
  counted). Per round and variant: CPU µs per request (the server's CPU clock, sampled every
  20 ms, read at the window's edges) and latency, at equal load; bound by pacing. Loaded
  together, a drift in the machine's speed hits every variant at the very same moment and the
  ratios paired within a window cancel it: one after the other, a variant per 0.5 s phase, the
  rounds of one run still scattered ±20% on the 2-core machine, whose speed swings by a third
  within seconds; together, they stay within a few %. At this low load the servers sharing
  a core barely wait for one another (their latency includes it, alike for all).
- `wrk`: one server at a time, its core to itself, in rounds whose order rotates (A B C, B C A,
  C A B, ...): wrk in a closed loop over keep-alive connections for `wrk_s` seconds, requests/s
  on one server core; bound by the server. (Saturating the servers together instead would make
  them fight for the core, and the fight costs a thread per connection far more than an event
  loop: not what one core serves.) Round 0 is a 1 s warm-up pass per server, not recorded.

A server that forks a process per connection has its CPU in its children, readable only once they
are reaped: its Locust windows get no CPU figure. This module never imports locust and serves
nothing; a pass that fails is recorded, never raised.
"""

import contextlib
import http.client
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import measure, runner, wrk
from .classify import bound_by
from .knobs import DEFAULT
from .results import LOCUST, WRK, environment
from .runner import Level, Plan, Server, calibrate, figures, finish, rotated, run_locust, warm_up, write
from .scenarios import TARGETS_ENV, WINDOWS_ENV

SCENARIOS = list(wrk.PATHS)  # the scenarios both passes can drive
RATE_SHARE = 0.6  # the offered rates together stay at or below this share of the calibrated ceiling
MIN_RATE = 25
FAILURES = (RuntimeError, OSError, http.client.HTTPException)
CHILD_PROCESS_MODELS = {"forking"}  # their CPU is the children's, read once reaped
LOCUST_SPARE_S = 30  # Locust quits itself after the last window; --run-time is only a bound


@dataclass
class Profile:
    """What one compare measures and for how long."""

    variants: list[tuple[str, str]]
    scenarios: list[str]
    out: Path
    rounds: int = 5  # wrk's rounds: each costs every variant a pass of wrk_s (6 variants: 5 keep compare under 5 min)
    windows: int = 15  # Locust's rounds: each costs window_s for every variant at once
    rate: int = 200  # requests/s offered by Locust to each server, the same for every variant
    window_s: float = 2.0  # one round of the Locust pass
    wrk_s: int = 3  # one variant's wrk pass in a round (1 s passes scattered 12% around their mean, 3 s ones 3%)
    connections: int = 50  # keep-alive connections of each wrk
    warmup_s: float = 0.3
    notes: list[str] = field(default_factory=list)

    def level(self) -> Level:
        """Locust's users and rate for one server."""
        return Level.for_rate(self.rate)


def settle_rate(profile: Profile, ceiling: float | None) -> None:
    """Halve the offered rate until all servers' together are at most RATE_SHARE of the harness's ceiling
    (when the machine cannot carry it; say so). Halving, not rounding, so that two runs whose calibrations
    differ a little still offer the same rate, and their ratios compare."""
    servers = len(profile.variants)
    if ceiling and profile.rate * servers > RATE_SHARE * ceiling:
        lowered = profile.rate
        while lowered * servers > RATE_SHARE * ceiling and lowered > MIN_RATE:
            lowered //= 2
        profile.notes.append(f"offered rate halved from {profile.rate} to {lowered} req/s per server: {servers} "
                             f"servers together at most {RATE_SHARE:.0%} of the harness's calibrated ceiling of "
                             f"{ceiling:.0f} req/s")
        profile.rate = lowered


def execute(profile: Profile, progress) -> dict:
    """Calibrate, start every server, run the passes, write results.json after each; return the results."""
    profile.out.mkdir(parents=True, exist_ok=True)
    results = {"schema": 1, "environment": environment(), "plan": None, "calibration": None, "runs": []}
    steps = 2 + len(profile.scenarios) * (2 + profile.rounds)
    progress.start(steps, length_s(profile) / steps)
    progress.step("calibration: the harness's ceiling")
    results["calibration"] = calibrate(Plan(layers=[], models=[], scenario="plaintext", levels=[profile.level()],
                                            duration_s=3.0, repeat=1, out=profile.out, warmup_s=profile.warmup_s))
    ceiling = results["calibration"]["rps"] if results["calibration"]["status"] == "ok" else None
    settle_rate(profile, ceiling)
    results["plan"] = plan_summary(profile)
    progress.step(f"starting {len(profile.variants)} servers")
    servers = start_servers(profile)
    try:
        for scenario in profile.scenarios:
            progress.step(f"Locust: {scenario}, every server at {profile.rate} req/s, {profile.windows} windows")
            results["runs"] += locust_pass(profile, scenario, servers, ceiling)
            write(profile.out, results)
        for scenario in profile.scenarios:
            for round_no in range(profile.rounds + 1):
                progress.step(f"wrk: {scenario}, round {round_no}/{profile.rounds}")
                results["runs"] += wrk_round(profile, scenario, servers, round_no)
                write(profile.out, results)
    finally:
        results["runs"] = stop_servers(servers, results["runs"])
    return finish(profile.out, results, progress)


def plan_summary(profile: Profile) -> dict:
    return {"kind": "rounds", "variants": [f"{layer}/{model}" for layer, model in profile.variants],
            "scenarios": profile.scenarios, "rounds": profile.rounds, "windows": profile.windows,
            "repeat": profile.rounds, "rate": profile.rate,
            "locust_users": profile.level().users, "window_s": profile.window_s, "wrk_s": profile.wrk_s,
            "wrk_connections": profile.connections, "warmup_s": profile.warmup_s, "warm_up_round": True,
            "together": True, "notes": profile.notes}


# --- the servers, one per variant for the whole profile ------------------------------------------


def start_servers(profile: Profile) -> dict[tuple[str, str], "Server | str"]:
    """A warmed-up server per variant, or the reason it has none."""
    server_cpus, _ = measure.cpu_split()
    servers = {}
    for layer, model in profile.variants:
        try:
            servers[layer, model] = Server(layer, model, profile.out / "servers" / f"{layer}-{model}", server_cpus)
            warm_up(servers[layer, model].url, profile.warmup_s)
        except FAILURES as exc:
            if isinstance(servers.get((layer, model)), Server):
                servers[layer, model].stop()
            servers[layer, model] = f"server did not start: {exc}"
    return servers


def live(profile: Profile, servers: dict) -> list[tuple[str, str]]:
    return [v for v in profile.variants if isinstance(servers[v], Server) and not servers[v].exited()]


def stop_servers(servers: dict, runs: list[dict]) -> list[dict]:
    """Stop every server; a server that had died, or exited badly, fails every pass it served."""
    broken = {}
    for variant, server in servers.items():
        if isinstance(server, Server):
            usage = server.stop()
            if usage is None or usage.status != 0:
                broken[variant] = (f"server exited with {usage.status if usage else 'unknown'}", server.stderr_tail())
    return [failed(run, *broken[run["layer"], run["model"]])
            if run["status"] == "ok" and (run["layer"], run["model"]) in broken else run for run in runs]


def head(layer: str, model: str, round_no: int, load: str, scenario: str) -> dict:
    return {"layer": layer, "model": model, "knob": DEFAULT, "server_args": "", "round": round_no,
            "repeat": round_no, "load": load, "scenario": scenario}


def failed(record: dict, error: str, stderr_tail: str = "") -> dict:
    return {**record, "status": "failed", "error": error[:500], "stderr_tail": stderr_tail}


def not_served(profile: Profile, servers: dict, targets: list, scenario: str) -> list[dict]:
    """Failed records, in every Locust window, for the variants that are not among the live `targets`."""
    return [failed(head(*v, r, LOCUST, scenario), servers[v] if isinstance(servers[v], str)
                   else "the server had died before this pass") for r in range(1, profile.windows + 1)
            for v in profile.variants if v not in targets]


def died_during(record: dict, servers: dict) -> dict:
    server = servers[record["layer"], record["model"]]
    if record["status"] == "ok" and server.exited():
        return failed(record, "the server died during this pass", server.stderr_tail())
    return record


# --- Locust: every server at the same rate, at the same time ----------------------------------------


def locust_pass(profile: Profile, scenario: str, servers: dict, ceiling: float | None) -> list[dict]:
    """One Locust process over every live server at once; a record per variant and round (window)."""
    targets = live(profile, servers)
    down = not_served(profile, servers, targets, scenario)
    if not targets:
        return down
    one, load_cpus = profile.level(), measure.cpu_split()[1]
    level = Level(one.users * len(targets), one.rate * len(targets))  # each user paces its own server
    plan = Plan(layers=[], models=[], scenario=scenario, levels=[level], repeat=1, out=profile.out,
                duration_s=math.ceil((profile.windows + 1) * profile.window_s + LOCUST_SPARE_S))
    env = {TARGETS_ENV: " ".join(servers[v].url for v in targets), WINDOWS_ENV: f"{profile.window_s},{profile.windows}"}
    with contextlib.ExitStack() as stack:
        samplers = [stack.enter_context(measure.CpuSampler(servers[v].pid, load_cpus)) for v in targets]
        try:
            load = run_locust(plan, level, servers[targets[0]].url, profile.out / "locust" / scenario, load_cpus, env)
        except FAILURES as exc:
            return down + [failed(head(*v, r, LOCUST, scenario), str(exc))
                           for r in range(1, profile.windows + 1) for v in targets]
    return down + [died_during(window_record(profile, scenario, load, r, i, v, samplers[i], ceiling, len(targets)),
                               servers) for r in range(1, profile.windows + 1) for i, v in enumerate(targets)]


def window_record(profile: Profile, scenario: str, load: dict, round_no: int, target: int, variant: tuple,
                  sampler: measure.CpuSampler, ceiling: float | None, servers: int) -> dict:
    """One variant in one round of the Locust pass (of `servers` loaded at once): its requests, latency and
    CPU in that window; against the harness's ceiling, all the servers' requests count."""
    level, counts = profile.level(), load["windows"].get((target, round_no))
    record = {**head(*variant, round_no, LOCUST, scenario), "users": level.users, "rate": level.rate,
              "duration_s": profile.window_s}
    if load["start"] is None or not counts or not counts["requests"]:
        return failed(record, "Locust completed no request in this window", load["stderr"][-500:])
    record.update(figures({**counts, "locust_cpu_pct": load["locust_cpu_pct"]}, profile.window_s))
    edges = [sampler.at(load["start"] + k * profile.window_s) for k in (round_no, round_no + 1)]
    readable = variant[1] not in CHILD_PROCESS_MODELS and None not in edges
    record.update(server_cpu(edges[1] - edges[0] if readable else None, counts["requests"] - counts["failures"],
                             profile.window_s))
    record["bound_by"] = bound_by(record["rps"] * servers, ceiling, record["locust_cpu_pct"] or 0.0,
                                  record["server_cpu_pct"] or 0.0)
    return record


# --- wrk: one server at a time, its core to itself ----------------------------------------------


def wrk_round(profile: Profile, scenario: str, servers: dict, round_no: int) -> list[dict]:
    """One wrk pass per variant, in this round's rotated order; round 0 is a short warm-up, not recorded."""
    load_cpus, records = measure.cpu_split()[1], []
    warm_up_round = replace(profile, wrk_s=1) if round_no == 0 else profile
    for layer, model in rotated(profile.variants, round_no):
        record, server = head(layer, model, round_no, WRK, scenario), servers[layer, model]
        if isinstance(server, str):
            records.append(failed(record, server))
        elif server.exited():
            records.append(failed(record, "the server had died before this pass", server.stderr_tail()))
        else:
            try:
                records.append(died_during(wrk_pass(warm_up_round, record, server, load_cpus), servers))
            except FAILURES as exc:
                records.append(failed(record, str(exc)))
    return records if round_no else []


def wrk_pass(profile: Profile, head: dict, server: Server, cpus: set[int] | None) -> dict:
    """wrk in a closed loop: the most the server serves on its one core."""
    path, script = wrk.PATHS[head["scenario"]]
    before = measure.cpu_so_far(server.pid)
    result = wrk.run_wrk(server.url, path, profile.wrk_s, profile.connections, 1, cpus, script=script)
    cpu_s = settled_cpu(server, head["model"]) - before
    seconds = result["duration_s"] or profile.wrk_s
    served = result["ok_requests"]
    record = {
        **head, "users": profile.connections, "rate": None, "connections": profile.connections, "duration_s": seconds,
        "status": "ok", "requests": result["requests"], "failures": result["non_2xx"],
        "rps": round(served / seconds, 1), "fail_ratio": round(result["non_2xx"] / result["requests"], 4)
        if result["requests"] else None, "socket_errors": result["errors"],
        "p50_ms": result["p50_ms"], "p90_ms": result["p90_ms"], "p99_ms": result["p99_ms"],
        "max_ms": result["latency_max_ms"], "locust_cpu_pct": None, "load_cpu_pct": result["wrk_cpu_pct"],
        **server_cpu(cpu_s, served, result["wall_s"]),
    }
    record["bound_by"] = bound_by(record["rps"], None, record["load_cpu_pct"], record["server_cpu_pct"])
    if result["non_2xx"] or not served:
        return failed(record, f"{result['non_2xx']} answers of {result['requests']} were not 2xx")
    return record


def settled_cpu(server: Server, model: str) -> float:
    """The server's CPU so far; with a process per connection, once the pass's children are reaped
    (runner.settled_cpu waits for that): only reaped children's CPU can be read."""
    return runner.settled_cpu(server) if model in CHILD_PROCESS_MODELS else measure.cpu_so_far(server.pid)


def server_cpu(cpu_s: float | None, served: int, seconds: float) -> dict:
    """The server's CPU figures of a pass; None where its CPU could not be read."""
    if cpu_s is None:
        return {"server_cpu_s": None, "server_cpu_pct": None, "cpu_us_per_req": None}
    return {"server_cpu_s": round(cpu_s, 4), "server_cpu_pct": round(100 * cpu_s / seconds, 1) if seconds else 0.0,
            "cpu_us_per_req": round(1e6 * cpu_s / served, 2) if served else None}


def length_s(profile: Profile) -> float:
    """A rough length of the whole profile: calibration, servers, Locust's windows, wrk's passes."""
    locust = (profile.windows + 1) * profile.window_s + 4  # + Locust's start-up, ramp and settling
    wrk_passes = len(profile.variants) * (profile.rounds * (profile.wrk_s + 0.1) + 1.1)  # + a 1 s warm-up pass
    return 6 + len(profile.variants) * (profile.warmup_s + 0.5) + len(profile.scenarios) * (locust + wrk_passes)


def minutes(profile: Profile) -> float:
    return math.ceil(length_s(profile)) / 60

