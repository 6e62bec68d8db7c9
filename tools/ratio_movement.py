"""How far the verdict's paired ratios move from one run to the next: the evidence behind verdict.THRESHOLD.

    python tools/ratio_movement.py docs/results/compare-twice/evidence-*   # one column per run folder (its results.json)
    python tools/ratio_movement.py --rounds RUN                   # every paired ratio of one run, round by round

For every load, scenario and variant it prints the median paired ratio to the baseline in each run,
and the movement: the largest median over the smallest, minus one. Reads results.json only.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reports import data, verdict  # noqa: E402
from serving.options import OneLineParser, fail  # noqa: E402


def findings(results: dict) -> list[verdict.Finding]:
    """Every load and scenario of one run that has a level the verdict can speak for."""
    runs = [run for run in results["runs"] if "layer" in run]
    found = [verdict.finding(runs, m, s) for m in verdict.MEASURES for s in data.scenarios(data.summary(results))]
    return [one for one in found if one and one.level]


def medians(results: dict) -> dict[tuple[str, str, str], float]:
    """(load, scenario, variant) -> the median of its paired ratios to the baseline, in one run."""
    return {(one.measure.load, one.scenario, name): verdict.Spread.of(one.ratios(name, one.baseline())).median
            for one in findings(results) for name in one.variants() if name != one.baseline()}


def per_round(results: dict) -> None:
    """Every paired ratio to the baseline, a column per round, then the verdict's median [min–max]."""
    for one in findings(results):
        base = one.baseline()
        print(f"{one.measure.title}, {one.scenario} at {one.level}, ÷ {base} ({one.measure.show(one.figure(base).median)}):")
        for name in (name for name in one.variants() if name != base):
            ratios = one.ratios(name, base)
            print(f"  {name:<28} {' '.join(f'{r:5.2f}' for r in ratios)}   {verdict.ratio_text(verdict.Spread.of(ratios))}")


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog="tools/ratio_movement.py", description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="run folders, each holding a results.json")
    p.add_argument("--rounds", action="store_true", help="each run's paired ratios round by round instead")
    args = p.parse_args(argv)
    try:
        runs = [data.load(folder) for folder in args.runs]  # every folder checked before anything is printed
    except data.ReportError as exc:
        fail(f"{p.prog}: {exc}")
    if args.rounds:
        for folder, results in zip(args.runs, runs):
            print(f"== {folder}")
            per_round(results)
        return 0
    movement_table(args.runs, [medians(results) for results in runs])
    return 0


def movement_table(folders: list[Path], columns: list[dict]) -> None:
    """A row per (load, scenario, variant): its median in each run, and how far it moved; then the largest move."""
    keys = sorted({key for column in columns for key in column})
    names = [folder.name or folder.parent.name for folder in folders]
    print(f"{'load':<7} {'scenario':<10} {'variant (÷ baseline)':<28} " + " ".join(f"{n[:16]:>16}" for n in names)
          + f" {'movement':>9}")
    worst = 0.0
    for key in keys:
        values = [column.get(key) for column in columns]
        present = [v for v in values if v is not None]
        movement = max(present) / min(present) - 1 if len(present) > 1 else 0.0
        worst = max(worst, movement)
        cells = " ".join(f"{v:>16.2f}" if v is not None else f"{'—':>16}" for v in values)
        print(f"{key[0]:<7} {key[1]:<10} {key[2]:<28} {cells} {movement:>8.0%}")
    print(f"largest movement: {worst:.0%}; verdict.THRESHOLD is {verdict.THRESHOLD:.0%}")


if __name__ == "__main__":
    sys.exit(main())
