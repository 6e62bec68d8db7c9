"""The conformance matrix (case x server) from conformance.json, as HTML and as Markdown.

A cell is flagged ✗ when it differs from the contract (the case's expectation,
corpus.check) and ≠ when it differs from the other servers (after
corpus.normalise); both flags are also colours, and words in the legend. It
reads the matrix only: it never sends a request. Every string is escaped.
"""

import json

from .html import document, esc, key_values
from .tables import md_cell

CONTRACT, DIVERGES = "✗", "≠"
LEGEND = (f"{CONTRACT} (red): differs from the contract, the answer the case expects from SPEC.md or the RFC. "
          f"{DIVERGES} (amber): differs from the other servers, after masking what SPEC §6 lets differ "
          "(Date, the layer word of Server, header order and case). Each cell: status code(s) · then the "
          "connection (open, closed, timed out).")


def marks(cell: dict) -> str:
    return (CONTRACT if cell.get("problems") else "") + (DIVERGES if cell.get("diverges") else "")


def flagged(case: dict) -> bool:
    return any(marks(cell) for cell in case["cells"].values())


def servers(matrix: dict) -> list[str]:
    return list(matrix.get("servers") or {})


def totals_text(matrix: dict) -> str:
    t = matrix.get("totals") or {}
    return (f"{t.get('cases', 0)} cases × {t.get('servers', 0)} servers: {t.get('contract', 0)} cells differ from "
            f"the contract, {t.get('diverging', 0)} from the other servers; {t.get('cases_flagged', 0)} cases "
            f"flagged; {t.get('unsure', 0)} cases read an unclear rule (unsure). Probed {matrix.get('started', '?')}.")


# --- HTML --------------------------------------------------------------------------------


def header_row(names: list[str]) -> str:
    heads = "".join(f'<th scope="col">{"<br>".join(esc(part) for part in name.split("/"))}</th>' for name in names)
    return f'<tr><th scope="col">case</th><th scope="col">expected</th>{heads}</tr>'


def case_head(case: dict) -> str:
    unsure = " <em>(unsure)</em>" if case.get("unsure") else ""
    return (f'<th scope="row" class="case" title="{esc(case.get("request", ""))}"><code>{esc(case["id"])}</code>'
            f'{unsure}<br><span class="note">{esc(case.get("title", ""))}</span></th>')


def cell_html(cell: dict) -> str:
    classes = " ".join(["cell"] + (["contract"] if cell.get("problems") else []) + (["diverges"] if cell.get("diverges") else []))
    title = "; ".join(cell.get("problems") or []) or "meets the contract"
    mark = f'<span class="mark">{esc(marks(cell))}</span> ' if marks(cell) else ""
    return f'<td class="{classes}" title="{esc(title)}">{mark}{esc(cell.get("outcome", "?"))}</td>'


def differences(case: dict) -> list[str]:
    """What the flagged cells of a case got wrong, one line per group of servers that erred alike."""
    groups: dict[tuple, list[str]] = {}
    for name, cell in case["cells"].items():
        if marks(cell):
            echo = next((view for view in cell.get("echo") or [] if view), None)
            key = (tuple(cell.get("problems") or []), tuple(cell.get("differs_from") or []), json_text(echo))
            groups.setdefault(key, []).append(name)
    lines = []
    for (problems, differs, echo), names in groups.items():
        parts = list(problems) + ([f"differs from {compact(list(differs))}"] if differs else [])
        parts += [f"/echo saw {echo}"] if echo else []
        lines.append(f"{compact(names)}: " + "; ".join(parts))
    return lines


def compact(names: list[str]) -> str:
    """"a/x, a/y, b/x" as "a (x, y), b (x)": server names are LAYER/MODEL."""
    by_layer: dict[str, list[str]] = {}
    for name in names:
        layer, _, model = name.partition("/")
        by_layer.setdefault(layer, []).append(model)
    return ", ".join(f"{layer} ({', '.join(models)})" if all(models) else layer for layer, models in by_layer.items())


