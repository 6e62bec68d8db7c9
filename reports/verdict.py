"""The verdict: what the runs can say about which layer costs what, and nothing more.

Figures come only from runs bound by pacing or by the server, never by the load generator:
Locust runs give CPU µs per request (lower is better), wrk runs requests/s on one server core
(higher is better). For each load and scenario the verdict takes the highest load level at which
no completed run was bound by the load generator. A variant's ratio to the baseline is computed
within each round (paired: the same machine state) and stated as median [min–max] over the rounds.
Two variants next to each other in the order are ranked apart only when their paired ratios lie
on the same side of 1.0, the median ratio is at least THRESHOLD away from it, and at least
MIN_ROUNDS rounds pair them; otherwise the verdict calls them indistinguishable. One round in
TRIM_FROM (rounded down) is left out of the same-side test at each end, the lowest and the highest
ratios (never out of the median [min–max] shown): on a shared machine a pass now and then runs far
off its neighbours, and one such pass must not decide a ranking.
Plain text (the callers escape it); it never states a figure that is not in results.json.
"""

import math
import statistics
from dataclasses import dataclass

from bench.knobs import knob_of
from bench.results import LOCUST, WRK, load_of

from .data import LG, number

# Two `make compare` runs in a row on a fresh clone, on the 2-core machine (docs/results/compare-twice/
# evidence-1 and evidence-2; `python tools/ratio_movement.py docs/results/compare-twice/evidence-*`),
# moved the median paired ratio of a pair by up to 18% (wrk, page: http_server_impl/threaded 0.63
# then 0.53 of raw_socket/threaded's requests/s; Locust's, measured with every server loaded at
# once, by 5% at most). A ranking must survive that movement, so a median closer to 1.0 than 25%
# ranks nothing.
THRESHOLD = 0.25
MIN_ROUNDS = 3  # BENCH §5: at least three rounds before a ranking
TRIM_FROM = 5  # per this many paired rounds, the most extreme round on each side is left out of the test
# A finding states ratios only when the run's own rounds pin its medians down: the standard error of
# each median paired ratio (from the rounds' median absolute deviation) at most MAX_SCATTER. Two runs
# with errors that size differ by more than 10% about once in twenty; wider, the verdict says so instead.
MAX_SCATTER = 0.035
BASELINE = "raw_socket/threaded"  # the tutorial's floor: a socket and a thread per connection


@dataclass(frozen=True)
class Measure:
    """What one load generator's runs measure, and which way is better."""

    load: str
    key: str
    lower_is_better: bool
    title: str
    unit: str
    kind: str  # for data.number
    tool: str  # the load generator's name in the text

    def show(self, value: float) -> str:
        return f"{number(value, self.kind)} {self.unit}"


MEASURES = [
    Measure(LOCUST, "cpu_us_per_req", True, "CPU per request", "µs", "us", "Locust"),
    Measure(WRK, "rps", False, "requests/s on one server core", "req/s", "rate", "wrk"),
]


@dataclass(frozen=True)
class Spread:
    median: float
    low: float
    high: float

    @staticmethod
    def of(values: list[float]) -> "Spread":
        return Spread(statistics.median(values), min(values), max(values))


