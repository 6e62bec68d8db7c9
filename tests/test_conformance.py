"""SPEC §5-6: every case of the raw-request corpus, on every layer and model, answered alike.

Each group below runs one model on every layer side by side (a layer without
that model stands in with its default one, e.g. raw_socket's selectors beside the
others' threaded), and a group per other event loop (--loop uvloop) runs the
models that have it: every case must meet its expectation on each server, and the
normalised answers must be identical.
"""

from contextlib import ExitStack

import pytest
from helpers import LAYERS

from bench.catalog import DEFAULT_MODEL, LOOPS, stand_in
from conformance.corpus import check, load_cases, normalise, run_case
from serving.options import LOOP_MODULES as MODULE_OF_LOOP

CASES = load_cases()
GROUPS = {model: [((layer, stand_in(layer, model)), []) for layer in LAYERS]
          for model in dict.fromkeys(model for models in LAYERS.values() for model in models)}
BESIDE = next(iter(DEFAULT_MODEL.items()))  # the first layer's default model
OTHER_LOOPS = {f"loop-{loop}": loop for loops in LOOPS.values() for loop in loops[1:]}  # --loop uvloop
GROUPS |= {name: [*(((layer, model), ["--loop", loop]) for layer in LOOPS for model in LAYERS[layer]), (BESIDE, [])]
           for name, loop in OTHER_LOOPS.items()}  # every model of the layers with that loop, beside BESIDE


@pytest.fixture(scope="module", params=list(GROUPS))
def group(request, start_server):
    """The servers of one group, one per layer (or per model on another loop), running side by side."""
    if request.param in OTHER_LOOPS:  # an optional extra (the bench extra has it)
        pytest.importorskip(MODULE_OF_LOOP[OTHER_LOOPS[request.param]])
    with ExitStack() as stack:
        yield [stack.enter_context(start_server(variant, *extra)) for variant, extra in GROUPS[request.param]]


def test_corpus_is_large_enough():
    assert len(CASES) >= 60


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_case_is_answered_as_the_contract_says_and_alike_everywhere(group, case):
    observations = {f"{s.layer}/{s.model}": run_case(s.host, s.port, case) for s in group}
    problems = {name: check(case, obs) for name, obs in observations.items()}
    assert problems == {name: [] for name in observations}
    normalised = {name: normalise(obs) for name, obs in observations.items()}
    first = next(iter(normalised.values()))
    assert normalised == dict.fromkeys(normalised, first)
    for server in group:
        assert "Traceback" not in server.stderr()
