"""The quick profile of `server-layers compare` (BENCH §5): interleaved rounds, every figure bound by pacing or the server.

Round r takes the variants (layer/model) in an order rotated by r-1 (A B C, B C A, C A B), so that
a drift in the machine's speed hits every variant alike and ratios can be paired within a round.
In its slot a variant gets one server process, pinned to its own CPU and warmed up; then, for each
scenario, two passes:

- `locust`: Locust at one fixed offered rate, the same for every variant and well under the
  harness's calibrated ceiling: CPU µs per request and latency at equal load (bound by pacing);
- `wrk`: wrk in a closed loop over keep-alive connections: requests/s on one server core
  (bound by the server).

The server's CPU comes from the kernel's per-process CPU clock read before and after each pass.
This module never imports locust and serves nothing; a pass that fails is recorded, never raised.
"""

import http.client
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import measure, runner, wrk
from .classify import bound_by
from .knobs import DEFAULT
from .results import LOCUST, WRK, environment
from .runner import Level, Plan, Server, calibrate, figures, finish, rotated, run_locust, warm_up, write

SCENARIOS = list(wrk.PATHS)  # the scenarios both passes can drive
RATE_SHARE = 0.5  # the offered rate stays at or below half the calibrated ceiling
FAILURES = (RuntimeError, OSError, http.client.HTTPException)
CHILD_PROCESS_MODELS = {"forking"}  # their CPU is the children's, read once reaped


@dataclass
class Profile:
    """What one compare measures and for how long."""

    variants: list[tuple[str, str]]
    scenarios: list[str]
    out: Path
    rounds: int = 5
    rate: int = 3000  # requests/s offered by Locust, the same for every variant (trial runs: 1000 was noisier)
    locust_s: float = 3.0
    wrk_s: int = 2
    connections: int = 50  # wrk's keep-alive connections
    warmup_s: float = 0.3
    notes: list[str] = field(default_factory=list)

    def level(self) -> Level:
        return Level.for_rate(self.rate)

    def slots(self) -> list[tuple[int, str, str]]:
        """(round, layer, model) in the order they run."""
        return [(r, layer, model) for r in range(1, self.rounds + 1) for layer, model in rotated(self.variants, r)]

    def passes(self) -> int:
        return 2 * len(self.scenarios)


