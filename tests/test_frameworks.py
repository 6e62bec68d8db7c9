"""The frameworks' rung (frameworks/): what the route tests of test_live_routes.py cannot say themselves.

The route tests run on the Flask and FastAPI apps through the same fixtures as on the layers; a test that
shows a SPEC line a framework lists (frameworks.EXCEPTIONS) is a strict expected failure there. Here: the
list names real route tests, each line has its reason, the apps take their features from their framework
(not from webapp's router or static module), the project's environment never loads a framework, the
framework servers run as the reference rows do, and what an expected failure hides (HEAD) still holds.
"""

import ast
import subprocess
import sys

import pytest
from helpers import FRAMEWORK_IDS, ROOT

import frameworks
from bench.reference_servers import GUNICORN_THREADS, PACKAGES, REQUIREMENTS, production
from bench.reference_servers import frameworks as framework_targets

APPS = {"flask": ROOT / "frameworks" / "flask_app.py", "fastapi": ROOT / "frameworks" / "fastapi_app.py"}
FRAMEWORK_MODULES = ("flask", "werkzeug", "fastapi", "starlette", "pydantic", "uvicorn", "gunicorn", "multipart",
                     "python_multipart", "locust")


def route_test_ids() -> list[str]:
    """The ids of test_live_routes.py's tests, as pytest collects them (without running a server)."""
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-o", "addopts=",
                          "-p", "no:cacheprovider", "tests/test_live_routes.py"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [line.partition("::")[2] for line in out.splitlines() if line.startswith("tests/test_live_routes.py::")]


def test_exceptions_name_real_route_tests_with_reasons():
    assert set(frameworks.EXCEPTIONS) == set(FRAMEWORK_IDS) == set(APPS)
    collected = route_test_ids()
    for name, lines in frameworks.EXCEPTIONS.items():
        mine = {test.replace(f"[{name}-", "[").replace(f"[{name}]", "") for test in collected
                if f"[{name}-" in test or f"[{name}]" in test}
        assert mine, f"no route test runs on {name}"
        for line, entry in lines.items():
            assert line.startswith(("§2 ", "§3 ")) and len(entry["reason"]) > 40, line
            assert set(entry["tests"]) <= mine, (name, line, set(entry["tests"]) - mine)
        assert set(frameworks.expected_failures(name)) < mine  # some tests pass: never a blanket mark


def imported_modules(path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    return found | {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}


@pytest.mark.parametrize("name", sorted(APPS))
def test_apps_take_routing_parsing_and_files_from_their_framework(name):
    """webapp gives content and storage only (the page's HTML, the store): never its router, its static module
    or its app; the framework gives the rest."""
    modules = imported_modules(APPS[name])
    assert {m for m in modules if m.startswith("webapp")} == {"webapp.page", "webapp.store"}
    assert name in {m.partition(".")[0] for m in modules}
    assert {m for m in imported_modules(ROOT / "frameworks" / "__init__.py") if m.startswith("webapp")} <= {
        "webapp.page", "webapp.store"}


def test_the_package_loads_no_framework_in_the_projects_environment():
    code = ("import sys, frameworks, bench.reference_servers as r; r.frameworks();"
            f"print([m for m in {FRAMEWORK_MODULES!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def program(command: str) -> str:
    return command.rpartition("/")[2]


def test_the_framework_servers_run_as_the_reference_rows():
    """Flask on gunicorn with the gunicorn row's options (one gthread worker, its threads), FastAPI on uvicorn
    with the uvicorn row's; the reference environment installs both frameworks and reports their versions."""
    rows = {program(t.command[0]): t.command[2:] for t in production()}
    for target in framework_targets():
        server = program(target.command[0])
        assert target.production and not target.prints_line
        assert target.command[2:len(rows[server]) + 2] == rows[server]
    flask, fastapi = framework_targets()
    assert flask.command[1] == "frameworks.flask_app:app" and fastapi.command[1] == "frameworks.fastapi_app:app"
    assert ("--threads", str(GUNICORN_THREADS)) in zip(flask.command, flask.command[1:], strict=False)
    assert {"flask", "fastapi", "python-multipart"} <= set(REQUIREMENTS) and {"flask", "fastapi"} <= set(PACKAGES)

