"""`server-layers probe`: the conformance matrix flags what differs, and only that.

A real layer (start_server) runs beside tests/data/obsfold_proxy.py, a proxy in
front of it that unfolds obs-fold instead of rejecting it: it answers exactly
like the layer except on obs-fold cases. The matrix must flag those cells of the
proxy (against the contract and against the layer) and nothing else. No layer is
named here: the variants come from helpers.py.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import LAYERS, ROOT

from bench.catalog import DEFAULT_MODEL
from bench.process import ServerProcess
from conformance.corpus import load_cases
from conformance.matrix import Cell, Row, read_matrix, write_matrix
from conformance.probe import ProbeError, every_layer, in_substance, mark_divergence, pick_cases, probe, totals

DATA = Path(__file__).resolve().parent / "data"
PROXY = DATA / "obsfold_proxy.py"
ALL_CASES = {case.id: case for case in load_cases()}
OBS_FOLD = [case for case in ALL_CASES.values() if case.title.startswith("obs-fold")]  # the proxy's divergence
AGREEING = [ALL_CASES[i] for i in ("plaintext", "echo-post", "chunked-basic", "request-line-http09", "host-empty",
                                   "client-closes-in-head", "expect-100-continue")]
THREADED = list(DEFAULT_MODEL.items())  # each layer's default model


@pytest.fixture(scope="module", params=THREADED, ids=[f"{layer}-{model}" for layer, model in THREADED])
def real(request, start_server):
    with start_server(request.param) as running:
        yield running


@pytest.fixture(scope="module")
def fake(real, tmp_path_factory):
    """The divergent proxy in front of the real server, started by the one launcher (bench.process)."""
    command = [sys.executable, str(PROXY), "--upstream", f"{real.host}:{real.port}"]
    proxy = ServerProcess(command, tmp_path_factory.mktemp("proxy") / "fake.stderr", name="fake").wait_ready()
    yield proxy
    proxy.stop()


def servers(real, fake) -> dict:
    return {f"{real.layer}/{real.model}": (real.host, real.port), "fake": (fake.host, fake.port)}


def test_the_corpus_has_obs_fold_cases():
    assert len(OBS_FOLD) >= 2


def test_matrix_flags_the_divergent_cells_and_only_those(real, fake):
    matrix = probe(servers(real, fake), OBS_FOLD + AGREEING, timeout=5)
    name = f"{real.layer}/{real.model}"
    cells = {row.id: row.cells for row in matrix.rows}
    for case in OBS_FOLD:
        assert cells[case.id]["fake"].problems and cells[case.id]["fake"].diverges
        assert cells[case.id]["fake"].differs_from == (name,)
        assert not cells[case.id][name].problems and not cells[case.id][name].diverges
    for case in AGREEING:
        for cell in cells[case.id].values():
            assert not cell.problems and not cell.diverges, (case.id, cell)
    assert matrix.totals.contract == matrix.totals.diverging == len(OBS_FOLD)


def test_cells_record_status_lines_state_and_echo(real, fake):
    chosen = [ALL_CASES["echo-post"], ALL_CASES["client-closes-in-head"], OBS_FOLD[0]]
    rows = {row.id: row for row in probe(servers(real, fake), chosen).rows}
    echo = rows["echo-post"].cells["fake"]
    assert echo.responses[0].startswith("200") and echo.then == "open"
    assert echo.echo[0].to_json() == ALL_CASES["echo-post"].expect[0]["echo"]
    assert rows["client-closes-in-head"].cells["fake"].outcome == "closed"
    assert rows[OBS_FOLD[0].id].expected == "400 · closed"


@pytest.mark.parametrize("groups,flagged", [
    ({"a": ("x", False), "b": ("x", False), "c": ("y", False)}, {"c"}),  # the majority is the reference
    ({"a": ("x", True), "b": ("y", False)}, {"a"}),  # a tie: the one that meets the contract is
    ({"a": ("x", False), "b": ("y", False)}, {"b"}),  # a tie, both fine: the first server is
    ({"a": ("x", True), "b": ("x", True)}, set()),  # alike, even if both wrong: no divergence
    ({"a": ("x", False)}, set()),  # a lone server never diverges
])
def test_divergence_reference(groups, flagged):
    cells = {name: Cell(outcome="?", fingerprint=fp, problems=("wrong",) if bad else ())
             for name, (fp, bad) in groups.items()}
    cells = mark_divergence(cells)
    assert {name for name, cell in cells.items() if cell.diverges} == flagged


@pytest.mark.parametrize("groups, references, flagged", [
    ({"a": ("x", False), "r": ("y", True), "s": ("y", True)}, {"r", "s"}, set()),  # references never outvote ours
    ({"a": ("x", False), "b": ("y", False), "r": ("y", True)}, {"r"}, {"b"}),  # nor break a tie of ours
    ({"r": ("x", True), "s": ("y", False)}, {"r", "s"}, set()),  # only references: judged by the contract alone
])
def test_reference_columns_neither_vote_nor_diverge(groups, references, flagged):
    cells = {name: Cell(outcome="?", fingerprint=fp, problems=("wrong",) if bad else ())
             for name, (fp, bad) in groups.items()}
    cells = mark_divergence(cells, frozenset(references))
    assert {name for name, cell in cells.items() if cell.diverges} == flagged


def test_totals_count_our_servers_and_each_reference_apart():
    row = Row(id="x", unsure=False, cells={
        "a": Cell(outcome="?", problems=(), substance=False, diverges=False),
        "r": Cell(outcome="?", problems=("response 1: body: x",), substance=False, diverges=False),
        "s": Cell(outcome="?", problems=("response 1: status 400 expected",), substance=True, diverges=False)})
    counted = totals([row, row], ["a"], frozenset({"r", "s"})).to_json()
    assert (counted["servers"], counted["cells"], counted["contract"], counted["cases_flagged"]) == (1, 2, 0, 0)
    assert counted["references"] == {"r": {"contract": 2, "substance": 0}, "s": {"contract": 2, "substance": 2}}


@pytest.mark.parametrize("path", [DATA / "conformance-reference.json", DATA / "report-run" / "conformance.json"])
def test_a_matrix_read_and_written_again_is_the_same_bytes(path, tmp_path):
    """conformance.matrix is the file's one schema: a probe's conformance.json (one from before substance and
    reference columns too) comes back byte for byte, and a cell's fields read as the file has them."""
    matrix = read_matrix(path)
    assert write_matrix(matrix, tmp_path / "conformance.json").read_bytes() == path.read_bytes()
    data = json.loads(path.read_text())
    assert [row.id for row in matrix.rows] == [row["id"] for row in data["cases"]]
    assert all(cell.to_json() == data["cases"][i]["cells"][name]
               for i, row in enumerate(matrix.rows) for name, cell in row.cells.items())


