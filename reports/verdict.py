"""The verdict: what the runs can say about which layer costs what, and nothing more.

Figures come only from runs bound by pacing or by the server, never by the load generator:
Locust runs give CPU µs per request at a fixed rate (lower is better), compare's wrk rounds give
requests per server CPU-second at saturation (higher is better). For each load and scenario the
verdict takes the highest load level at which no completed run was bound by the load generator.
A variant's ratio to the baseline is computed within each round (paired: the same machine state)
and stated as median [min–max] over the rounds, on every run: a wide scatter is said beside the
ratio, never a reason to withhold it. Two variants are ranked apart only when their paired ratios
lie on the same side of 1.0, the median ratio is further from 1.0 than that measure's own
run-to-run movement (MOVEMENT, measured: reports/movement.json), and at least MIN_ROUNDS rounds
pair them; otherwise the verdict calls them indistinguishable. One round in TRIM_FROM (rounded
down) is left out of the same-side test at each end, the lowest and the highest ratios (never out
of the median [min–max] shown): on a shared machine a pass now and then runs far off its
neighbours, and one such pass must not decide a ranking.
Plain text (the callers escape it); it never states a figure that is not in results.json.
"""

import functools
import itertools
import json
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.catalog import DEFAULT_MODEL
from bench.results import LOCUST, WRK, Results, Run

from .data import LG, number

# How far each measure's median paired ratios moved between two `make compare` runs in a row
# (`python tools/ratio_movement.py --write RUN RUN` writes it from the committed runs it names).
MOVEMENT_FILE = Path(__file__).resolve().with_name("movement.json")
MIN_ROUNDS = 3  # BENCH §5: at least three rounds before a ranking
TRIM_FROM = 5  # per this many paired rounds, the most extreme round on each side is left out of the test
# The standard error of a median paired ratio (from the rounds' median absolute deviation) beyond which the
# verdict says the rounds scattered; two runs with errors that size differ by more than 10% about once in twenty.
MAX_SCATTER = 0.035
BASELINE = "/".join(next(iter(DEFAULT_MODEL.items())))  # the catalog's first layer, its default model: the
# tutorial's floor, a socket and a thread per connection


@functools.cache
def movement() -> dict[str, float]:
    """load generator -> the largest movement of a median paired ratio between two runs (0.06 is 6%)."""
    return {load: float(value) for load, value in json.loads(MOVEMENT_FILE.read_text())["movement"].items()}


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
    words: tuple[str, str]  # the verdict word for a better and a worse variant than the baseline
    sentence: str  # "{scenario}, {level}: {base} {figure}; {others}.": how the plain sentence reads
    same: str  # an indistinguishable variant in the sentence: "as much", "as many"
    short: str  # the measure in a chart's panel title

    def show(self, value: float) -> str:
        return f"{number(value, self.kind)} {self.unit}"

    def threshold(self) -> float:
        """This measure's own run-to-run movement: a median closer to 1.0 than this ranks nothing."""
        return movement()[self.load]


