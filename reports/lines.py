"""Lines that buy each behaviour: per layer, the code lines of its own package and of the shared code it uses;
per framework app (the tutorial's last rung, frameworks/), the same for the app it needs.

Counted from the source as it stands (a line that is not blank, not a comment, not a docstring line), the
shared part followed through the imports: a layer uses what its package imports from serving/, http11/
and webapp/, and what those import in turn. A framework's own code is the modules its server runs (the
ones bench.reference_servers.frameworks() names: the app, and for Flask gunicorn's config) plus the part of
frameworks/__init__.py they import (the statements binding the names they import, and what those refer to;
not the list of SPEC lines each framework misses, which is data for the tests). Its shared code is followed
through the imports the same way (webapp's page and store). Only serving/, http11/ and webapp/ are
followed, for layers and frameworks alike: adapters.make_app, which frameworks.open_store calls for the
store's folder, is harness code and not counted. Reads files; runs nothing.
"""

import ast
import io
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

from bench.catalog import MODELS
from bench.reference_servers import frameworks

ROOT = Path(__file__).resolve().parent.parent
SHARED = ("serving", "http11", "webapp")  # the packages every layer may use; a layer never imports another
FRAMEWORKS = "frameworks"  # the package of the framework apps; its __init__ holds what the apps share
RUN_MODULE = re.compile(rf"(?:python:)?({FRAMEWORKS}\.\w+)(?::\w+)?")  # `frameworks.flask_app:app`, `python:...`


def code_line_numbers(source: str) -> set[int]:
    """The numbers of the lines holding code: not blank, not only a comment, not part of a docstring."""
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
    return lines - docstrings


def code_lines(path: Path) -> int:
    """Lines holding code: not blank, not only a comment, not part of a docstring."""
    return len(code_line_numbers(path.read_text(encoding="utf-8")))


