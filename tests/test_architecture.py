"""docs/ARCHITECTURE.md's arrow list is the code's: every package's run-time imports of the others, both ways.

An import under `if TYPE_CHECKING:` is the type checker's alone and no arrow. The floors follow from the
arrows: a list with a loop in it fails too.
"""

import ast
import re

from helpers import ROOT

ARROWS = re.compile(r"```arrows\n(.*?)```", re.S)
PACKAGES = [*sorted(p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()), "tools"]


def documented() -> dict[str, set[str]]:
    block = ARROWS.search((ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8"))
    assert block, "docs/ARCHITECTURE.md has no ```arrows block"
    arrows = {}
    for line in block[1].strip().splitlines():
        source, _, targets = line.partition("->")
        arrows[source.strip()] = {name.strip() for name in targets.split(",") if name.strip()}
    return arrows


def type_checking_nodes(tree: ast.AST) -> set[int]:
    """The nodes under `if TYPE_CHECKING:` (a bare name or typing.TYPE_CHECKING)."""
    inside = set()
    for node in ast.walk(tree):
        test = node.test if isinstance(node, ast.If) else None
        if test is not None and getattr(test, "id", getattr(test, "attr", None)) == "TYPE_CHECKING":
            inside |= {id(child) for child in ast.walk(node)}
    return inside


def imported(package: str) -> set[str]:
    """The other project packages that `package`'s modules import when they run."""
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = type_checking_nodes(tree)
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            found |= {name.split(".")[0] for name in names} & set(PACKAGES)
    return found - {package}


def test_the_arrow_list_is_the_imports_as_they_stand():
    arrows = documented()
    assert sorted(arrows) == sorted(PACKAGES), "a package missing from the list, or a list entry with no package"
    assert {package: imported(package) for package in PACKAGES} == {p: arrows[p] for p in PACKAGES}


def test_the_arrows_have_no_loop():
    arrows, placed = documented(), []
    while len(placed) < len(arrows):  # take a package whose arrows all lead to packages already placed
        ready = [p for p, targets in arrows.items() if p not in placed and targets <= set(placed)]
        assert ready, f"a loop among {sorted(set(arrows) - set(placed))}"
        placed += ready


def test_bench_and_conformance_import_nothing_from_webapp():
    assert "webapp" not in imported("bench") | imported("conformance")
