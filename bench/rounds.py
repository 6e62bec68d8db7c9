"""The quick profile of `server-layers compare` (BENCH §5): interleaved rounds, every figure bound by pacing or the server.

Every variant (layer/model) gets one server process for the whole profile, all pinned to the
same CPU, so the rounds can be seconds apart. Round r takes the variants in an order rotated by
r-1 (A B C, B C A, C A B), so a drift in the machine's speed hits every variant alike and ratios
can be paired within a round; round 0 of each pass is a warm-up and is not recorded. Per scenario:

- `locust`: one Locust process paces the servers in turn at one fixed offered rate, the same for
  every variant and well under the harness's calibrated ceiling, in phases of `phase_s` seconds
  (a phase is one variant in one round): CPU µs per request and latency at equal load, bound by
  pacing. Only the phase's server has work while the phase runs, and none at its edges;
- `wrk`: wrk in a closed loop over keep-alive connections, one short pass per variant and round:
  requests/s on one server core (bound by the server).

The servers' CPU comes from the kernel's per-process CPU clock: sampled through the Locust pass
(a phase's CPU is the difference at its edges), read before and after each wrk pass. A server
that forks a process per connection has its CPU in its children, readable only once they are
reaped: its Locust phases get no CPU figure. This module never imports locust and serves
nothing; a pass that fails is recorded, never raised.
"""

import contextlib
import http.client
import math
from dataclasses import dataclass, field
from pathlib import Path

from . import measure, runner, wrk
from .classify import bound_by
from .knobs import DEFAULT
from .results import LOCUST, WRK, environment
from .runner import Level, Plan, Server, calibrate, figures, finish, rotated, run_locust, warm_up, write
from .scenarios import GUARD_S, PHASES_ENV, TARGETS_ENV, phase_target

SCENARIOS = list(wrk.PATHS)  # the scenarios both passes can drive
RATE_SHARE = 0.6  # the offered rate stays at or below this share of the calibrated ceiling
MIN_RATE = 50
FAILURES = (RuntimeError, OSError, http.client.HTTPException)
CHILD_PROCESS_MODELS = {"forking"}  # their CPU is the children's, read once reaped
LOCUST_SPARE_S = 30  # Locust quits itself after the last phase; --run-time is only a bound


@dataclass
class Profile:
    """What one compare measures and for how long."""

    variants: list[tuple[str, str]]
    scenarios: list[str]
    out: Path
    rounds: int = 15
    rate: int = 1000  # requests/s offered by Locust, the same for every variant (and every machine that carries it)
    phase_s: float = 0.5  # one variant's share of a round in the Locust pass
    wrk_s: int = 1
    connections: int = 50  # wrk's keep-alive connections
    warmup_s: float = 0.3
    notes: list[str] = field(default_factory=list)

    def level(self) -> Level:
        return Level.for_rate(self.rate)

    def order(self) -> list[tuple[int, str, str]]:
        """(round, layer, model) in the order each pass takes them; round 0 is the warm-up."""
        return [(r, layer, model) for r in range(self.rounds + 1) for layer, model in rotated(self.variants, r)]


def settle_rate(profile: Profile, ceiling: float | None) -> None:
    """Halve the offered rate until it is at most RATE_SHARE of the harness's ceiling (when the machine
    cannot carry it; say so). Halving, not rounding, so that two runs whose calibrations differ a little still offer
    the same rate, and their ratios compare."""
    if ceiling and profile.rate > RATE_SHARE * ceiling:
        lowered = profile.rate
        while lowered > RATE_SHARE * ceiling and lowered > MIN_RATE:
            lowered //= 2
        profile.notes.append(f"offered rate halved from {profile.rate} to {lowered} req/s: at most "
                             f"{RATE_SHARE:.0%} of the harness's calibrated ceiling of {ceiling:.0f} req/s")
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
            progress.step(f"Locust: {scenario}, {profile.rounds} rounds")
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
    level = profile.level()
    return {"kind": "rounds", "variants": [f"{layer}/{model}" for layer, model in profile.variants],
            "scenarios": profile.scenarios, "rounds": profile.rounds, "repeat": profile.rounds, "rate": profile.rate,
            "locust_users": level.users, "phase_s": profile.phase_s, "wrk_s": profile.wrk_s,
            "wrk_connections": profile.connections, "warmup_s": profile.warmup_s, "warm_up_round": True,
            "notes": profile.notes,
            "order": [f"{r}:{layer}/{model}" for r, layer, model in profile.order()]}


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


def head(profile: Profile, layer: str, model: str, round_no: int, load: str, scenario: str) -> dict:
    return {"layer": layer, "model": model, "knob": DEFAULT, "server_args": "", "round": round_no,
            "repeat": round_no, "load": load, "scenario": scenario}


def failed(record: dict, error: str, stderr_tail: str = "") -> dict:
    return {**record, "status": "failed", "error": error[:500], "stderr_tail": stderr_tail}


# --- Locust: every server paced in turn, phase by phase ---------------------------------------------


