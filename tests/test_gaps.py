"""The stock gaps http_server_impl closes (reports/gaps.py) and the reference columns of the matrix.

The gaps come from `# gap:` comments in the code; each must name corpus cases that exist (or say where
else it shows). The measured columns come from a real `server-layers probe --reference` run on a few
cases (tests/data/conformance-reference.json): the stock column's failures are read from it, never typed.
"""

import dataclasses
import json
import shutil
from fnmatch import fnmatchcase
from pathlib import Path

from helpers import ROOT

from bench.reference_servers import frameworks, production
from conformance.corpus import load_cases
from conformance.matrix import Cell, Matrix, Row, Server, read_matrix, write_compact
from reports import cli, gaps, readme
from reports.matrix import reference_rows, references

DATA = Path(__file__).resolve().parent / "data"
MATRIX = read_matrix(DATA / "conformance-reference.json")
CASE_IDS = [case.id for case in load_cases()]


def test_every_gap_comment_names_cases_that_exist_or_says_where_it_shows():
    found = gaps.gaps()
    assert len(found) >= 10
    for gap in found:
        path, line = gap["where"].rsplit(":", 1)
        assert "# gap:" in (ROOT / path).read_text().splitlines()[int(line) - 1]
        assert gap["elsewhere"] or gap["patterns"]
        for pattern in gap["patterns"]:
            assert any(fnmatchcase(case_id, pattern) for case_id in CASE_IDS), pattern


def test_a_gap_comment_is_read_with_its_cases(tmp_path):
    (tmp_path / "server.py").write_text("x = 1\n# gap: no framing [cases: chunked-*, te-gzip]\n"
                                        "y = 2  # gap: a stall [cases: none: the knob matrix]\n# gap without tag\n")
    found = gaps.gaps(tmp_path)
    assert [(g["what"], g["patterns"], g["elsewhere"]) for g in found] == [
        ("no framing", ["chunked-*", "te-gzip"], ""), ("a stall", [], "the knob matrix")]
    assert found[1]["where"].endswith("server.py:3")


def synthetic(stock_cells: dict[str, Cell], ours: str = f"{gaps.LAYER}/threaded") -> Matrix:
    """A matrix of a few cases: ours meets each, the stock column as given."""
    return Matrix(started="?", finished="?", servers={ours: Server(), gaps.STOCK: Server(reference=True)},
                  rows=tuple(Row(id=case_id, cells={ours: Cell(outcome="?", problems=()), gaps.STOCK: cell})
                             for case_id, cell in stock_cells.items()))


def test_stock_failures_are_split_into_substance_and_form():
    matrix = synthetic({"chunked-basic": Cell(outcome="?", problems=("echo body",), substance=True),
                        "chunked-empty": Cell(outcome="?", problems=()),
                        "target-space": Cell(outcome="?", problems=("response 1: body: expected",), substance=False)})
    framing = {"what": "framing", "where": "x:1", "patterns": ["chunked-*"], "elsewhere": ""}
    pages = {"what": "pages", "where": "x:2", "patterns": ["target-space", "target-tab"], "elsewhere": ""}
    assert gaps.measured(framing, matrix) == {"cases": ["chunked-basic", "chunked-empty"],
                                              "stock_fails": ["chunked-basic"], "stock_form": [], "ours_fail": []}
    assert gaps.measured(pages, matrix) == {"cases": ["target-space"], "stock_fails": [],
                                            "stock_form": ["target-space"], "ours_fail": []}
    without_ours = dataclasses.replace(matrix, servers={gaps.STOCK: Server(reference=True)})
    assert gaps.measured(framing, without_ours)["ours_fail"] is None  # not probed, never "0"


def test_a_gap_whose_cases_were_not_probed_says_so():
    matrix = synthetic({"plaintext": Cell(outcome="?", problems=())})
    headers, rows = gaps.table(matrix)
    assert headers[-2:] == ["stock fails (in substance)", f"{gaps.LAYER} fails"]
    for row, gap in zip(rows, gaps.gaps(), strict=True):
        assert row[3:] == ["—", "—"]  # no case of any gap in this matrix: nothing measured, nothing claimed
        assert row[2] == (gap["elsewhere"] or f"not probed: {', '.join(gap['patterns'])}")


