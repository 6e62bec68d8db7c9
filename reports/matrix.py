"""The conformance matrix (case x server) from conformance.json, as HTML and as Markdown.

A cell is flagged ✗ when it differs from the contract (the case's expectation,
corpus.check) and ≠ when it differs from the other servers (after
corpus.normalise); both flags are also colours, and words in the legend. It
reads the matrix only, as records (conformance.matrix, the one module of
conformance it imports): it never sends a request. Every string is escaped.
"""

import json
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path

from conformance.matrix import MISSING, Cell, Echo, Matrix, Row, Totals

from .html import document, esc, key_values
from .html import table as table_html
from .tables import markdown_table, md_cell

CONTRACT, DIVERGES = "✗", "≠"
LEGEND = (f"{CONTRACT} (red): differs from the contract, the answer the case expects from SPEC.md or the RFC. "
          f"{DIVERGES} (amber): differs from the other servers, after masking what SPEC §6 lets differ "
          "(Date, the layer word of Server, header order and case). Each cell: status code(s) · then the "
          "connection (open, closed, timed out). Reference columns (dashed, at the right, when probed): the same "
          "app on stock http.server, uvicorn and gunicorn; judged by the contract only (✗, lilac), never counted "
          "in the totals or the flagged cases.")


def marks(cell: Cell) -> str:
    return (CONTRACT if cell.problems else "") + (DIVERGES if cell.diverges else "")


def references(matrix: Matrix) -> set[str]:
    """The reference columns: probed beside the project's servers, never counted as theirs."""
    return matrix.references


def flagged(case: Row, skip: AbstractSet[str] = frozenset()) -> bool:
    return any(marks(cell) for name, cell in case.cells.items() if name not in skip)


def servers(matrix: Matrix) -> list[str]:
    return list(matrix.servers)


def totals_text(matrix: Matrix) -> str:
    t = matrix.totals
    return (f"{t.cases} cases × {t.servers} servers: {t.contract} cells differ from "
            f"the contract, {t.diverging} from the other servers; {t.cases_flagged} cases "
            f"flagged; {t.unsure} cases read an unclear rule (unsure). Probed {matrix.started}."
            + reference_text(t))


def reference_text(t: Totals) -> str:
    """The reference columns' own counts, or ''."""
    found = t.references or {}
    if not found:
        return ""
    parts = [f"{name} {r.contract} ({r.substance} in substance: status, answers, connection or what /echo saw)"
             for name, r in found.items()]
    return (f" Reference columns, not counted: of {t.cases} cases, these differ from the contract: "
            + "; ".join(parts) + ". The rest differ only in the form SPEC fixes (an error body's text, a header).")


# --- HTML --------------------------------------------------------------------------------


def header_row(names: list[str], skip: AbstractSet[str] = frozenset()) -> str:
    heads = "".join(f'<th scope="col"{head_class(name in skip)}>{"<br>".join(esc(part) for part in name.split("/"))}'
                    f'{"<br><em>reference</em>" if name in skip else ""}</th>' for name in names)
    return f'<tr><th scope="col">case</th><th scope="col">expected</th>{heads}</tr>'


def case_head(case: Row) -> str:
    unsure = " <em>(unsure)</em>" if case.unsure else ""
    return (f'<th scope="row" class="case" title="{esc(case.request or "")}"><code>{esc(case.id)}</code>'
            f'{unsure}<br><span class="note">{esc(case.title or "")}</span></th>')


def head_class(reference: bool) -> str:
    return ' class="reference"' if reference else ""


def cell_html(cell: Cell, reference: bool = False) -> str:
    classes = " ".join(["cell"] + (["contract"] if cell.problems else []) + (["diverges"] if cell.diverges else [])
                       + (["reference"] if reference else []))
    title = "; ".join(cell.problems) or "meets the contract"
    mark = f'<span class="mark">{esc(marks(cell))}</span> ' if marks(cell) else ""
    return f'<td class="{classes}" title="{esc(title)}">{mark}{esc(cell.outcome)}</td>'


