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
- `wrk`: every server saturated at once, each by a wrk of its own over `connections` keep-alive
  connections, while the servers take turns of `turn_s` on their core (bench.turns: SIGSTOP and
  SIGCONT, the order rotated every round: A B C, B C A, ...), `share_s` seconds on the core each per
  round. While it runs, a server has the core to itself, saturated; a swing in the machine's speed
  hits every server alike, as in Locust's pass. The scenarios' rounds alternate (plaintext's round
  1, page's round 1, plaintext's round 2, ...), so each scenario's rounds span the whole pass and a
  state of the machine that lasts a minute cannot hold all of one scenario's rounds. Per round and variant:
  requests per server CPU-second (what one core serves when the load keeps it busy: the capacity figure) and requests
  per second of its turns; bound by the server. One after the other in 3 s passes instead, the
  rounds of a run scattered by up to a factor of 2.5 and their medians by ±22% (docs/results/
  compare-twice/check-*). wrk's latencies include the turns a server waited stopped: not recorded
  here (the sweep measures latency at saturation). Round 0 is a short warm-up, not recorded.

A server that forks a process per connection has its CPU in its children, readable only once they
are reaped: its Locust windows get no CPU figure. This module never imports locust and serves
nothing; a pass that fails is recorded, never raised.
"""

import contextlib
import http.client
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypedDict

from . import measure, turns, wrk
from .classify import bound_by, bound_in_closed_loop
from .knobs import DEFAULT
from .results import LOCUST, WRK, Results, Run, environment
from .runner import Level, Plan, Server, calibrate, figures, finish, rotated, run_locust, warm_up, write
from .scenarios import TARGETS_ENV, WINDOWS_ENV

SCENARIOS = list(wrk.PATHS)  # the scenarios both passes can drive
RATE_SHARE = 0.6  # the offered rates together stay at or below this share of the calibrated ceiling
MIN_RATE = 25
FAILURES = (RuntimeError, OSError, http.client.HTTPException)
CHILD_PROCESS_MODELS = {"forking"}  # their CPU is the children's, read once reaped
LOCUST_SPARE_S = 30  # Locust quits itself after the last window; --run-time is only a bound
WARM_UP_SHARE_S = 0.3  # round 0 of the capacity pass, per variant, not recorded
CONNECT_S = 0.2  # from starting the wrks to the first turn: every connection made, its first request waiting
WRK_TIMEOUT_S = 10  # a request waits through the other servers' turns: far longer than wrk's 2 s default


@dataclass
class Profile:
    """What one compare measures and for how long."""

    variants: list[tuple[str, str]]
    scenarios: list[str]
    out: Path
    rounds: int = 8  # wrk's rounds: each costs share_s per variant, all variants in turns
    windows: int = 15  # Locust's rounds: each costs window_s for every variant at once
    rate: int = 200  # requests/s offered by Locust to each server, the same for every variant
    window_s: float = 2.0  # one round of the Locust pass
    share_s: float = 1.0  # each variant's time on the core per wrk round, in turns of turn_s
    turn_s: float = 0.1  # one turn on the core: short against the machine's swings, long against a turn's start-up
    connections: int = 50  # keep-alive connections of each wrk
    warmup_s: float = 0.3
    notes: list[str] = field(default_factory=list)

    def level(self) -> Level:
        """Locust's users and rate for one server."""
        return Level.for_rate(self.rate)


def pass_level(profile: Profile) -> Level:
    """The users of the whole Locust pass (every server's at once): the harness's ceiling is measured with as
    many users as the pass runs, not one server's few (4 users in a closed loop are bound by their round trips,
    and their ceiling, a third lower, halved the rate on some runs and not on others)."""
    one = profile.level()
    return Level(one.users * len(profile.variants), profile.rate * len(profile.variants))


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