def settle_rate(profile: Profile, ceiling: float | None) -> None:
    """Lower the offered rate to half the harness's ceiling when the machine cannot carry it; say so."""
    if ceiling and profile.rate > RATE_SHARE * ceiling:
        lowered = max(100, int(RATE_SHARE * ceiling) // 100 * 100)
        profile.notes.append(f"offered rate lowered from {profile.rate} to {lowered} req/s: half the harness's "
                             f"calibrated ceiling of {ceiling:.0f} req/s")
        profile.rate = lowered


def execute(profile: Profile, progress) -> dict:
    """Calibrate, run every slot, write results.json after each; return the results."""
    profile.out.mkdir(parents=True, exist_ok=True)
    results = {"schema": 1, "environment": environment(), "plan": None, "calibration": None, "runs": []}
    progress.start(len(profile.slots()) + 2, profile.passes() * (profile.locust_s + profile.wrk_s) / 2 + 1)
    progress.step("calibration: the harness's ceiling")
    results["calibration"] = calibrate(Plan(layers=[], models=[], scenario="plaintext", levels=[profile.level()],
                                            duration_s=min(profile.locust_s, 3.0), repeat=1, out=profile.out,
                                            warmup_s=profile.warmup_s))
    ceiling = results["calibration"]["rps"] if results["calibration"]["status"] == "ok" else None
    settle_rate(profile, ceiling)
    results["plan"] = plan_summary(profile)
    progress.step("warm-up slot (not recorded)")
    warm_machine(profile, ceiling)
    for round_no, layer, model in profile.slots():
        progress.step(f"round {round_no}/{profile.rounds}: {layer}/{model}")
        results["runs"] += measure_slot(profile, layer, model, round_no, ceiling)
        write(profile.out, results)
    return finish(profile.out, results, progress)


def warm_machine(profile: Profile, ceiling: float | None) -> None:
    """One short slot of the first variant, thrown away: in every trial run the first slot after the
    calibration cost 10-70% more CPU per request than the same variant's later rounds."""
    short = replace(profile, out=profile.out / "warm-up", locust_s=1.0, wrk_s=1, notes=[])
    measure_slot(short, *profile.variants[0], 0, ceiling)


def plan_summary(profile: Profile) -> dict:
    level = profile.level()
    return {"kind": "rounds", "variants": [f"{layer}/{model}" for layer, model in profile.variants],
            "scenarios": profile.scenarios, "rounds": profile.rounds, "repeat": profile.rounds, "rate": profile.rate,
            "locust_users": level.users, "duration_s": profile.locust_s, "wrk_s": profile.wrk_s,
            "wrk_connections": profile.connections, "warmup_s": profile.warmup_s, "warm_up_slot": True,
            "notes": profile.notes,
            "order": [f"{r}:{layer}/{model}" for r, layer, model in profile.slots()]}


# --- one variant in one round --------------------------------------------------------------


def measure_slot(profile: Profile, layer: str, model: str, round_no: int, ceiling: float | None) -> list[dict]:
    """One server for every pass of this variant in this round; a record per pass, failed ones included."""
    base = {"layer": layer, "model": model, "knob": DEFAULT, "server_args": "", "round": round_no, "repeat": round_no}
    heads = [{**base, "load": load, "scenario": s} for load in (LOCUST, WRK) for s in profile.scenarios]
    server_cpus, load_cpus = measure.cpu_split()
    try:
        server = Server(layer, model, profile.out / "servers" / f"{layer}-{model}-{round_no}", server_cpus)
    except FAILURES as exc:
        return [failed(head, str(exc)) for head in heads]
    try:
        warm_up(server.url, profile.warmup_s)
        records = [one_pass(profile, head, server, load_cpus, ceiling) for head in heads]
    except FAILURES as exc:
        records = [failed(head, f"warm-up: {exc}") for head in heads]
    usage = server.stop()
    if usage is None or usage.status != 0:
        status = usage.status if usage else "unknown"
        records = [failed(r, f"server exited with {status}", server.stderr_tail()) if r["status"] == "ok" else r
                   for r in records]
    return records


def failed(record: dict, error: str, stderr_tail: str = "") -> dict:
    return {**record, "status": "failed", "error": error[:500], "stderr_tail": stderr_tail}


def one_pass(profile: Profile, head: dict, server: Server, load_cpus: set[int] | None, ceiling: float | None) -> dict:
    """One pass against a running server: its figures, or a failed record."""
    if measure.exited(server.process):
        return failed(head, "the server had died before this pass", server.stderr_tail())
    try:
        if head["load"] == LOCUST:
            record = locust_pass(profile, head, server, load_cpus, ceiling)
        else:
            record = wrk_pass(profile, head, server, load_cpus)
    except FAILURES as exc:
        return failed(head, str(exc))
    if measure.exited(server.process):
        return failed(record, "the server died during this pass", server.stderr_tail())
    return record


def locust_pass(profile: Profile, head: dict, server: Server, cpus: set[int] | None, ceiling: float | None) -> dict:
    """Locust at the profile's fixed rate: CPU per request and latency at equal load."""
    level = profile.level()
    plan = Plan(layers=[head["layer"]], models=[head["model"]], scenario=head["scenario"], levels=[level],
                duration_s=profile.locust_s, repeat=1, out=profile.out)
    name = f"{head['layer']}-{head['model']}-{head['scenario']}-r{level.rate}-{head['round']}"
    before = measure.cpu_so_far(server.process.pid)
    load = run_locust(plan, level, server.url, profile.out / "locust" / name, cpus)
    cpu_s = settled_cpu(server, head["model"]) - before
    record = {**head, "users": level.users, "rate": level.rate, "duration_s": profile.locust_s,
              **figures(load, profile.locust_s), **server_cpu(cpu_s, load["requests"] - load["failures"],
                                                               profile.locust_s)}
    record["bound_by"] = bound_by(record["rps"], ceiling, record["locust_cpu_pct"] or 0.0, record["server_cpu_pct"])
    if not record["requests"]:
        return failed(record, "Locust completed no request", load["stderr"][-500:])
    return record


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


def server_cpu(cpu_s: float, served: int, seconds: float) -> dict:
    return {"server_cpu_s": round(cpu_s, 4), "server_cpu_pct": round(100 * cpu_s / seconds, 1) if seconds else 0.0,
            "cpu_us_per_req": round(1e6 * cpu_s / served, 2) if served else None}


def minutes(profile: Profile) -> float:
    """A rough length of the whole profile, for the plan line before it starts."""
    per_slot = profile.warmup_s + 0.3 + len(profile.scenarios) * (profile.locust_s + 0.4 + profile.wrk_s + 0.05)
    return math.ceil((len(profile.slots()) + 1) * per_slot + 4) / 60  # + the warm-up slot and the calibration

