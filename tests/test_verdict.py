"""The verdict on synthetic paired data, and the order that interleaves the variants in rounds.

Socket-free: the runs are made up here, so each case knows the answer it should get.
Variant names are placeholders: the verdict knows no layer but its baseline.
"""

from dataclasses import replace
from pathlib import Path

import pytest

from bench.results import Results, Run
from bench.rounds import Profile
from bench.runner import Level, Plan
from reports import verdict as v

BASE, FAST, SLOW = v.BASELINE, "fast/loop", "slow/threaded"


def runs(figures: dict[str, list[float]], load: str = "locust", bound: str = "pacing", rate: int | None = 1000,
         scenario: str = "plaintext") -> list[Run]:
    """A completed run per variant and round; figures[name][i] is round i+1's figure."""
    key = "cpu_us_per_req" if load == "locust" else "req_per_cpu_s"
    made = []
    for name, values in figures.items():
        layer, model = name.split("/")
        for round_no, value in enumerate(values, 1):
            made.append(Run.from_json({"layer": layer, "model": model, "scenario": scenario, "load": load,
                                       "round": round_no, "repeat": round_no, "users": 20 if load == "locust" else 50,
                                       "rate": rate if load == "locust" else None, "status": "ok", "bound_by": bound,
                                       key: value}))
    return made


def results(made: list[Run]) -> Results:
    """A results.json of these runs alone."""
    return Results({}, None, None, tuple(made))


def found(figures: dict[str, list[float]], **kwargs) -> v.Finding:
    measure = v.MEASURES[0] if kwargs.get("load", "locust") == "locust" else v.MEASURES[1]
    return v.finding(runs(figures, **kwargs), measure, kwargs.get("scenario", "plaintext"))


def test_a_clear_winner_is_ranked_first_and_each_ratio_is_paired_within_its_round():
    result = found({BASE: [100, 120, 90], FAST: [50, 61, 44], SLOW: [300, 350, 280]})
    assert result.tiers() == [[FAST], [BASE], [SLOW]]
    assert result.ratios(FAST, BASE) == pytest.approx([0.5, 61 / 120, 44 / 90])  # round by round, not medians
    assert v.order_text(result) == f"from cheapest: {FAST}, then {BASE}, then {SLOW}"
    text = v.verdict(results(runs({BASE: [100, 120, 90], FAST: [50, 61, 44], SLOW: [300, 350, 280]})), ["plaintext"])
    assert f"raw_socket/threaded 100 µs of CPU; {FAST} 0.50× and {SLOW} 3.00×." in text  # in median order
    assert [v.word(result, n) for n in (BASE, FAST, SLOW)] == ["baseline", "cheaper", "costlier"]


def test_ratios_that_straddle_one_are_indistinguishable_not_ranked():
    # FAST's median is lower, but one round has it dearer than the baseline
    result = found({BASE: [100, 100, 100], FAST: [97, 101, 96]})
    assert not result.apart(FAST, BASE) and result.tiers() == [[FAST, BASE]] and result.steady()
    text = v.verdict(results(runs({BASE: [100, 100, 100], FAST: [97, 101, 96]})), ["plaintext"])
    assert f"{FAST} as much." in text and "0.97" not in text
    assert v.order_text(result) == "indistinguishable from one another" and v.word(result, FAST) == "indistinguishable"


@pytest.mark.parametrize("measure", v.MEASURES, ids=lambda m: m.load)
def test_a_difference_within_the_measures_own_movement_is_indistinguishable_even_on_one_side(measure):
    worse = (lambda x: x * 100) if measure.lower_is_better else (lambda x: 100 / x)
    small = 1 + measure.threshold() / 2
    result = found({BASE: [100, 100, 100], SLOW: [worse(small)] * 3}, load=measure.load)
    assert not result.apart(BASE, SLOW) and v.word(result, SLOW) == "indistinguishable"
    clear = found({BASE: [100, 100, 100], SLOW: [worse(1 + 2 * measure.threshold())] * 3}, load=measure.load)
    assert clear.apart(BASE, SLOW) and clear.tiers() == [[BASE], [SLOW]] and v.word(clear, SLOW) != "indistinguishable"