def execute(profile: Profile, progress) -> Results:
    """Calibrate, start every server, run the passes, write results.json after each; return the results."""
    profile.out.mkdir(parents=True, exist_ok=True)
    steps = 2 + len(profile.scenarios) * (2 + profile.rounds)
    progress.start(steps, length_s(profile) / steps)
    progress.step("calibration: the harness's ceiling")
    calibration = calibrate(Plan(layers=[], models=[], scenario="plaintext", levels=[pass_level(profile)],
                                 duration_s=3.0, repeat=1, out=profile.out, warmup_s=profile.warmup_s))
    ceiling = calibration["rps"] if calibration["status"] == "ok" else None
    settle_rate(profile, ceiling)
    results = Results(environment(), plan_summary(profile), calibration)
    progress.step(f"starting {len(profile.variants)} servers")
    servers = start_servers(profile)
    try:
        for scenario in profile.scenarios:
            progress.step(f"Locust: {scenario}, every server at {profile.rate} req/s, {profile.windows} windows")
            results = replace(results, runs=(*results.runs, *locust_pass(profile, scenario, servers, ceiling)))
            write(profile.out, results)
        for round_no in range(profile.rounds + 1):  # the scenarios' rounds alternate: each spans the whole pass
            for scenario in profile.scenarios:
                progress.step(f"wrk: {scenario}, round {round_no}/{profile.rounds}")
                results = replace(results, runs=(*results.runs, *wrk_round(profile, scenario, servers, round_no)))
                write(profile.out, results)
    finally:
        results = replace(results, runs=tuple(stop_servers(servers, list(results.runs))))
    return finish(profile.out, results, progress)


def plan_summary(profile: Profile) -> dict:
    return {"kind": "rounds", "variants": [f"{layer}/{model}" for layer, model in profile.variants],
            "scenarios": profile.scenarios, "rounds": profile.rounds, "windows": profile.windows,
            "repeat": profile.rounds, "rate": profile.rate,
            "locust_users": profile.level().users, "window_s": profile.window_s, "share_s": profile.share_s,
            "turn_s": profile.turn_s,
            "wrk_connections": profile.connections, "warmup_s": profile.warmup_s, "warm_up_round": True,
            "together": True, "notes": profile.notes}


# --- the servers, one per variant for the whole profile ------------------------------------------


def start_servers(profile: Profile) -> dict[tuple[str, str], "Server | str"]:
    """A warmed-up server per variant, or the reason it has none."""
    server_cpus, _ = measure.cpu_split()
    servers: dict[tuple[str, str], Server | str] = {}
    for layer, model in profile.variants:
        server = None
        try:
            server = Server(layer, model, profile.out / "servers" / f"{layer}-{model}", server_cpus)
            warm_up(server.url, profile.warmup_s)
            servers[layer, model] = server
        except FAILURES as exc:
            if server is not None:
                server.stop()
            servers[layer, model] = f"server did not start: {exc}"
    return servers


def live(profile: Profile, servers: dict) -> list[tuple[str, str]]:
    return [v for v in profile.variants if isinstance(servers[v], Server) and not servers[v].exited()]


def stop_servers(servers: dict, runs: list[Run]) -> list[Run]:
    """Stop every server; a server that had died, or exited badly, fails every pass it served."""
    broken = {}
    for variant, server in servers.items():
        if isinstance(server, Server):
            usage = server.stop()
            if usage is None or usage.status != 0:
                broken[variant] = (f"server exited with {usage.status if usage else 'unknown'}", server.stderr_tail())
    return [failed(run, *broken[run.layer, run.model]) if run.ok and (run.layer, run.model) in broken else run
            for run in runs]


def head(layer: str, model: str, round_no: int, load: str, scenario: str) -> Run:
    """What every record of a pass starts from: its variant, round, load generator and scenario; no figure yet."""
    return Run(layer=layer, model=model, knob=DEFAULT, server_args="", round=round_no, repeat=round_no, load=load,
               scenario=scenario)