def json_text(value) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False)


def rows_html(matrix: dict, cases: list[dict], detailed: bool) -> str:
    names = servers(matrix)
    rows = []
    for case in cases:
        cells = "".join(cell_html(case["cells"].get(name, {})) for name in names)
        rows.append(f"<tr>{case_head(case)}<td class=\"cell\">{esc(case.get('expected', ''))}</td>{cells}</tr>")
        if detailed:
            items = "".join(f"<li>{esc(line)}</li>" for line in differences(case))
            rows.append(f'<tr class="why"><td colspan="{len(names) + 2}"><div class="why"><ul class="problems">{items}'
                        "</ul></div></td></tr>")
    return (f'<div class="scroll"><table class="matrix">\n<thead>{header_row(names)}</thead>\n<tbody>\n'
            + "\n".join(rows) + "\n</tbody></table></div>")


def servers_html(matrix: dict) -> str:
    """Which servers were probed: how each was started, its exit status, tracebacks in its stderr."""
    pairs = []
    for name, info in (matrix.get("servers") or {}).items():
        started = info.get("command") or f"already running at {info.get('address')}"
        extra = "" if "tracebacks" not in info else (f"; exit status {info.get('exit_status')}, "
                                                     f"{info['tracebacks']} traceback(s) on stderr")
        pairs.append((name, f"{started}{extra}"))
    return f"<details><summary>The servers ({len(pairs)})</summary>{key_values(pairs)}</details>"


def matrix_html(matrix: dict | None) -> str:
    """The section body for report.html: totals, flagged cases in full, then the whole matrix folded."""
    if matrix is None:
        return ('<p class="note">No conformance.json in this folder, so no matrix: run '
                "<code>server-layers probe --out THIS_FOLDER</code> (or <code>server-layers compare</code>, "
                "which does both) to include it.</p>")
    cases = matrix.get("cases") or []
    bad = [case for case in cases if flagged(case)]
    flagged_part = (rows_html(matrix, bad, detailed=True) if bad else
                    '<p class="note">No flagged cell: every server meets every case, and all answer alike.</p>')
    return "\n".join([
        f"<p>{esc(totals_text(matrix))}</p>", f'<p class="note">{esc(LEGEND)}</p>', servers_html(matrix),
        f"<h3>Flagged cases ({len(bad)})</h3>", flagged_part,
        f"<details><summary>The whole matrix: {len(cases)} cases</summary>",
        rows_html(matrix, cases, detailed=False), "</details>",
    ])


def matrix_page(matrix: dict) -> str:
    """conformance.html: the matrix alone, as a self-contained page."""
    return document("server-layers conformance matrix",
                    "<h1>server-layers: conformance matrix</h1>\n" + matrix_html(matrix))


# --- Markdown ----------------------------------------------------------------------------


def markdown_matrix(matrix: dict) -> str:
    """conformance.md: the totals, the legend, the flagged cases' problems, then every case x server."""
    names = servers(matrix)
    lines = ["# Conformance matrix", "", totals_text(matrix), "", LEGEND, ""]
    header = ["case", "expected", *names]
    lines += ["| " + " | ".join(md_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    for case in matrix.get("cases") or []:
        cells = [md_cell((marks(c) + " " if marks(c) else "") + c.get("outcome", "?"))
                 for c in (case["cells"].get(name, {}) for name in names)]
        lines.append("| " + " | ".join([md_cell(case["id"]), md_cell(case.get("expected", "")), *cells]) + " |")
    problems = [f"- {md_cell(case['id'])} on {md_cell(name)}: {md_cell('; '.join(cell.get('problems') or ['differs from ' + ', '.join(cell.get('differs_from') or [])]))}"
                for case in matrix.get("cases") or [] for name, cell in case["cells"].items() if marks(cell)]
    if problems:
        lines += ["", "## Flagged cells", "", *problems]
    return "\n".join(lines) + "\n"