def test_each_measure_ranks_by_its_own_committed_movement():
    moved = v.movement()
    assert {m.load for m in v.MEASURES} <= set(moved) and all(0 < value < 0.5 for value in moved.values())
    assert {m.load: m.threshold() for m in v.MEASURES} == {m.load: moved[m.load] for m in v.MEASURES}


def test_ties_do_not_chain_into_one_tier():
    # each neighbour within the threshold of the next, the ends far apart: not "indistinguishable from one another"
    mid, step = "mid/threaded", 1 + 0.8 * v.MEASURES[0].threshold()
    result = found({BASE: [100, 100, 100], mid: [100 * step] * 3, SLOW: [100 * step * step] * 3})
    assert not result.apart(BASE, mid) and not result.apart(mid, SLOW) and result.apart(BASE, SLOW)
    assert result.tiers() == [[BASE, mid], [SLOW]]
    assert v.order_text(result) == (f"from cheapest: {mid} and {BASE} (indistinguishable), then {SLOW} "
                                     f"(not apart from {mid})")
    for tier in result.tiers():  # no two members of a tier told apart
        assert not any(result.apart(a, b) or result.apart(b, a) for a in tier for b in tier)


def test_one_noisy_round_keeps_a_pair_together_and_leaves_the_others_ranked():
    # round 2 ran slow for SLOW's neighbour only: the pair BASE/MID cannot be told apart, SLOW still can
    mid = "mid/threaded"
    result = found({BASE: [100, 140, 100], mid: [110, 112, 111], SLOW: [300, 310, 290]})
    assert result.tiers() == [[BASE, mid], [SLOW]]
    assert v.order_text(result) == f"from cheapest: {mid} and {BASE} (indistinguishable), then {SLOW}"
    # a tie reads the same whichever of its members happened to have the lower median
    flipped = found({BASE: [100, 140, 100], mid: [95, 150, 96], SLOW: [300, 310, 290]})
    assert flipped.variants()[0] == mid and v.order_text(flipped) == v.order_text(result)


def test_fewer_rounds_than_three_rank_nothing():
    result = found({BASE: [100, 100], SLOW: [300, 300]})
    assert result.rounds() == 2 and not result.apart(BASE, SLOW)
    assert v.order_text(result) == "2 rounds cannot rank them (it takes 3)"


def test_requests_per_second_rank_the_most_first():
    result = found({BASE: [10_000, 11_000, 9_000], FAST: [15_000, 16_000, 14_000]}, load="wrk")
    assert result.tiers() == [[FAST], [BASE]] and v.order_text(result).startswith(f"from most: {FAST}")
    assert v.word(result, FAST) == "serves more"


def test_runs_bound_by_the_load_generator_never_feed_the_verdict():
    clean = runs({BASE: [100, 100, 100], SLOW: [200, 200, 200]}, rate=500)
    tainted = runs({BASE: [100, 100, 100], SLOW: [50, 50, 50]}, rate=4000, bound="load-generator")
    result = v.finding(clean + tainted, v.MEASURES[0], "plaintext")
    assert result.level == "500 req/s" and result.tiers() == [[BASE], [SLOW]]  # the highest level Locust did not bind
    text = v.verdict(results(clean + tainted), ["plaintext"])
    assert "6 runs bound by the load generator are shown but never ranked" in text and "0.50×" not in text
    only_lg = v.finding(tainted, v.MEASURES[0], "plaintext")
    assert only_lg.level is None and "nothing to rank" in v.plain_sentence(only_lg)


def test_failed_runs_are_counted_and_left_out():
    made = runs({BASE: [100, 100, 100], SLOW: [300, 300, 300]})
    made[0] = replace(made[0], status="failed", cpu_us_per_req=1.0)
    result = v.finding(made, v.MEASURES[0], "plaintext")
    assert result.figure(BASE).median == 100 and result.rounds() == 3
    assert "1 run failed and is left out" in v.verdict(results(made), ["plaintext"])


