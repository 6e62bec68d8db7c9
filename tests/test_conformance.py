"""SPEC §5-6: every case of the raw-request corpus, on every layer and model, answered alike.

Each group below runs one model on the three layers side by side (raw_socket's
selectors model stands beside the others' threaded): every case must meet its
expectation on each server, and the normalised answers must be identical.
"""

import pytest

from conformance.corpus import check, load_cases, normalise, run_case

CASES = load_cases()
GROUPS = {
    "iterative": [("raw_socket", "iterative"), ("socketserver_impl", "iterative"), ("http_server_impl", "iterative")],
    "threaded": [("raw_socket", "threaded"), ("socketserver_impl", "threaded"), ("http_server_impl", "threaded")],
    "forking": [("raw_socket", "forking"), ("socketserver_impl", "forking"), ("http_server_impl", "forking")],
    "selectors": [("raw_socket", "selectors"), ("socketserver_impl", "threaded"), ("http_server_impl", "threaded")],
}


@pytest.fixture(scope="module", params=list(GROUPS))
def group(request, start_server):
    """The three servers of one group, running side by side."""
    with start_server(GROUPS[request.param][0]) as a, start_server(GROUPS[request.param][1]) as b:
        with start_server(GROUPS[request.param][2]) as c:
            yield [a, b, c]


def test_corpus_is_large_enough():
    assert len(CASES) >= 60


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_case_is_answered_as_the_contract_says_and_alike_everywhere(group, case):
    observations = {f"{s.layer}/{s.model}": run_case(s.host, s.port, case) for s in group}
    problems = {name: check(case, obs) for name, obs in observations.items()}
    assert problems == {name: [] for name in observations}
    normalised = {name: normalise(obs) for name, obs in observations.items()}
    first = next(iter(normalised.values()))
    assert normalised == {name: first for name in normalised}
    for server in group:
        assert "Traceback" not in server.stderr()