MEASURES = [
    Measure(LOCUST, "cpu_us_per_req", True, "CPU per request", "µs", "us", "Locust", ("cheaper", "costlier"),
            "On {scenario} at a light {level}, a request costs {base} {figure} of CPU; {others}.", "as much",
            "CPU per request"),
    Measure(WRK, "req_per_cpu_s", False, "requests per server CPU-second at saturation", "req/CPU-s", "rate", "wrk",
            ("serves more", "serves fewer"),
            "On {scenario}, saturated by wrk, {base} serves {figure} (requests per second of its CPU); {others}.",
            "as many", "Requests per CPU-second"),
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
        return len(ratios) >= MIN_ROUNDS and min(kept) > 1 and statistics.median(ratios) > 1 + self.measure.threshold()

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


def variant(run: Run) -> str:
    return run.variant


def round_of(run: Run) -> int:
    return run.round or run.repeat or 1


def level_of(run: Run) -> tuple[int, str]:
    """(a sort key, the words) of a run's load level."""
    users = run.users or 0  # every completed run records its level
    if run.generator == WRK:
        return users, f"{users} connections"
    if run.rate:
        return run.rate, f"{run.rate} req/s"
    return users, f"{users} user" + ("" if users == 1 else "s")


def finding(runs: Iterable[Run], measure: Measure, scenario: str) -> Finding | None:
    """The level the verdict can speak for, in one load and scenario; None when there is no such run."""
    chosen = [r for r in runs if r.ok and r.generator == measure.load and r.scenario == scenario
              and r.figure(measure.key) is not None]
    if not chosen:
        return None
    clean = [level_of(r) for r in chosen]
    tainted = {level_of(r) for r in chosen if r.bound_by == LG}
    usable = sorted(set(clean) - tainted, reverse=True)
    if not usable:
        return Finding(measure, scenario, None, {}, 0)
    level = usable[0]
    table: dict[int, dict[str, float]] = {}
    at_level = [(r, value) for r in chosen if level_of(r) == level and (value := r.figure(measure.key))]
    for run, value in at_level:
        table.setdefault(round_of(run), {})[variant(run)] = value
    return Finding(measure, scenario, level[1], table, len(at_level))


# --- the words -----------------------------------------------------------------------------------


def ratio_text(spread: Spread) -> str:
    return f"{spread.median:.2f}× [{spread.low:.2f}–{spread.high:.2f}]"


def word(found: Finding, name: str) -> str:
    """The verdict word of one variant against the baseline: "baseline", "indistinguishable", or the measure's own
    word for better or worse ("cheaper", "costlier"; "serves more", "serves fewer")."""
    base = found.baseline()
    if name == base:
        return "baseline"
    if found.rounds() < MIN_ROUNDS or not (found.apart(base, name) or found.apart(name, base)):
        return "indistinguishable"
    return found.measure.words[0] if found.apart(name, base) else found.measure.words[1]


def in_median_order(found: Finding) -> list[str]:
    """Every variant but the baseline, by its median paired ratio to the baseline, the best first."""
    base = found.baseline()
    sign = 1 if found.measure.lower_is_better else -1
    return sorted((n for n in found.variants() if n != base),
                  key=lambda n: (sign * Spread.of(found.ratios(n, base)).median, n))


def order_text(found: Finding) -> str:
    """"from cheapest: A, then B and C (indistinguishable), then D"."""
    if found.rounds() < MIN_ROUNDS:
        return f"{found.rounds()} round{'s' if found.rounds() != 1 else ''} cannot rank them (it takes {MIN_ROUNDS})"
    # a tie's members in name order: their medians' order is noise, and the text must not change with it
    tiers = found.tiers()
    groups = [tier[0] if len(tier) == 1 else f"{join(sorted(tier))} (indistinguishable)" for tier in tiers]
    if len(groups) == 1:
        return "indistinguishable from one another"
    for place, (before, tier) in enumerate(itertools.pairwise(tiers), 1):
        if bridges := found.bridges(before, tier):  # "then" holds for the tiers' heads, not for these
            groups[place] += f" (not apart from {join(sorted(bridges))})"
    first = "from cheapest" if found.measure.lower_is_better else "from most"
    return f"{first}: " + ", then ".join(groups)


def plain_sentence(found: Finding) -> str:
    """One scenario of one measure in a sentence short enough to read aloud: the baseline's figure, then every other
    variant in median order, "as much" when the data cannot tell it from the baseline, else its paired multiple."""
    if found.level is None:
        return f"On {found.scenario}, every level was bound by the load generator: nothing to rank."
    base = found.baseline()
    parts, same = [], []
    for name in in_median_order(found):
        if word(found, name) == "indistinguishable":
            same.append(name)
            continue
        if same:
            parts.append(f"{join(same)} {found.measure.same}")
            same = []
        parts.append(f"{name} {Spread.of(found.ratios(name, base)).median:.2f}×")
    if same:
        parts.append(f"{join(same)} {found.measure.same}")
    text = found.measure.sentence.format(scenario=found.scenario, level=found.level, base=base,
                                         figure=found.measure.show(found.figure(base).median), others=join(parts))
    if found.rounds() >= MIN_ROUNDS and not found.steady():
        text = text[:-1] + f" (the rounds scattered: a median's error up to ±{found.scatter():.0%})."
    return text


def findings(results: Results, scenarios: list[str], knob: str | None = None) -> list[Finding]:
    """Every measure and scenario this run has a finding for, measure by measure."""
    runs = [run for run in results.runs if knob is None or run.knob == knob]
    return [f for m in MEASURES for s in scenarios if (f := finding(runs, m, s))]


def tail(runs: Sequence[Run]) -> str:
    """What the verdict left out, and why."""
    lg = sum(r.ok and r.bound_by == LG for r in runs)
    failed = sum(not r.ok for r in runs)
    left = (f"{plural(lg, 'run')} bound by the load generator {'is' if lg == 1 else 'are'} shown but never ranked"
            if lg else "No run was bound by the load generator")
    return left + (f", and {plural(failed, 'run')} failed and {'is' if failed == 1 else 'are'} left out." if failed
                   else ", and none failed.")


def verdict(results: Results, scenarios: list[str], knob: str | None = None) -> str:
    """The verdict of this run as one paragraph; with a `knob`, about that knob's runs alone."""
    return " ".join(sentences(results, scenarios, knob))


def sentences(results: Results, scenarios: list[str], knob: str | None = None) -> list[str]:
    """The verdict as plain sentences: one per measure and scenario, then what was left out."""
    runs = results.runs
    if not runs:
        return ["The file holds no run yet."]
    said = [plain_sentence(f) for f in findings(results, scenarios, knob)]
    if not said:
        said = ["No completed run has a figure to compare (the harness did not start the servers, or every run "
                "failed)."]
    if knob is not None:
        said[0] = said[0][:-1] + f", all with the {knob} knob (the knob matrix compares the others)."
    return [*said, tail(runs)]


def orders(results: Results, scenarios: list[str]) -> list[str]:
    """The order the data allows among all the variants, per measure and scenario (tiers: order_text)."""
    return [f"{f.measure.title[0].upper()}{f.measure.title[1:]}, {f.scenario}: {order_text(f)}."
            for f in findings(results, scenarios) if f.level]


def table(results: Results, scenarios: list[str]) -> tuple[list[str], list[list[str]]]:
    """The verdict at a glance: a row per scenario and variant, per measure its paired ratio to the baseline (the
    baseline's own figure in its row), median [min–max], and its verdict word; the variants in the first
    measure's median order."""
    found = [f for f in findings(results, scenarios) if f.level]
    measures = [m for m in MEASURES if any(f.measure == m for f in found)]
    headers = ["scenario", "variant"]
    for measure in measures:
        level = next(f.level for f in found if f.measure == measure)
        headers += [f"{measure.title} ({measure.tool}, {level})", "verdict"]
    rows = []
    for scenario in scenarios:
        here = {f.measure: f for f in found if f.scenario == scenario}
        names = list(dict.fromkeys(name for f in here.values() for name in [f.baseline(), *in_median_order(f)]))
        for name in names:
            row = [scenario, name]
            for measure in measures:
                one = here.get(measure)
                row += [glance_cell(one, name), word(one, name)] if one and name in one.variants() else ["—", "—"]
            rows.append(row)
    return headers, rows


def glance_cell(found: Finding, name: str) -> str:
    """"1.51× [1.45–1.57]", or the baseline's own figure "180 µs [144–197]"."""
    if name == found.baseline():
        spread = found.figure(name)
        return f"{found.measure.show(spread.median)} [{number(spread.low, found.measure.kind)}–" \
               f"{number(spread.high, found.measure.kind)}]"
    return ratio_text(Spread.of(found.ratios(name, found.baseline())))


def answer(results: Results, scenarios: list[str]) -> str:
    """The one-line answer: on the first scenario, who serves the most and the fewest per core, and who costs the
    most CPU per request at a light load, each as a paired multiple of the baseline; from the data alone."""
    found = {f.measure.load: f for f in findings(results, scenarios[:1]) if f.level and f.rounds() >= MIN_ROUNDS}
    said = []
    if capacity := found.get(WRK):
        said.append(extremes(capacity, "serves the most requests per core", "the fewest",
                             "no variant serves more requests per core than"))
    if cpu := found.get(LOCUST):
        said.append(extremes(cpu, "costs the least CPU per request", "the most",
                             "no variant costs less CPU per request than", f" at {cpu.level}"))
    if not said:
        return "This run holds no finding to answer with."
    return f"On {scenarios[0]}, " + "; ".join(said) + "."


def extremes(found: Finding, best: str, worst: str, none: str, where: str = "") -> str:
    """"A serves the most requests per core (1.40× B) and C the fewest (0.33×)", naming only ranked variants."""
    base, order = found.baseline(), in_median_order(found)
    ranked = [n for n in order if word(found, n) != "indistinguishable"]
    times = {n: f"{Spread.of(found.ratios(n, base)).median:.2f}×" for n in order}
    good = [n for n in ranked if word(found, n) == found.measure.words[0]]
    bad = [n for n in ranked if word(found, n) == found.measure.words[1]]
    head = f"{good[0]} {best}{where} ({times[good[0]]} {base})" if good else f"{none} {base}{where}"
    return head + (f" and {bad[-1]} {worst} ({times[bad[-1]]})" if bad else "")


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def join(items: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""