# --- the order of the rounds ------------------------------------------------------------------


def test_the_offered_rate_is_halved_until_every_server_together_fits_under_the_ceiling():
    from bench.rounds import RATE_SHARE, settle_rate

    four = [("a", "threaded"), ("b", "threaded"), ("c", "selectors"), ("d", "threaded")]
    kept = Profile(variants=four, scenarios=["plaintext"], out=Path("unused"), rate=200)
    settle_rate(kept, 4 * 200 / RATE_SHARE)  # exactly fits
    assert kept.rate == 200 and not kept.notes
    halved = Profile(variants=four, scenarios=["plaintext"], out=Path("unused"), rate=200)
    settle_rate(halved, 4 * 200 / RATE_SHARE - 1)
    assert halved.rate == 100 and "halved from 200 to 100" in halved.notes[0]
    slow = Profile(variants=four, scenarios=["plaintext"], out=Path("unused"), rate=200)
    settle_rate(slow, 4 * 200 / RATE_SHARE / 3)  # a third of what it needs: two halvings
    assert slow.rate == 50


def test_bench_repeats_are_rounds_over_the_layers_too():
    plan = Plan(layers=["a", "b"], models=["threaded"], scenario="plaintext", levels=[Level(1), Level(8)], duration_s=1,
                repeat=2, out=Path("unused"), combos=[("a", "threaded"), ("b", "threaded")])
    assert [(r, layer, level.users) for layer, _, _, level, r in plan.runs()] == [
        (1, "a", 1), (1, "a", 8), (1, "b", 1), (1, "b", 8), (2, "b", 1), (2, "b", 8), (2, "a", 1), (2, "a", 8)]


def test_one_far_off_round_in_five_on_each_side_cannot_decide_alone():
    assert v.TRIM_FROM == 5
    one_off = found({BASE: [100] * 5, SLOW: [150, 150, 150, 150, 95]})  # one round on the wrong side
    assert one_off.apart(BASE, SLOW) and one_off.tiers() == [[BASE], [SLOW]]
    two_off = found({BASE: [100] * 5, SLOW: [150, 150, 150, 95, 98]})  # two: the pair straddles 1.0
    assert not two_off.apart(BASE, SLOW)
    three_rounds = found({BASE: [100] * 3, SLOW: [150, 150, 95]})  # below five rounds nothing is left out
    assert not three_rounds.apart(BASE, SLOW)
    ten = found({BASE: [100] * 10, SLOW: [150] * 8 + [95, 97]})  # one round in five at each end: two of ten
    assert ten.apart(BASE, SLOW)
    assert not found({BASE: [100] * 10, SLOW: [150] * 7 + [95, 97, 99]}).apart(BASE, SLOW)


def test_compare_measures_the_chosen_layers_and_models():
    from bench.catalog import MODELS
    from server_layers.compare import EVENT_LOOP_MODELS, variants

    default = variants()
    every_model = {m for ms in MODELS.values() for m in ms}
    assert {model for _, model in default} == {"threaded", *EVENT_LOOP_MODELS} & every_model
    assert all(model in MODELS[layer] for layer, model in default) and {layer for layer, _ in default} == set(MODELS)
    one = next(iter(MODELS))
    assert {layer for layer, _ in variants([one])} == {one}
    assert variants(None, ["forking"]) == [(layer, "forking") for layer, models in MODELS.items()
                                           if "forking" in models]