@dataclass(frozen=True)
class Finding:
    """One load and scenario: each variant's figure per round, and what can be said of them."""

    measure: Measure
    scenario: str
    level: str | None  # "1000 req/s", "16 users", "50 connections"; None when every level was bound by Locust
    table: dict[int, dict[str, float]]  # round -> variant -> figure
    runs: int  # completed runs at that level

    def variants(self) -> list[str]:
        """Best median first; ties by name."""
        names = {name for row in self.table.values() for name in row}
        sign = 1 if self.measure.lower_is_better else -1
        return sorted(names, key=lambda name: (sign * self.figure(name).median, name))

    def figure(self, name: str) -> Spread:
        return Spread.of([row[name] for row in self.table.values() if name in row])

    def baseline(self) -> str:
        names = self.variants()
        return BASELINE if BASELINE in names else sorted(names)[0]

    def ratios(self, name: str, reference: str) -> list[float]:
        """name / reference within each round that has both."""
        return [row[name] / row[reference] for _, row in sorted(self.table.items()) if name in row and reference in row]

    def apart(self, better: str, worse: str) -> bool:
        """Can the data rank `better` before `worse`?"""
        ratios = self.ratios(worse, better) if self.measure.lower_is_better else self.ratios(better, worse)
        trim = len(ratios) // TRIM_FROM
        kept = sorted(ratios)[trim:len(ratios) - trim]
        return len(ratios) >= MIN_ROUNDS and min(kept) > 1 and statistics.median(ratios) >= 1 + THRESHOLD

    def tiers(self) -> list[list[str]]:
        """The order the data allows: from the cheapest, a variant joins the current tier unless the data tells it
        apart from one of the tier's members; so no two members of a tier are told apart (ties do not chain)."""
        tiers: list[list[str]] = []
        for name in self.variants():
            if tiers and not any(self.apart(member, name) for member in tiers[-1]):
                tiers[-1].append(name)
            else:
                tiers.append([name])
        return tiers

    def bridges(self, before: list[str], tier: list[str]) -> list[str]:
        """The members of tier `before` that the data cannot tell apart from some member of the next `tier`."""
        return [member for member in before if not all(self.apart(member, name) for name in tier)]

    def rounds(self) -> int:
        return len(self.table)

    def scatter(self) -> float:
        """The largest standard error, over the variants, of the median of their paired ratios to the
        baseline, relative (log scale), estimated robustly from the rounds' median absolute deviation."""
        base, errors = self.baseline(), []
        for name in self.variants():
            logs = [math.log(r) for r in self.ratios(name, base)] if name != base else []
            if len(logs) >= 2:
                middle = statistics.median(logs)
                deviation = statistics.median(abs(x - middle) for x in logs)
                errors.append(1.2533 * 1.4826 * deviation / math.sqrt(len(logs)))  # normal-equivalent SE of a median
        return max(errors, default=0.0)

    def steady(self) -> bool:
        return self.scatter() <= MAX_SCATTER


def variant(run: dict) -> str:
    return f"{run['layer']}/{run['model']}"


def round_of(run: dict) -> int:
    return run.get("round") or run.get("repeat") or 1


def level_of(run: dict) -> tuple[int, str]:
    """(a sort key, the words) of a run's load level."""
    if load_of(run) == WRK:
        return run["users"], f"{run['users']} connections"
    if run.get("rate"):
        return run["rate"], f"{run['rate']} req/s"
    return run["users"], f"{run['users']} user" + ("" if run["users"] == 1 else "s")


def finding(runs: list[dict], measure: Measure, scenario: str) -> Finding | None:
    """The level the verdict can speak for, in one load and scenario; None when there is no such run."""
    chosen = [r for r in runs if r.get("status") == "ok" and load_of(r) == measure.load and r["scenario"] == scenario]
    if not chosen:
        return None
    clean = [level_of(r) for r in chosen]
    tainted = {level_of(r) for r in chosen if r.get("bound_by") == LG}
    usable = sorted(set(clean) - tainted, reverse=True)
    if not usable:
        return Finding(measure, scenario, None, {}, 0)
    level = usable[0]
    table: dict[int, dict[str, float]] = {}
    at_level = [r for r in chosen if level_of(r) == level and r.get(measure.key)]
    for run in at_level:
        table.setdefault(round_of(run), {})[variant(run)] = run[measure.key]
    return Finding(measure, scenario, level[1], table, len(at_level))


# --- the words -----------------------------------------------------------------------------------


def ratio_text(spread: Spread) -> str:
    return f"{spread.median:.2f}× [{spread.low:.2f}–{spread.high:.2f}]"


def order_text(found: Finding) -> str:
    """"from cheapest: A, then B and C (indistinguishable), then D"."""
    if found.rounds() < MIN_ROUNDS:
        return f"{found.rounds()} round{'s' if found.rounds() != 1 else ''} cannot rank them (it takes {MIN_ROUNDS})"
    # a tie's members in name order: their medians' order is noise, and the text must not change with it
    tiers = found.tiers()
    groups = [tier[0] if len(tier) == 1 else f"{join(sorted(tier))} (indistinguishable)" for tier in tiers]
    if len(groups) == 1:
        return "indistinguishable from one another"
    for number, (before, tier) in enumerate(zip(tiers, tiers[1:]), 1):
        if bridges := found.bridges(before, tier):  # "then" holds for the tiers' heads, not for these
            groups[number] += f" (not apart from {join(sorted(bridges))})"
    first = "from cheapest" if found.measure.lower_is_better else "from most"
    return f"{first}: " + ", then ".join(groups)


