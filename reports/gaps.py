"""The stock gaps http_server_impl closes, from its own comments, each beside the corpus cases it explains.

Every `# gap: WHAT [cases: PATTERN, ...]` comment in http_server_impl/ names one way stock http.server
falls short of the contract and the corpus cases (ids or globs) that show it; `cases: none: WHY` says
where else it shows. With a conformance matrix that has the stock column (`server-layers probe
--reference`), each gap gets what was measured: which of its cases stock fails, and whether every
http_server_impl model meets them. Reads source and the matrix (conformance.matrix's records); runs nothing.
"""

import fnmatch
import io
import re
import tokenize
from pathlib import Path

from bench.catalog import LAYERS
from bench.reference_servers import stock
from conformance.matrix import MISSING, Cell, Matrix

ROOT = Path(__file__).resolve().parent.parent
LAYER = next(layer for layer, entry in LAYERS.items() if entry.built_on == "http.server")  # the layer built on
# the stock server, whose comments name the gaps (the catalog's entry says which)
TAG = re.compile(r"#\s*gap:\s*(?P<what>.+?)\s*\[cases:\s*(?P<cases>[^\]]*)\]")
STOCK = stock().name  # the reference column of the matrix


def gaps(folder: Path = ROOT / LAYER) -> list[dict]:
    """Each gap comment: what stock does, where the fix is (file:line), the case patterns or why there are none."""
    found = []
    for path in sorted(folder.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            match = TAG.search(token.string) if token.type == tokenize.COMMENT else None
            if match:
                cases = match["cases"].strip()
                none = cases.startswith("none")
                found.append({"what": match["what"], "where": f"{LAYER}/{path.name}:{token.start[0]}",
                              "patterns": [] if none else [p.strip() for p in cases.split(",") if p.strip()],
                              "elsewhere": cases.partition(":")[2].strip() if none else ""})
    return found


def matched(patterns: list[str], ids: list[str]) -> list[str]:
    return [case_id for case_id in ids if any(fnmatch.fnmatchcase(case_id, p) for p in patterns)]


def measured(gap: dict, matrix: Matrix) -> dict:
    """The gap's cases in `matrix`: those the stock column fails (in substance, and in the form SPEC fixes only),
    and those any http_server_impl model fails (None when no such model was probed)."""
    rows = {row.id: row.cells for row in matrix.rows}
    ours = [name for name in matrix.servers if name.split("/")[0] == LAYER]
    cases = matched(gap["patterns"], list(rows))
    stock: dict[str, Cell] = {c: rows[c].get(STOCK, MISSING) for c in cases}
    return {"cases": cases,
            "stock_fails": [c for c in cases if stock[c].substance],
            "stock_form": [c for c in cases if stock[c].problems and not stock[c].substance],
            "ours_fail": [c for c in cases if any(rows[c].get(name, MISSING).problems for name in ours)]
            if ours else None}


def has_stock(matrix: Matrix | None) -> bool:
    return matrix is not None and STOCK in matrix.servers


def table(matrix: Matrix | None) -> tuple[list[str], list[list[str]]]:
    """One row a gap; with a stock column in `matrix`, the measured cases beside it."""
    headers = ["stock http.server's gap", "closed at", "corpus cases"]
    if matrix is None or not has_stock(matrix):
        return headers, [[g["what"], g["where"], ", ".join(g["patterns"]) or g["elsewhere"]] for g in gaps()]
    headers += ["stock fails (in substance)", f"{LAYER} fails"]
    rows = []
    for gap in gaps():
        found = measured(gap, matrix)
        if not gap["patterns"] or not found["cases"]:  # shown elsewhere, or none of its cases in this matrix
            rows.append([gap["what"], gap["where"], gap["elsewhere"] or f"not probed: {', '.join(gap['patterns'])}",
                         "—", "—"])
            continue
        form = f"; {len(found['stock_form'])} more in form only" if found["stock_form"] else ""
        rows.append([gap["what"], gap["where"], f"{len(found['cases'])}: {', '.join(gap['patterns'])}",
                     listing(found["stock_fails"]) + form,
                     "—" if found["ours_fail"] is None else listing(found["ours_fail"])])
    return headers, rows


def listing(ids: list[str], shown: int = 6) -> str:
    """"3: a, b, c" (the first `shown` ids, then how many more)."""
    more = f" … and {len(ids) - shown} more" if len(ids) > shown else ""
    return f"{len(ids)}" + (f": {', '.join(ids[:shown])}{more}" if ids else "")
