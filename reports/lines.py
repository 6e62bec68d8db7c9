"""Lines that buy each behaviour: per layer, the code lines of its own package and of the shared code it uses.

Counted from the source as it stands (a line that is not blank, not a comment, not a docstring line), the
shared part followed through the imports: a layer uses what its package imports from serving/, http11/
and webapp/, and what those import in turn. Reads files; runs nothing.
"""

import ast
import io
import tokenize
from pathlib import Path

from bench.catalog import MODELS

ROOT = Path(__file__).resolve().parent.parent
SHARED = ("serving", "http11", "webapp")  # the packages every layer may use; a layer never imports another


def code_lines(path: Path) -> int:
    """Lines holding code: not blank, not only a comment, not part of a docstring."""
    source = path.read_text(encoding="utf-8")
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            docstrings.update(range(body[0].lineno, (body[0].end_lineno or body[0].lineno) + 1))
    lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                              tokenize.ENDMARKER):
            lines.update(range(token.start[0], token.end[0] + 1))
    return len(lines - docstrings)


def module_file(name: str) -> Path | None:
    """The file of a module named `serving.session` or `http11` (its __init__), under ROOT."""
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported(path: Path) -> set[str]:
    """The shared modules a file imports (absolute, or relative inside a shared package)."""
    package = path.parent.relative_to(ROOT).as_posix().replace("/", ".")
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        found.update(name for name in names if name.split(".")[0] in SHARED and module_file(name))
    return found


def shared_files(start: list[Path]) -> set[Path]:
    """Every shared file reached from `start` through imports (a package's __init__ included)."""
    seen: set[Path] = set()
    todo = [file for path in start for name in imported(path) if (file := module_file(name))]  # imported(): all
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo += [file for name in imported(path) if (file := module_file(name))]
    return seen


def rows() -> list[dict]:
    """Per layer: its own lines, the shared lines it uses, and those by shared package."""
    found = []
    for layer in MODELS:
        own = sorted((ROOT / layer).glob("*.py"))
        shared = shared_files(own)
        by_package = {package: sum(code_lines(p) for p in shared if p.relative_to(ROOT).parts[0] == package)
                      for package in SHARED}
        found.append({"layer": layer, "own": sum(code_lines(p) for p in own), "shared": sum(by_package.values()),
                      **by_package})
    return found


def table() -> tuple[list[str], list[list[str]]]:
    headers = ["layer", "its own package", "shared code it uses", *(f"of which {p}/" for p in SHARED)]
    return headers, [[f"{r['layer']}/", str(r["own"]), str(r["shared"]), *(str(r[p]) for p in SHARED)] for r in rows()]
