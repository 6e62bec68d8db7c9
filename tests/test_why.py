"""The "why" paragraph per layer (reports/why.py): filled from the data, so the data moves it.

The inputs are the committed fixtures: a real strace count (tests/data/syscalls.json), the cpu profile
fixture (tests/data/cpu/cpu.json) and a real probe with reference columns. No layer is named here.
"""

import copy
import json
from pathlib import Path

from bench import cpu_profile
from bench.catalog import MODELS
from bench.reference_servers import frameworks
from conformance.matrix import read_matrix
from reports import lines, why

DATA = Path(__file__).resolve().parent / "data"
CPU = json.loads((DATA / "cpu" / "cpu.json").read_text())["rows"]
SYSCALLS = json.loads((DATA / "syscalls.json").read_text())["rows"]
MATRIX = read_matrix(DATA / "conformance-reference.json")
COMMITTED_PROBE = DATA.parent.parent / "docs" / "results" / "conformance" / "conformance.json"


def text_of(layer: str, cpu=CPU, syscalls=SYSCALLS, matrix=MATRIX) -> str:
    return dict(why.paragraphs(cpu, syscalls, matrix))[layer]


def test_every_layer_gets_a_paragraph_with_its_line_counts():
    found = dict(why.paragraphs(CPU, SYSCALLS, MATRIX))
    assert list(found) == [*MODELS, *(target.name for target in frameworks())]
    for row in lines.rows():
        assert f"Its own package is {row['own']} code lines, beside {row['shared']} lines" in found[row["layer"]]


def test_every_cpu_profile_group_has_a_readers_label():
    assert set(why.GROUPS) == set(cpu_profile.GROUPS)  # a sentence never names a group by its key


def test_the_figures_are_the_datas():
    for row in CPU:
        layer = row["variant"].split("/")[0]
        spent = sum(row["groups"].values())
        assert f"{row['variant']} spends {spent:.1f} µs of CPU per GET {row['path']}" in text_of(layer)
    for row in SYSCALLS:
        assert f"{row['variant']} makes {row['total_per_request']:.2f} system calls per request" in \
            text_of(row["variant"].split("/")[0])


def test_a_changed_figure_changes_the_paragraph():
    row = CPU[-1]
    layer = row["variant"].split("/")[0]
    changed = copy.deepcopy(CPU)
    changed[-1]["groups"]["kernel"] += 7.0
    assert text_of(layer, cpu=changed) != text_of(layer)
    assert f"{sum(changed[-1]['groups'].values()):.1f} µs" in text_of(layer, cpu=changed)


def test_the_difference_beside_the_least_on_the_same_path():
    checked = 0
    for row in CPU:
        same_path = [r for r in CPU if r["path"] == row["path"]]
        cheapest = min(same_path, key=lambda r: sum(r["groups"].values()))
        text = text_of(row["variant"].split("/")[0])
        if row is cheapest:
            continue
        more = sum(row["groups"].values()) - sum(cheapest["groups"].values())
        assert f"Beside {cheapest['variant']}, the least in this profile on {row['path']}" in text
        assert f"medians of {row['rounds']} rounds each" in text and f"that is {more:.1f} µs more" in text
        checked += 1
    assert checked  # the fixture has a path with two variants


def test_without_measurements_only_the_code_speaks():
    for _, text in why.paragraphs(None, None, None):
        assert "µs" not in text and "system calls" not in text and "code lines" in text


def test_each_framework_app_tells_the_rung_from_the_data():
    """What its framework gives, its app code as reports.lines counts it, and its corpus cases beside its server's
    (the committed probe's: the fixture probe predates the framework columns)."""
    matrix = read_matrix(COMMITTED_PROBE)
    found = dict(why.paragraphs(CPU, SYSCALLS, matrix))
    counts = matrix.totals.references or {}
    for target in frameworks():
        code = next(row for row in lines.framework_rows() if row.name == target.name)
        text = found[target.name]
        assert target.gives in text and f"Its app is {code.own} code lines of frameworks/" in text
        mine, theirs = counts.get(target.name), counts.get(target.beside)
        if mine and theirs:
            assert f"it answers {mine.contract} cases off the contract, {mine.substance} in substance" in text
            assert f"where {target.beside} carrying the project's app answers {theirs.contract}" in text
    assert all(counts.get(target.name) for target in frameworks())  # the committed probe has every framework column
