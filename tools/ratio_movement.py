"""How far the verdict's paired ratios move from one run to the next: the evidence behind each measure's threshold.

    python tools/ratio_movement.py docs/results/compare-twice/run-*   # one column per run folder (its results.json)
    python tools/ratio_movement.py --rounds RUN                   # every paired ratio of one run, round by round
    python tools/ratio_movement.py --write docs/results/compare-twice/run-*   # reports/movement.json from them

For every load, scenario and variant it prints the median paired ratio to the baseline in each run,
and the movement: the largest median over the smallest, minus one; then each measure's largest
movement. With --write, those largest movements (rounded up to the whole percent) become
reports/movement.json, which the verdict ranks by. Reads results.json only.
"""

import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from oneline import OneLineParser, fail  # noqa: E402
from reports import data, verdict  # noqa: E402


def findings(results: "data.Results") -> list[verdict.Finding]:
    """Every load and scenario of one run that has a level the verdict can speak for (verdict.findings)."""
    return [one for one in verdict.findings(results, data.scenarios(data.summary(results))) if one.level]


def medians(results: "data.Results") -> dict[tuple[str, str, str], float]:
    """(load, scenario, variant) -> the median of its paired ratios to the baseline, in one run."""
    return {(one.measure.load, one.scenario, name): verdict.Spread.of(one.ratios(name, one.baseline())).median
            for one in findings(results) for name in one.variants() if name != one.baseline()}


def per_round(results: "data.Results") -> None:
    """Every paired ratio to the baseline, a column per round, then the verdict's median [min–max]."""
    for one in findings(results):
        base = one.baseline()
        shown = one.measure.show(one.figure(base).median)
        print(f"{one.measure.title}, {one.scenario} at {one.level}, ÷ {base} ({shown}):")
        for name in (name for name in one.variants() if name != base):
            ratios = one.ratios(name, base)
            every = " ".join(f"{r:5.2f}" for r in ratios)
            print(f"  {name:<28} {every}   {verdict.ratio_text(verdict.Spread.of(ratios))}")


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog="tools/ratio_movement.py", description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="run folders, each holding a results.json")
    p.add_argument("--rounds", action="store_true", help="each run's paired ratios round by round instead")
    p.add_argument("--write", action="store_true", help=f"also write each measure's largest movement into "
                   f"{verdict.MOVEMENT_FILE.relative_to(ROOT)} (the verdict's thresholds)")
    args = p.parse_args(argv)
    if args.write and len(args.runs) < 2:
        fail(f"{p.prog}: --write needs two runs or more")
    try:
        runs = [data.load(folder) for folder in args.runs]  # every folder checked before anything is printed
    except data.ReportError as exc:
        fail(f"{p.prog}: {exc}")
    if args.rounds:
        for folder, results in zip(args.runs, runs, strict=True):
            print(f"== {folder}")
            per_round(results)
        return 0
    worst = movement_table(args.runs, [medians(results) for results in runs])
    if args.write:
        verdict.MOVEMENT_FILE.write_text(json.dumps(evidence(args.runs, worst), indent=2) + "\n")
        print(f"written: {verdict.MOVEMENT_FILE.relative_to(ROOT)}")
    return 0


def evidence(folders: list[Path], worst: dict[str, float]) -> dict:
    """reports/movement.json: each load's largest movement, rounded up to the whole percent, and where it came from."""
    names = [str(folder.resolve().relative_to(ROOT)) if folder.resolve().is_relative_to(ROOT) else str(folder)
             for folder in folders]
    return {"movement": {load: math.ceil(100 * value - 1e-9) / 100 for load, value in sorted(worst.items())},
            "evidence": names, "how": "python tools/ratio_movement.py --write " + " ".join(names)}


def movement_table(folders: list[Path], columns: list[dict]) -> dict[str, float]:
    """A row per (load, scenario, variant): its median in each run, and how far it moved; then each load's largest
    move, which it returns (load -> movement)."""
    keys = sorted({key for column in columns for key in column})
    names = [folder.name or folder.parent.name for folder in folders]
    print(f"{'load':<7} {'scenario':<10} {'variant (÷ baseline)':<28} " + " ".join(f"{n[:16]:>16}" for n in names)
          + f" {'movement':>9}")
    worst: dict[str, float] = {}
    for key in keys:
        values = [column.get(key) for column in columns]
        present = [v for v in values if v is not None]
        movement = max(present) / min(present) - 1 if len(present) > 1 else 0.0
        worst[key[0]] = max(worst.get(key[0], 0.0), movement)
        cells = " ".join(f"{v:>16.2f}" if v is not None else f"{'—':>16}" for v in values)
        print(f"{key[0]:<7} {key[1]:<10} {key[2]:<28} {cells} {movement:>8.1%}")
    for measure in verdict.MEASURES:
        if measure.load in worst:
            print(f"largest movement, {measure.title} ({measure.tool}): {worst[measure.load]:.1%}; its threshold in "
                  f"{verdict.MOVEMENT_FILE.name} is {measure.threshold():.0%}")
    return worst


if __name__ == "__main__":
    sys.exit(main())