def test_divergence_marking_makes_new_cells():
    cells = {"a": Cell(outcome="?", fingerprint="x"), "b": Cell(outcome="?", fingerprint="x"),
             "c": Cell(outcome="?", fingerprint="y")}
    marked = mark_divergence(cells)
    assert not cells["c"].diverges and cells["c"].differs_from is None  # the cells given are left as they were
    assert marked["c"].diverges and marked["c"].differs_from == ("a", "b") and marked["a"].differs_from == ()


def test_only_an_error_answers_form_is_not_substance():
    case = next(c for c in ALL_CASES.values() if [e["status"] for e in c.expect][:1] == [400])
    fine = ALL_CASES["plaintext"]
    assert not in_substance(case, "response 1: body: expected '400 Bad Request\\n', got b'<html>'")
    assert not in_substance(case, "response 1: header content-type: expected 'text/plain', got 'text/html'")
    assert in_substance(fine, "response 1: body: expected 'Hello, World!', got b''")  # a success's body is the answer
    assert in_substance(case, "connection: expected closed, got open")
    assert in_substance(case, "expected 1 response(s), got 0")


# --- the command ------------------------------------------------------------------------


def probe_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server_layers", "probe", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def test_command_writes_json_markdown_and_page(real, fake, tmp_path):
    ids = ",".join(c.id for c in OBS_FOLD + AGREEING[:2])
    result = probe_cli("--server", f"real={real.host}:{real.port}", "--server", f"fake={fake.host}:{fake.port}",
                       "--cases", ids, "--out", str(tmp_path))
    assert result.returncode == 1, result.stderr  # 1: some cell is flagged
    matrix = read_matrix(tmp_path / "conformance.json")
    assert [row.id for row in matrix.rows] == ids.split(",") and list(matrix.servers) == ["real", "fake"]
    markdown = (tmp_path / "conformance.md").read_text()
    assert all(f"| {c.id} | 400 · closed | 400 · closed | ✗≠ 200 · open |" in markdown for c in OBS_FOLD)
    page = (tmp_path / "conformance.html").read_text()
    assert page.count('class="cell contract diverges"') == 2 * len(OBS_FOLD)  # flagged table and whole matrix
    assert not re.search(r"https?://", page)


@pytest.mark.parametrize("layer", list(LAYERS))
def test_command_starts_and_stops_the_layers(layer, tmp_path):
    ids = ",".join(c.id for c in OBS_FOLD + AGREEING)
    result = probe_cli("--layers", layer, "--models", DEFAULT_MODEL[layer], "--cases", ids, "--out", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    info = read_matrix(tmp_path / "conformance.json").servers[f"{layer}/{DEFAULT_MODEL[layer]}"]
    assert info.exit_status == 0 and info.tracebacks == 0 and f"-m {layer}" in info.command
    answers = len(ids.split(","))
    assert f"probe: {answers}/{answers} answers" in result.stderr  # progress, ending with the whole count


@pytest.mark.parametrize("args", [
    ["--layers", "no_such_layer"],
    ["--cases", "no-such-case"],
    ["--server", "missing-port"],
    ["--server", "x=127.0.0.1:notaport"],
    ["--launch", "=python"],
    ["--timeout", "0"],
])
def test_bad_input_is_one_line_and_exit_2(args, tmp_path):
    result = probe_cli(*args, "--out", str(tmp_path / "out"), timeout=60)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def test_existing_matrix_needs_force(tmp_path):
    (tmp_path / "conformance.json").write_text("{}")
    result = probe_cli("--out", str(tmp_path), timeout=60)
    assert result.returncode == 2 and "--force" in result.stderr


@pytest.mark.parametrize("call", [
    lambda tmp: every_layer(tmp, ["no_such_layer"]),
    lambda tmp: every_layer(tmp, [next(iter(LAYERS))], ["no_such_model"]),
    lambda tmp: pick_cases(["no-such-case"]),
])
def test_the_probes_library_raises_where_its_command_exits(call, tmp_path):
    """compare and explain call the same functions: a refusal is theirs to word, never a 'server-layers probe:' exit."""
    with pytest.raises(ProbeError):
        call(tmp_path)