def locust_pass(profile: Profile, scenario: str, servers: dict, ceiling: float | None) -> list[dict]:
    """One Locust process multiplexed over the live servers; a record per variant and round."""
    live = [v for v in profile.variants if isinstance(servers[v], Server) and not measure.exited(servers[v].process)]
    down = [failed(head(profile, *v, r, LOCUST, scenario), servers[v] if isinstance(servers[v], str)
                   else "the server had died before this pass") for r in range(1, profile.rounds + 1)
            for v in profile.variants if v not in live]
    if not live:
        return down
    level, _, load_cpus = profile.level(), *measure.cpu_split()
    phases = (profile.rounds + 1) * len(live)
    plan = Plan(layers=[], models=[], scenario=scenario, levels=[level], repeat=1, out=profile.out,
                duration_s=math.ceil(phases * profile.phase_s + LOCUST_SPARE_S))
    env = {TARGETS_ENV: " ".join(servers[v].url for v in live), PHASES_ENV: f"{profile.phase_s},{profile.rounds}"}
    with contextlib.ExitStack() as stack:
        samplers = [stack.enter_context(measure.CpuSampler(servers[v].process.pid, load_cpus)) for v in live]
        try:
            load = run_locust(plan, level, servers[live[0]].url, profile.out / "locust" / scenario, load_cpus, env)
        except FAILURES as exc:
            return down + [failed(head(profile, *v, r, LOCUST, scenario), str(exc))
                           for r in range(1, profile.rounds + 1) for v in live]
    records = [phase_record(profile, scenario, load, phase, live, samplers, ceiling) for phase in range(phases)
               if phase_target(phase, len(live))[0] > 0]
    return down + [died_during(record, servers) for record in records]


def phase_record(profile: Profile, scenario: str, load: dict, phase: int, live: list, samplers: list,
                 ceiling: float | None) -> dict:
    """One variant in one round of the Locust pass: its requests, latency and CPU in that phase."""
    round_no, target = phase_target(phase, len(live))
    layer, model = live[target]
    level, counts = profile.level(), load["phases"].get(phase)
    record = {**head(profile, layer, model, round_no, LOCUST, scenario), "users": level.users, "rate": level.rate,
              "duration_s": profile.phase_s}
    if load["start"] is None or not counts or not counts["requests"]:
        return failed(record, "Locust completed no request in this phase", load["stderr"][-500:])
    record.update(figures({**counts, "locust_cpu_pct": load["locust_cpu_pct"]}, profile.phase_s - GUARD_S))
    edges = [samplers[target].at(load["start"] + k * profile.phase_s) for k in (phase, phase + 1)]
    readable = model not in CHILD_PROCESS_MODELS and None not in edges
    cpu_s = edges[1] - edges[0] if readable else None
    record.update(server_cpu(cpu_s, counts["requests"] - counts["failures"], profile.phase_s))
    record["bound_by"] = bound_by(record["rps"], ceiling, record["locust_cpu_pct"] or 0.0,
                                  record["server_cpu_pct"] or 0.0)
    return record


def died_during(record: dict, servers: dict) -> dict:
    server = servers[record["layer"], record["model"]]
    if record["status"] == "ok" and measure.exited(server.process):
        return failed(record, "the server died during this pass", server.stderr_tail())
    return record


# --- wrk: the variants in turn, a short closed-loop pass each ------------------------------------


def wrk_round(profile: Profile, scenario: str, servers: dict, round_no: int) -> list[dict]:
    """One wrk pass per variant in this round's order; round 0 warms up and is not recorded."""
    _, load_cpus = measure.cpu_split()
    records = []
    for layer, model in rotated(profile.variants, round_no):
        record, server = head(profile, layer, model, round_no, WRK, scenario), servers[layer, model]
        if isinstance(server, str):
            records.append(failed(record, server))
        elif measure.exited(server.process):
            records.append(failed(record, "the server had died before this pass", server.stderr_tail()))
        else:
            try:
                records.append(died_during(wrk_pass(profile, record, server, load_cpus), servers))
            except FAILURES as exc:
                records.append(failed(record, str(exc)))
    return records if round_no > 0 else []


def wrk_pass(profile: Profile, head: dict, server: Server, cpus: set[int] | None) -> dict:
    """wrk in a closed loop: the most the server serves on its one core."""
    path, script = wrk.PATHS[head["scenario"]]
    before = measure.cpu_so_far(server.process.pid)
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
    return runner.settled_cpu(server) if model in CHILD_PROCESS_MODELS else measure.cpu_so_far(server.process.pid)


def server_cpu(cpu_s: float | None, served: int, seconds: float) -> dict:
    """The server's CPU figures of a pass; None where its CPU could not be read."""
    if cpu_s is None:
        return {"server_cpu_s": None, "server_cpu_pct": None, "cpu_us_per_req": None}
    return {"server_cpu_s": round(cpu_s, 4), "server_cpu_pct": round(100 * cpu_s / seconds, 1) if seconds else 0.0,
            "cpu_us_per_req": round(1e6 * cpu_s / served, 2) if served else None}


def length_s(profile: Profile) -> float:
    """A rough length of the whole profile: calibration, servers, Locust's phases, wrk's passes."""
    passes = (profile.rounds + 1) * len(profile.variants)
    locust = len(profile.scenarios) * (passes * profile.phase_s + 3.5)  # + Locust's start-up, ramp and settling
    return 6 + len(profile.variants) * (profile.warmup_s + 0.5) + locust + len(profile.scenarios) * passes * (
        profile.wrk_s + 0.1)


def minutes(profile: Profile) -> float:
    return math.ceil(length_s(profile)) / 60