def failed(record: Run, error: str, stderr_tail: str = "") -> Run:
    return replace(record, status="failed", error=error[:500], stderr_tail=stderr_tail)


def not_served(profile: Profile, servers: dict, targets: list, scenario: str) -> list[Run]:
    """Failed records, in every Locust window, for the variants that are not among the live `targets`."""
    return [failed(head(*v, r, LOCUST, scenario), servers[v] if isinstance(servers[v], str)
                   else "the server had died before this pass") for r in range(1, profile.windows + 1)
            for v in profile.variants if v not in targets]


def died_during(record: Run, servers: dict) -> Run:
    server = servers[record.layer, record.model]
    if record.ok and server.exited():
        return failed(record, "the server died during this pass", server.stderr_tail())
    return record


# --- Locust: every server at the same rate, at the same time ----------------------------------------


def locust_pass(profile: Profile, scenario: str, servers: dict, ceiling: float | None) -> list[Run]:
    """One Locust process over every live server at once; a record per variant and round (window)."""
    targets = live(profile, servers)
    down = not_served(profile, servers, targets, scenario)
    if not targets:
        return down
    one, load_cpus = profile.level(), measure.cpu_split()[1]
    level = Level(one.users * len(targets), profile.rate * len(targets))  # each user paces its own server (pass_level)
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


def window_record(profile: Profile, scenario: str, load: dict, round_no: int, target: int, variant: tuple[str, str],
                  sampler: measure.CpuSampler, ceiling: float | None, servers: int) -> Run:
    """One variant in one round of the Locust pass (of `servers` loaded at once): its requests, latency and
    CPU in that window; against the harness's ceiling, all the servers' requests count."""
    level, counts = profile.level(), load["windows"].get((target, round_no))
    window = replace(head(*variant, round_no, LOCUST, scenario), users=level.users, rate=level.rate,
                     duration_s=profile.window_s)
    if load["start"] is None or not counts or not counts["requests"]:
        return failed(window, "Locust completed no request in this window", load["stderr"][-500:])
    measured = figures({**counts, "locust_cpu_pct": load["locust_cpu_pct"]}, profile.window_s)
    start, end = (sampler.at(load["start"] + k * profile.window_s) for k in (round_no, round_no + 1))
    readable = variant[1] not in CHILD_PROCESS_MODELS
    cpu_s = end - start if readable and start is not None and end is not None else None
    cpu = server_cpu(cpu_s, counts["requests"] - counts["failures"], profile.window_s)
    bound = bound_by(measured["rps"] * servers, ceiling, measured["locust_cpu_pct"] or 0.0,
                     cpu["server_cpu_pct"] or 0.0)
    return replace(window, **measured, **cpu, bound_by=bound)


# --- wrk: every server saturated at once, the servers taking turns on their core -------------------


def wrk_round(profile: Profile, scenario: str, servers: dict, round_no: int) -> list[Run]:
    """One round of the capacity pass (bench.turns): a wrk per live server, all at once, the servers taking
    turns on their core in this round's rotated order; round 0 is a short warm-up, not recorded."""
    order = [v for v in rotated(profile.variants, round_no) if v in live(profile, servers)]
    down = [failed(head(*v, round_no, WRK, scenario), servers[v] if isinstance(servers[v], str) else
                   "the server had died before this pass") for v in profile.variants if v not in order]
    share = profile.share_s if round_no else WARM_UP_SHARE_S
    try:
        records = turns_pass(profile, scenario, servers, order, round_no, share) if order else []
    except FAILURES as exc:
        records = [failed(head(*v, round_no, WRK, scenario), str(exc)) for v in order]
    return down + [died_during(record, servers) for record in records] if round_no else []