def differences(case: Row, skip: AbstractSet[str] = frozenset()) -> list[str]:
    """What the flagged cells of a case got wrong, one line per group of servers that erred alike."""
    groups: dict[tuple[tuple[str, ...], tuple[str, ...], str], list[str]] = {}
    for name, cell in case.cells.items():
        if marks(cell) and name not in skip:
            echo = next((view for view in cell.echo or () if view), None)
            key = (cell.problems, cell.differs_from or (), json_text(echo))
            groups.setdefault(key, []).append(name)
    lines = []
    for (problems, differs, seen), names in groups.items():
        parts = list(problems) + ([f"differs from {compact(list(differs))}"] if differs else [])
        parts += [f"/echo saw {seen}"] if seen else []
        lines.append(f"{compact(names)}: " + "; ".join(parts))
    return lines


def compact(names: list[str]) -> str:
    """"a/x, a/y, b/x" as "a (x, y), b (x)": server names are LAYER/MODEL."""
    by_layer: dict[str, list[str]] = {}
    for name in names:
        layer, _, model = name.partition("/")
        by_layer.setdefault(layer, []).append(model)
    return ", ".join(f"{layer} ({', '.join(models)})" if all(models) else layer for layer, models in by_layer.items())


def json_text(view: Echo | None) -> str:
    return "" if view is None else json.dumps(view.to_json(), ensure_ascii=False)


def rows_html(matrix: Matrix, cases: Sequence[Row], detailed: bool) -> str:
    names, skip = servers(matrix), matrix.references
    rows = []
    for case in cases:
        cells = "".join(cell_html(case.cells.get(name, MISSING), name in skip) for name in names)
        rows.append(f"<tr>{case_head(case)}<td class=\"cell\">{esc(case.expected)}</td>{cells}</tr>")
        if detailed:
            items = "".join(f"<li>{esc(line)}</li>" for line in differences(case, skip))
            rows.append(f'<tr class="why"><td colspan="{len(names) + 2}"><div class="why"><ul class="problems">{items}'
                        "</ul></div></td></tr>")
    return (f'<div class="scroll"><table class="matrix">\n<thead>{header_row(names, skip)}</thead>\n<tbody>\n'
            + "\n".join(rows) + "\n</tbody></table></div>")


def servers_html(matrix: Matrix) -> str:
    """Which servers were probed: how each was started, its exit status, tracebacks in its stderr."""
    pairs: list[tuple[str, object]] = []
    for name, info in matrix.servers.items():
        started = info.command or f"already running at {info.address}"
        extra = "" if info.tracebacks is None else (f"; exit status {info.exit_status}, "
                                                    f"{info.tracebacks} traceback(s) on stderr")
        pairs.append((name, f"{started}{extra}"))
    return f"<details><summary>The servers ({len(pairs)})</summary>{key_values(pairs)}</details>"


def topic(case_id: str) -> str:
    """A case's topic: the first word of its id (chunked-ext-nul: chunked)."""
    return case_id.split("-")[0]


def substance(cell: Cell) -> bool:
    """The cell differs from the contract in what was answered, not only in an error body's text or a header
    (conformance.probe.in_substance, recorded in the cell)."""
    return bool(cell.substance)


def reference_rows(matrix: Matrix) -> tuple[list[str], list[list[str]]]:
    """Per topic: how many cases each reference column answers differently in substance, beside how many our
    servers do (any of them), of the cases of that topic."""
    skip = matrix.references
    ours = [n for n in servers(matrix) if n not in skip]
    by_topic: dict[str, list[Row]] = {}
    for case in matrix.rows:
        by_topic.setdefault(topic(case.id), []).append(case)
    names = [n for n in servers(matrix) if n in skip]
    rows = []
    for name, cases in sorted(by_topic.items(), key=lambda kv: -len(kv[1])):
        counts = [sum(substance(c.cells[n]) for c in cases) for n in names]
        mine = sum(any(substance(c.cells[n]) for n in ours) for c in cases)
        rows.append([name, str(len(cases)), str(mine), *map(str, counts)])
    total = [sum(int(row[i]) for row in rows) for i in range(1, 3 + len(names))]
    shown = [row for row in rows if any(int(n) for n in row[2:])]  # a topic no server differs on says nothing
    others = [row for row in rows if row not in shown]
    rest = [[f"{len(others)} other topics", str(sum(int(row[1]) for row in others)), *["0"] * (1 + len(names))]]
    return (["topic (case id's first word)", "cases", "our servers", *names],
            shown + (rest if others else []) + [["all", *map(str, total)]])