def test_rounds_that_scatter_widely_still_state_their_ratios_and_say_they_scattered():
    # SLOW is clearly dearer, but its rounds scatter: the ratio is stated all the same, with the scatter beside it
    wide = {BASE: [100] * 6, SLOW: [200, 300, 150, 260, 170, 320]}
    result = found(wide)
    assert result.scatter() > v.MAX_SCATTER and not result.steady()
    text = v.verdict(results(runs(wide)), ["plaintext"])
    assert f"{SLOW} 2.30×" in text and "the rounds scattered: a median's error up to" in text
    tight = found({BASE: [100] * 6, SLOW: [200, 204, 198, 201, 199, 203]})
    assert tight.steady() and tight.scatter() < 0.01
    # the scatter is of the paired ratios: a machine drift that moves both variants alike is no scatter
    drifting = found({BASE: [100, 150, 80, 120, 90, 140], SLOW: [200, 300, 160, 240, 180, 280]})
    assert drifting.scatter() == 0 and drifting.steady()


def test_the_verdict_table_gives_every_variant_its_ratio_range_and_word_per_measure():
    made = runs({BASE: [100, 120, 90], FAST: [50, 61, 44], SLOW: [101, 119, 92]})
    made += runs({BASE: [1000, 900, 1100], FAST: [2000, 1850, 2150], SLOW: [300, 280, 320]}, load="wrk")
    headers, rows = v.table(results(made), ["plaintext"])
    assert headers[:2] == ["scenario", "variant"] and len(headers) == 6
    assert headers[2].startswith("CPU per request") and headers[4].startswith("requests per server CPU-second")
    by_name = {row[1]: row[2:] for row in rows}
    assert [row[1] for row in rows] == [BASE, FAST, SLOW]  # the baseline, then the first measure's median order
    assert by_name[BASE] == ["100 µs [90.0–120]", "baseline", "1 000 req/CPU-s [900–1 100]", "baseline"]
    assert by_name[FAST] == ["0.50× [0.49–0.51]", "cheaper", "2.00× [1.95–2.06]", "serves more"]
    assert by_name[SLOW] == ["1.01× [0.99–1.02]", "indistinguishable", "0.30× [0.29–0.31]", "serves fewer"]


def test_the_one_line_answer_names_only_what_the_data_ranks():
    made = runs({BASE: [100, 120, 90], FAST: [50, 61, 44], SLOW: [300, 350, 280]})
    made += runs({BASE: [1000, 900, 1100], FAST: [2000, 1850, 2150], SLOW: [300, 280, 320]}, load="wrk")
    line = v.answer(results(made), ["plaintext"])
    assert line == (f"On plaintext, {FAST} serves the most requests per core (2.00× {BASE}) and {SLOW} the fewest "
                    f"(0.30×); {FAST} costs the least CPU per request at 1000 req/s (0.50× {BASE}) and {SLOW} the most "
                    f"(3.00×).")
    tied = runs({BASE: [100, 100, 100], FAST: [99, 101, 100]})
    assert v.answer(results(tied), ["plaintext"]) == (f"On plaintext, no variant costs less CPU per request than "
                                                        f"{BASE} at 1000 req/s.")


def test_the_thresholds_are_the_movement_between_the_committed_evidence_runs(capsys):
    """reports/movement.json is what tools/ratio_movement.py --write computes from the runs it names."""
    import importlib.util
    import json

    from reports import data

    root = Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("ratio_movement", root / "tools" / "ratio_movement.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    committed = json.loads(v.MOVEMENT_FILE.read_text())
    folders = [root / name for name in committed["evidence"]]
    assert len(folders) >= 2 and all((folder / "results.json").is_file() for folder in folders)
    worst = tool.movement_table(folders, [tool.medians(data.load(folder)) for folder in folders])
    assert tool.evidence(folders, worst)["movement"] == committed["movement"] == v.movement()
    assert "largest movement" in capsys.readouterr().out


def test_the_order_among_all_variants_is_said_per_measure_and_scenario():
    made = runs({BASE: [100, 120, 90], FAST: [50, 61, 44], SLOW: [300, 350, 280]})
    assert v.orders(results(made), ["plaintext"]) == [f"CPU per request, plaintext: from cheapest: {FAST}, then "
                                                        f"{BASE}, then {SLOW}."]