def turns_pass(profile: Profile, scenario: str, servers: dict, order: list[tuple[str, str]], round_no: int,
               share_s: float) -> list[Run]:
    """Every server in `order` under its own wrk for `share_s` seconds on the core each, in turns of turn_s."""
    path, script = wrk.PATHS[scenario]
    load_cpus, pids = measure.cpu_split()[1], [servers[v].pid for v in order]
    seconds = math.ceil(share_s * len(order))
    with turns.Turns(pids, profile.turn_s) as taking:
        loads = [wrk.start_wrk(servers[v].url, path, seconds, profile.connections, 1, load_cpus, script=script,
                               timeout_s=WRK_TIMEOUT_S) for v in order]
        try:
            time.sleep(CONNECT_S)  # every wrk connected, its first requests waiting
            before = [measure.cpu_so_far(pid) for pid in pids]
            active = taking.run(lambda: any(load.done() for load in loads))
        except BaseException:  # a server gone, or an interrupt: no wrk outlives the pass
            for load in loads:
                load.stop()
            raise
    results = [load.collect() for load in loads]  # the others end within a few ms of the first
    cpu = [None if v[1] in CHILD_PROCESS_MODELS else measure.cpu_so_far(pid) - start  # children: unread
           for v, pid, start in zip(order, pids, before, strict=True)]
    return [capacity_record(head(*v, round_no, WRK, scenario), result, active[pid], cpu_s, profile.connections)
            for v, pid, result, cpu_s in zip(order, pids, results, cpu, strict=True)]


def capacity_record(head: Run, result: dict, active_s: float, cpu_s: float | None, connections: int) -> Run:
    """One server's share of a capacity round: what it served per second of its turns and per CPU-second.
    wrk's latencies include the turns the server waited stopped: not recorded."""
    served = result["ok_requests"]
    load_cpu_pct = round(100 * result["wrk_cpu_s"] / active_s, 1)
    record = replace(
        head, users=connections, rate=None, connections=connections, duration_s=round(active_s, 3),
        status="ok", requests=result["requests"], failures=result["non_2xx"],
        rps=round(served / active_s, 1), req_per_cpu_s=round(served / cpu_s, 1) if cpu_s else None,
        fail_ratio=round(result["non_2xx"] / result["requests"], 4) if result["requests"] else None,
        socket_errors=result["errors"], locust_cpu_pct=None, load_cpu_pct=load_cpu_pct,
        **server_cpu(cpu_s, served, active_s), bound_by=bound_in_closed_loop(load_cpu_pct),
    )
    if result["non_2xx"] or not served:
        return failed(record, f"{result['non_2xx']} answers of {result['requests']} were not 2xx")
    return record


class ServerCpu(TypedDict):
    """The server's CPU figures of a pass (a Run's keywords)."""

    server_cpu_s: float | None
    server_cpu_pct: float | None
    cpu_us_per_req: float | None


def server_cpu(cpu_s: float | None, served: int, seconds: float) -> ServerCpu:
    """The server's CPU figures of a pass; None where its CPU could not be read."""
    if cpu_s is None:
        return {"server_cpu_s": None, "server_cpu_pct": None, "cpu_us_per_req": None}
    return {"server_cpu_s": round(cpu_s, 4), "server_cpu_pct": round(100 * cpu_s / seconds, 1) if seconds else 0.0,
            "cpu_us_per_req": round(1e6 * cpu_s / served, 2) if served else None}


def length_s(profile: Profile) -> float:
    """A rough length of the whole profile: calibration, servers, Locust's windows, wrk's rounds."""
    locust = (profile.windows + 1) * profile.window_s + 4  # + Locust's start-up, ramp and settling
    def one_round(share_s: float) -> float:  # every variant's share in turns, the wrks' start, their reports
        return math.ceil(share_s * len(profile.variants)) + CONNECT_S + 0.3

    wrk_passes = profile.rounds * one_round(profile.share_s) + one_round(WARM_UP_SHARE_S)
    return 6 + len(profile.variants) * (profile.warmup_s + 0.5) + len(profile.scenarios) * (locust + wrk_passes)


def minutes(profile: Profile) -> float:
    return math.ceil(length_s(profile)) / 60