def test_the_fixture_has_cases_stock_fails():
    failing = {c for gap in gaps.gaps() for c in gaps.measured(gap, MATRIX)["stock_fails"]}
    assert failing  # a real probe: the table shows them


def test_reference_columns_never_count_and_show_by_topic():
    skip = references(MATRIX)
    assert skip == {"stock http.server", "uvicorn", "gunicorn"}
    ours = [name for name in MATRIX.servers if name not in skip]
    assert MATRIX.totals.servers == len(ours)
    assert MATRIX.totals.contract == sum(bool(r.cells[n].problems) for r in MATRIX.rows for n in ours)
    headers, rows = reference_rows(MATRIX)
    total = rows[-1]
    assert total[0] == "all" and int(total[1]) == len(MATRIX.rows)
    for index, name in enumerate(headers[3:], 3):
        assert int(total[index]) == MATRIX.totals.references[name].substance


def test_the_report_shows_reference_columns_and_the_measured_gaps(tmp_path):
    shutil.copytree(DATA / "report-run", tmp_path / "run")
    shutil.copy(DATA / "conformance-reference.json", tmp_path / "run" / "conformance.json")
    page = cli.build(tmp_path / "run").read_text()
    assert page.count('<th scope="col" class="reference">') == 3 * 2  # the flagged table is empty: the whole matrix
    assert "The reference columns: stock http.server, uvicorn, gunicorn" in page  # and the by-topic section's table
    layers = page[page.index('<section id="layers">'):page.index("</section>", page.index('<section id="layers">'))]
    assert f"The stock gaps {gaps.LAYER} closes" in layers and "stock fails" in layers
    summary = (tmp_path / "run" / "summary.md").read_text()
    assert "Reference columns, not counted" in summary and "| stock http.server's gap |" in summary


def test_the_readme_conformance_block_is_what_the_committed_probe_renders():
    matrix = readme.load_conformance()
    assert references(matrix) == {"stock http.server", *(t.name for t in [*production(), *frameworks()])}
    text = readme.README.read_text(encoding="utf-8")
    assert readme.block(text, readme.CONF_BEGIN, readme.CONF_END) == readme.render_conformance(matrix)
    assert matrix.compact() == matrix  # committed compacted: compacting again changes nothing


def dict_compact(matrix: dict) -> dict:
    """The compacted copy as reports.readme wrote it from conformance.json's dict before conformance.matrix did:
    the bytes write_compact must keep."""
    cell_keys = ("outcome", "problems", "substance", "diverges")
    cases = [{"id": case["id"], "expected": case["expected"],
              "cells": {name: {key: cell[key] for key in cell_keys if key in cell}
                        for name, cell in case["cells"].items()}}
             for case in matrix["cases"]]
    servers = {name: {key: info[key] for key in ("reference", "command") if key in info}
               for name, info in matrix["servers"].items()}
    return {**{key: matrix[key] for key in ("schema", "kind", "started", "finished", "totals")},
            "servers": servers, "cases": cases}


def test_the_compacted_copy_is_written_by_the_matrix_module_alike(tmp_path):
    """conformance.matrix.write_compact writes the README's committed copy as readme's dict compaction did, and
    readme.take() commits a probe's matrix through it."""
    committed = readme.CONFORMANCE_DIR / "conformance.json"
    assert write_compact(read_matrix(committed), tmp_path / "a.json").read_bytes() == committed.read_bytes()
    source = DATA / "conformance-reference.json"
    written = write_compact(MATRIX, tmp_path / "b.json").read_text(encoding="utf-8")
    assert written == json.dumps(dict_compact(json.loads(source.read_text())), indent=0) + "\n"
    readme.take(source, tmp_path / "c.json", readme.commit_compact)
    assert (tmp_path / "c.json").read_text(encoding="utf-8") == written