def module_file(name: str) -> Path | None:
    """The file of a module named `serving.session` or `http11` (its __init__), under ROOT."""
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_names(tree: ast.AST, package: str) -> set[str]:
    """Every dotted name `tree` imports, and each imported name under its module (relative ones resolved)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.update([base] + [f"{base}.{alias.name}" for alias in node.names])
    return found


def package_of(path: Path) -> str:
    return path.parent.relative_to(ROOT).as_posix().replace("/", ".")


def shared_imports(tree: ast.AST, package: str) -> set[str]:
    """The shared modules `tree` imports (absolute, or relative inside a shared package)."""
    return {name for name in imported_names(tree, package) if name.split(".")[0] in SHARED and module_file(name)}


def imported(path: Path) -> set[str]:
    """The shared modules a file imports (absolute, or relative inside a shared package)."""
    return shared_imports(ast.parse(path.read_text(encoding="utf-8")), package_of(path))


def reached(names: set[str]) -> set[Path]:
    """Every shared file reached from the modules `names` through imports (a package's __init__ included)."""
    seen: set[Path] = set()
    todo = [file for name in names if (file := module_file(name))]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo += [file for name in imported(path) if (file := module_file(name))]
    return seen


def shared_files(start: list[Path]) -> set[Path]:
    """Every shared file reached from `start` through imports (a package's __init__ included)."""
    return reached({name for path in start for name in imported(path)})


def by_package(files: set[Path]) -> dict[str, int]:
    """The code lines of `files`, per shared package (every package named, 0 where none is used)."""
    return {package: sum(code_lines(p) for p in files if p.relative_to(ROOT).parts[0] == package)
            for package in SHARED}


def rows() -> list[dict]:
    """Per layer: its own lines, the shared lines it uses, and those by shared package."""
    found = []
    for layer in MODELS:
        own = sorted((ROOT / layer).glob("*.py"))
        shared = by_package(shared_files(own))
        found.append({"layer": layer, "own": sum(code_lines(p) for p in own), "shared": sum(shared.values()),
                      **shared})
    return found


def bound_names(statement: ast.stmt) -> set[str]:
    """The module-level names a top-level statement binds."""
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {statement.name}
    if isinstance(statement, ast.Import):
        return {alias.asname or alias.name.split(".")[0] for alias in statement.names}
    if isinstance(statement, ast.ImportFrom):
        return {alias.asname or alias.name for alias in statement.names}
    if isinstance(statement, ast.Assign | ast.AnnAssign | ast.AugAssign):
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        return {node.id for target in targets for node in ast.walk(target) if isinstance(node, ast.Name)}
    return set()


def needed(tree: ast.Module, names: set[str]) -> list[ast.stmt]:
    """The top-level statements of `tree` that bind `names`, and those binding what they refer to, in turn."""
    binding: dict[str, list[ast.stmt]] = {}
    for statement in tree.body:
        for name in bound_names(statement):
            binding.setdefault(name, []).append(statement)
    chosen: list[ast.stmt] = []
    todo = sorted(names)
    while todo:
        for statement in binding.get(todo.pop(), []):
            if statement not in chosen:
                chosen.append(statement)
                todo += [node.id for node in ast.walk(statement) if isinstance(node, ast.Name)]
    return sorted(chosen, key=lambda statement: statement.lineno)


def statement_lines(statement: ast.stmt) -> range:
    """The lines of a top-level statement, its decorators included."""
    decorators = getattr(statement, "decorator_list", [])
    first = min([statement.lineno, *(decorator.lineno for decorator in decorators)])
    return range(first, (statement.end_lineno or statement.lineno) + 1)


@dataclass(frozen=True)
class FrameworkLines:
    """A framework app's code lines: the modules its server runs, the part of the package's __init__ they import,
    and the shared code (webapp's) reached from both."""

    name: str  # the reference target's: flask, fastapi
    modules: tuple[Path, ...]  # under frameworks/, the ones its server command names
    modules_lines: int
    init_part: int  # the code lines of frameworks/__init__.py the modules import (what they need of it)
    init_total: int  # all of frameworks/__init__.py's code lines
    shared_files: tuple[Path, ...]
    shared: dict[str, int]  # code lines per shared package (SHARED order)

    @property
    def own(self) -> int:
        return self.modules_lines + self.init_part


def run_modules(command: tuple[str, ...]) -> tuple[Path, ...]:
    """The files of the frameworks/ modules a server command names (the app, a config file), in its order."""
    found = [module_file(match[1]) for part in command if (match := RUN_MODULE.fullmatch(part))]
    return tuple(path for path in found if path)


def framework_lines(name: str, modules: tuple[Path, ...]) -> FrameworkLines:
    """What `modules` need: themselves, the statements of frameworks/__init__.py they import, the shared files."""
    init = ROOT / FRAMEWORKS / "__init__.py"
    source = init.read_text(encoding="utf-8")
    tree = ast.parse(source)
    wanted = {imported.removeprefix(f"{FRAMEWORKS}.") for path in modules
              for imported in imported_names(ast.parse(path.read_text(encoding="utf-8")), package_of(path))
              if imported.startswith(f"{FRAMEWORKS}.")}
    part = needed(tree, wanted)
    numbers = {line for statement in part for line in statement_lines(statement)}
    shared = reached({module for path in modules for module in imported(path)}
                     | {module for statement in part for module in shared_imports(statement, FRAMEWORKS)})
    return FrameworkLines(name, modules, sum(code_lines(p) for p in modules),
                          len(code_line_numbers(source) & numbers), len(code_line_numbers(source)),
                          tuple(sorted(shared)), by_package(shared))


def framework_rows() -> list[FrameworkLines]:
    """Per framework app of the last rung (bench.reference_servers.frameworks()): the code it needs."""
    return [framework_lines(target.name, run_modules(target.command)) for target in frameworks()]


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def framework_note(row: FrameworkLines) -> str:
    """Which files the framework row counts, said in the table."""
    modules = " + ".join(p.name for p in row.modules)
    return (f"{FRAMEWORKS}/: {modules} + {row.init_part} of __init__.py's {row.init_total} lines (what they import "
            f"of it); shared: {' + '.join(relative(p) for p in row.shared_files)}")


def table() -> tuple[list[str], list[list[str]]]:
    headers = ["layer or framework", "its own code", "shared code it uses", *(f"of which {p}/" for p in SHARED),
               "what is counted"]
    layers = [[f"{r['layer']}/", str(r["own"]), str(r["shared"]), *(str(r[p]) for p in SHARED),
               f"every file of {r['layer']}/; shared: the files its imports reach"] for r in rows()]
    apps = [[f.name, str(f.own), str(sum(f.shared.values())), *(str(f.shared[p]) for p in SHARED), framework_note(f)]
            for f in framework_rows()]
    return headers, layers + apps