def reference_html(matrix: Matrix) -> str:
    """Where the reference servers differ from the contract, by topic, and those cases in full (folded)."""
    skip = matrix.references
    if not skip:
        return ""
    headers, rows = reference_rows(matrix)
    cases = [case for case in matrix.rows if any(substance(case.cells[n]) for n in skip)]
    return "\n".join([
        f"<h3>The reference columns: {esc(', '.join(n for n in servers(matrix) if n in skip))}</h3>",
        '<p class="note">Cases each answers differently from the contract in substance (status, number of '
        "answers, the connection afterwards, what /echo saw), by topic; \"our servers\": cases where any of the "
        "project's servers does. Reference columns are never counted as the project's failures.</p>",
        table_html(headers, rows, numeric_from=1),
        f"<details><summary>Those cases ({len(cases)}), every column</summary>", rows_html(matrix, cases, False),
        "</details>"])


def matrix_html(matrix: Matrix | None) -> str:
    """The section body for report.html: totals, flagged cases in full, then the whole matrix folded."""
    if matrix is None:
        return ('<p class="note">No conformance.json in this folder, so no matrix: run '
                "<code>server-layers probe --out THIS_FOLDER</code> (or <code>server-layers compare</code>, "
                "which does both) to include it.</p>")
    cases = matrix.rows
    bad = [case for case in cases if flagged(case, matrix.references)]
    flagged_part = (rows_html(matrix, bad, detailed=True) if bad else
                    '<p class="note">No flagged cell: every server meets every case, and all answer alike.</p>')
    return "\n".join([
        f"<p>{esc(totals_text(matrix))}</p>", f'<p class="note">{esc(LEGEND)}</p>', servers_html(matrix),
        f"<h3>Flagged cases ({len(bad)})</h3>", flagged_part, reference_html(matrix),
        f"<details><summary>The whole matrix: {len(cases)} cases</summary>",
        rows_html(matrix, cases, detailed=False), "</details>",
    ])


def matrix_page(matrix: Matrix) -> str:
    """conformance.html: the matrix alone, as a self-contained page."""
    return document("server-layers conformance matrix",
                    "<h1>server-layers: conformance matrix</h1>\n" + matrix_html(matrix))


# --- Markdown ----------------------------------------------------------------------------


def markdown_matrix(matrix: Matrix) -> str:
    """conformance.md: the totals, the legend, the flagged cases' problems, then every case x server."""
    names = servers(matrix)
    lines = ["# Conformance matrix", "", totals_text(matrix), "", LEGEND, ""]
    header = ["case", "expected", *names]
    lines += ["| " + " | ".join(md_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    for case in matrix.rows:
        cells = [md_cell((marks(c) + " " if marks(c) else "") + c.outcome)
                 for c in (case.cells.get(name, MISSING) for name in names)]
        lines.append("| " + " | ".join([md_cell(case.id), md_cell(case.expected), *cells]) + " |")
    skip = matrix.references
    problems = [f"- {md_cell(case.id)} on {md_cell(name)}: {md_cell(flag_text(cell))}"
                for case in matrix.rows for name, cell in case.cells.items() if marks(cell) and name not in skip]
    if problems:
        lines += ["", "## Flagged cells", "", *problems]
    if skip:
        lines += ["", "## The reference columns", "", "Cases answered differently from the contract in substance, "
                  "by topic (reference columns are never counted as the project's failures):", "",
                  markdown_table(*reference_rows(matrix))]
    return "\n".join(lines) + "\n"


def flag_text(cell: Cell) -> str:
    """A flagged cell's problems, or (when it meets the contract) whom it differs from."""
    return "; ".join(cell.problems or ["differs from " + ", ".join(cell.differs_from or ())])


def write_pages(matrix: Matrix, out: Path) -> list[Path]:
    """conformance.md and conformance.html beside the probe's conformance.json."""
    pages = [out / "conformance.md", out / "conformance.html"]
    pages[0].write_text(markdown_matrix(matrix), encoding="utf-8")
    pages[1].write_text(matrix_page(matrix), encoding="utf-8")
    return pages