def clause(found: Finding) -> str:
    """One scenario: the baseline's figure, the others as paired multiples of it, then the order."""
    if found.level is None:
        return f"on {found.scenario}, every level was bound by the load generator: nothing to rank"
    base = found.baseline()
    head = f"on {found.scenario} at {found.level}, {base} {found.measure.show(found.figure(base).median)}"
    if found.rounds() >= MIN_ROUNDS and not found.steady():
        return (f"{head}; the rounds scattered too widely to state ratios that would hold in the next run (a "
                f"median ratio's error up to ±{found.scatter():.0%}, more than {MAX_SCATTER:.1%}): see the chart")
    others = []
    for name in found.variants():
        if name == base:
            continue
        same = not (found.apart(base, name) or found.apart(name, base))
        others.append(f"{name} {ratio_text(Spread.of(found.ratios(name, base)))}" + (" (indistinguishable)" if same else ""))
    return f"{head}" + (f", {join(others)}" if others else "") + f"; {order_text(found)}"


def bounds_text(runs: list[dict]) -> str:
    """"24 runs bound by pacing" and the like: the bounds of the runs this measure drew from."""
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.get("bound_by") or "unknown"] = counts.get(run.get("bound_by") or "unknown", 0) + 1
    return ", ".join(f"{n} bound by {kind}" for kind, n in sorted(counts.items()))


def sentence(runs: list[dict], measure: Measure, scenarios: list[str]) -> str | None:
    """All scenarios of one load generator, as one sentence; None when it has no completed run."""
    found = [f for s in scenarios if (f := finding(runs, measure, s))]
    if not found:
        return None
    used = [r for r in runs if r.get("status") == "ok" and load_of(r) == measure.load and r.get("bound_by") != LG]
    title = f"{measure.title[0].upper()}{measure.title[1:]}"
    rounds = max(f.rounds() for f in found)
    base = next((f.baseline() for f in found if f.level), None)
    head = (f"{title} ({measure.tool}; {bounds_text(used)}), as a multiple of {base}'s, median [min–max] over {rounds} paired "
            f"round{'s' if rounds != 1 else ''}" if base else f"{title} ({measure.tool})")
    return f"{head}: " + "; ".join(clause(f) for f in found) + "."


def tail(runs: list[dict]) -> str:
    """What the verdict left out, and why."""
    lg = sum(r.get("status") == "ok" and r.get("bound_by") == LG for r in runs)
    failed = sum(r.get("status") != "ok" for r in runs)
    left = (f"{plural(lg, 'run')} bound by the load generator {'is' if lg == 1 else 'are'} shown but never ranked"
            if lg else "no run was bound by the load generator")
    return left + (f", and {plural(failed, 'run')} failed and {'is' if failed == 1 else 'are'} left out." if failed
                   else ", and none failed.")


def verdict(results: dict, scenarios: list[str], knob: str | None = None) -> str:
    """The verdict of this run; with a `knob`, about that knob's runs alone."""
    return " ".join(sentences(results, scenarios, knob))


def sentences(results: dict, scenarios: list[str], knob: str | None = None) -> list[str]:
    """The verdict as its sentences: one per load generator, what was left out in the last."""
    runs = [run for run in results["runs"] if "layer" in run]
    if not runs:
        return ["The file holds no run yet."]
    chosen = [run for run in runs if knob is None or knob_of(run) == knob]
    found = [s for m in MEASURES if (s := sentence(chosen, m, scenarios))]
    if not found:
        found = ["No completed run has a figure to compare (the harness did not start the servers, or every run "
                 "failed)."]
    if knob is not None:
        found[0] = found[0][:-1] + f", all with the {knob} knob (the knob matrix compares the others)."
    found[-1] = f"{found[-1][:-1]}; {tail(runs)}"
    return found


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def join(items: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""
