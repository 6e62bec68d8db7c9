"""Why each layer costs what it costs: a short paragraph per layer, every figure in it computed from the data.

From what the run folder holds: cpu.json (bench.cpu_profile: CPU per request split by who spends it),
syscalls.json (bench.syscalls: system calls per request), the code's line counts (reports.lines) and,
for http_server_impl, its stock gaps measured in the conformance matrix (reports.gaps). Each
variant is set beside the cheapest one on the same path, and the groups and calls that make up most
of the difference are named. The sentences are templates; no number in them is typed. Reads data only.
"""

from bench.catalog import MODELS
from bench.reference_servers import Target, frameworks
from conformance.matrix import Matrix

from . import gaps as stock_gaps
from . import lines as code_lines

GROUPS = {  # what each group of bench.cpu_profile stands for, in a reader's words
    "kernel": "the kernel (system time)",
    "http11": "the sans-IO parser and serializer (http11)",
    "webapp": "the app (webapp)",
    "framework": "the framework and its libraries (Flask, FastAPI, Starlette, ...)",
    "serving": "the shared serving code (serving)",
    "layer": "the layer's own module",
    "stdlib layer": "the standard library layer it builds on",
    "other stdlib": "other standard library modules",
    "other": "frames in no group",
}
SHOWN = 2  # the largest groups or calls named in a sentence


def us(value: float) -> str:
    return f"{value:.1f} µs"


def largest(values: dict[str, float], count: int = SHOWN) -> list[tuple[str, float]]:
    return sorted(((k, v) for k, v in values.items() if v > 0), key=lambda kv: -kv[1])[:count]


def cpu_sentences(layer: str, rows: list[dict], labels: dict[str, str] = GROUPS) -> list[str]:
    """Per variant of `layer` and path: its CPU per request, its largest groups (named by `labels`), and what it
    spends beyond the cheapest variant on that path."""
    said: list[str] = []
    for row in (r for r in rows if r["variant"].split("/")[0] == layer):
        total = sum(row["groups"].values())
        parts = ", ".join(f"{labels.get(g, g)} {us(v)} ({v / total:.0%})" for g, v in largest(row["groups"])) \
            if total > 0 else ""
        said.append(f"{row['variant']} spends {us(total)} of CPU per GET {row['path']}"
                    + (f"; its largest shares: {parts}" if parts else "") + ".")
        same_path = [r for r in rows if r["path"] == row["path"]]
        cheapest = min(same_path, key=lambda r: sum(r["groups"].values()))
        if cheapest is not row:
            extra = {g: v - cheapest["groups"].get(g, 0.0) for g, v in row["groups"].items()}
            more = total - sum(cheapest["groups"].values())
            named = ", ".join(f"{labels.get(g, g)} +{us(v)}" for g, v in largest(extra))
            said.append(f"Beside {cheapest['variant']}, the least in this profile on {row['path']} ({basis(row)}: "
                        f"a difference, not a ranking), that is {us(more)} more" + (f": {named}." if named else "."))
    return said


def basis(row: dict) -> str:
    """What a row's figures are: medians of its rounds, or one window."""
    rounds = row.get("rounds", 1)
    return f"medians of {rounds} rounds each" if rounds > 1 else "one window each"


def syscall_sentences(layer: str, rows: list[dict]) -> list[str]:
    """Per variant of `layer`: its system calls per request, and those it makes beyond the fewest."""
    said: list[str] = []
    if not rows:
        return said
    fewest = min(rows, key=lambda r: r["total_per_request"])
    for row in (r for r in rows if r["variant"].split("/")[0] == layer):
        calls = ", ".join(f"{name} {count:.2f}" for name, count in largest(row["per_request"], 3))
        text = f"{row['variant']} makes {row['total_per_request']:.2f} system calls per request ({calls})"
        extra = {n: c - fewest["per_request"].get(n, 0.0) for n, c in row["per_request"].items()}
        named = ", ".join(f"{name} +{count:.2f}" for name, count in largest(extra) if count >= 0.05)
        said.append(text + (f"; beyond {fewest['variant']}'s {fewest['total_per_request']:.2f}: {named}." if
                            named and row is not fewest else "."))
    return said


def line_sentence(layer: str) -> str:
    row = next((r for r in code_lines.rows() if r["layer"] == layer), None)
    if row is None:
        return ""
    return f"Its own package is {row['own']} code lines, beside {row['shared']} lines of shared code it imports."


def gap_sentence(layer: str, conformance: Matrix | None) -> str:
    """For the layer built on stock http.server: the gaps it closes and what the stock column fails of them."""
    if layer != stock_gaps.LAYER:
        return ""
    found = stock_gaps.gaps()
    text = f"It closes {len(found)} gaps of stock http.server, each a `# gap:` comment in its code"
    if conformance is None or not stock_gaps.has_stock(conformance):
        return text + "."
    measured = [stock_gaps.measured(gap, conformance) for gap in found]
    failed = {c for m in measured for c in m["stock_fails"]}
    form = {c for m in measured for c in m["stock_form"]} - failed
    ours = {c for m in measured for c in (m["ours_fail"] or [])}
    probed = any(m["ours_fail"] is not None for m in measured)
    return text + (f"; of the corpus cases they name, stock fails {len(failed)} in substance and {len(form)} more "
                   f"in form only" + (f", {layer} {len(ours)}." if probed else "."))


def rung_sentence(target: Target, conformance: Matrix | None) -> str:
    """A framework app of the last rung: what its framework gives, the code it needs, and how many corpus cases it
    answers off the contract beside the same server carrying the project's app through an adapter."""
    code = next(row for row in code_lines.framework_rows() if row.name == target.name)
    text = (f"It is the last rung: {target.built_on}. The framework gives {target.gives}. Its app is {code.own} code "
            f"lines of frameworks/, beside {sum(code.shared.values())} lines of shared code (the page and the store)")
    counts = (conformance.totals.references or {}) if conformance else {}
    mine, theirs = counts.get(target.name), counts.get(target.beside)
    if not (mine and theirs):
        return text + "."
    return text + (f"; of the probe's corpus it answers {mine.contract} cases off the contract, {mine.substance} in "
                   f"substance, where {target.beside} carrying the project's app answers {theirs.contract} "
                   f"({theirs.substance}).")


def heading(name: str) -> str:
    """A paragraph's heading: a layer's package (`raw_socket/`), or a framework app by its name."""
    return f"{name}/" if name in MODELS else name


def paragraphs(cpu: list[dict] | None, syscalls: list[dict] | None,
               conformance: Matrix | None) -> list[tuple[str, str]]:
    """(name, paragraph) for every layer, then every framework app of the last rung, from whatever of the data is
    there."""
    found = []
    for layer in MODELS:
        sentences = [*cpu_sentences(layer, cpu or []), *syscall_sentences(layer, syscalls or []), line_sentence(layer),
                     gap_sentence(layer, conformance)]
        found.append((layer, " ".join(s for s in sentences if s)))
    for target in frameworks():
        labels = {**GROUPS, "layer": f"its server ({target.beside}, with its C parts)"}  # a framework row's layer
        sentences = [*cpu_sentences(target.name, cpu or [], labels), rung_sentence(target, conformance)]
        found.append((target.name, " ".join(s for s in sentences if s)))
    return found
