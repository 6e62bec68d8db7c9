"""Adding a layer is its package plus one entry in bench/catalog.py (CONTRIBUTING.md, "Add a layer or a model").

The test takes those steps in a copy of the checkout (its tracked files, as they stand): it copies the first
catalog layer's package under a new name, the name replaced in its text, and adds one entry to the catalog's
`LAYERS`, nothing else. Then the new layer must show up wherever the catalog's layers do: in every test
parametrised over all the layers, as often as the layer it copies; among the CLI's choices; with a colour and a
line style of its own, never the stock grey; among the reference rows; in the Makefile's list; and in the wheel,
which builds without a warning and ships the data files. No layer is named here: the copied one is the catalog's
first. Slow (a collection of the whole suite and a wheel build), so it runs once, on one worker.
"""

import json
import re
import shutil
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from bench.catalog import LAYERS, SERVER_MODULES

ROOT = Path(__file__).resolve().parent.parent
NEW = "throwaway"  # the new layer's package
SOURCE = next(iter(LAYERS))  # the layer it is a copy of
ENTRY = f'    "{NEW}": Layer("socket", "a copy of another layer", "nothing: it proves the steps"),\n'
pytestmark = pytest.mark.xdist_group("add-a-layer")


def copy_checkout(into: Path) -> None:
    """The tracked files of the checkout, as they stand in the working tree, and the venv beside them."""
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True)
    for name in filter(None, tracked.stdout.split("\0")):
        if (ROOT / name).is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, into / name)
    (into / ".venv").symlink_to(ROOT / ".venv")  # the Makefile's $(BIN)


def add_layer(checkout: Path) -> None:
    """CONTRIBUTING's steps: the package (here a copy, renamed in its text), then one entry in the catalog."""
    for source in sorted((checkout / SOURCE).glob("*.py")):
        target = checkout / NEW / source.name
        target.parent.mkdir(exist_ok=True)
        target.write_text(source.read_text(encoding="utf-8").replace(SOURCE, NEW), encoding="utf-8")
    catalog = checkout / "bench" / "catalog.py"
    text = catalog.read_text(encoding="utf-8")
    end = re.compile(r"^}\n", re.M).search(text, text.index("\nLAYERS = {")).start()
    catalog.write_text(text[:end] + ENTRY + text[end:], encoding="utf-8")


def run(checkout: Path, *command: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(checkout), "PYTHONDONTWRITEBYTECODE": "1", "HOME": str(checkout)}
    return subprocess.run(command, cwd=checkout, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("checkout")
    copy_checkout(folder)
    add_layer(folder)
    return folder


def python(checkout: Path, code: str):
    result = run(checkout, sys.executable, "-c", code)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_catalog_reads_the_new_layers_models_from_its_package(checkout):
    models = python(checkout, "import json; from bench.catalog import MODELS; print(json.dumps(MODELS))")
    assert list(models) == [*LAYERS, NEW] and models[NEW] == models[SOURCE]


@pytest.mark.timeout(600)
def test_every_suite_parametrised_over_the_layers_has_the_new_one(checkout):
    """A test whose parameters name every catalog layer names the new one too, as often as the one it copies."""
    result = run(checkout, sys.executable, "-m", "pytest", "--collect-only", "-p", "no:cacheprovider", "tests",
                 timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    ids = [line.strip() for line in result.stdout.splitlines() if "::" in line and "[" in line]
    named = {layer: Counter(i.split("[")[0] for i in ids if layer in i.split("[", 1)[1]) for layer in [*LAYERS, NEW]}
    over_all = [test for test in named[SOURCE] if all(named[layer][test] for layer in LAYERS)]
    assert len(over_all) > 10  # the live suites, the corpus, the CLI, ...
    assert {test: named[NEW][test] for test in over_all} == {test: named[SOURCE][test] for test in over_all}


def test_the_new_layer_has_a_look_of_its_own(checkout):
    looks = python(checkout, "import json; from reports import style; from bench.catalog import MODELS\n"
                   "print(json.dumps({layer: [style.look(layer, models[0]).colour, repr(style.look(layer, models[0])"
                   ".linestyle)] for layer, models in [*MODELS.items(), *((p, ['x']) for p in style.STOCK_LOOKS)]}))")
    colour, linestyle = looks.pop(NEW)
    assert colour not in [c for c, _ in looks.values()]  # no other layer's, and not the stock grey
    assert linestyle not in [s for _, s in looks.values()]


def test_the_cli_the_reference_rows_and_the_makefile_list_the_new_layer(checkout):
    help_text = run(checkout, sys.executable, "-m", "server_layers.main", "serve", "--help")
    assert help_text.returncode == 0 and NEW in help_text.stdout
    rows = python(checkout, "import json; from bench.reference import OURS; print(json.dumps(OURS))")
    assert [row for row in rows if row[0] == NEW] == [[NEW, *row[1:]] for row in rows if row[0] == SOURCE]
    knobs = run(checkout, "make", "-n", "knobs")
    assert knobs.returncode == 0, knobs.stderr
    assert re.search(rf"--layers \S*\b{NEW}\b", knobs.stdout)


@pytest.mark.timeout(600)
def test_the_new_layer_serves(checkout):
    """The copy serves through the one launcher, as every layer does."""
    code = ("import json, tempfile, urllib.request; from pathlib import Path; from bench.catalog import DEFAULT_MODEL\n"
            "from bench.process import ServerProcess, layer_command\n"
            f"folder = Path(tempfile.mkdtemp()); layer = {NEW!r}\n"
            "server = ServerProcess(layer_command(layer, DEFAULT_MODEL[layer], folder / 'data'),"
            " folder / 'err.log').wait_ready()\n"
            "try:\n    body = urllib.request.urlopen(f'http://{server.host}:{server.port}/plaintext').read().decode()\n"
            "finally:\n    server.stop()\n"
            "print(json.dumps(body))")
    assert python(checkout, code).startswith("Hello")


@pytest.mark.timeout(600)
def test_the_wheel_builds_without_warnings_and_ships_the_new_layer_and_the_data(checkout, tmp_path):
    result = run(checkout, sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation",
                 "-w", str(tmp_path), ".", timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Warning" not in result.stdout + result.stderr  # e.g. BuildBackendWarning: a data folder not packaged
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    packages = {name.split("/")[0] for name in names if name.endswith("/__init__.py")}
    assert {*LAYERS, NEW} | {module.split(".")[0] for module in SERVER_MODULES.values()} <= packages
    assert not packages & {"tests", "tools", "docs"}
    data = [name for name in names if not name.endswith(".py") and ".dist-info/" not in name]
    tracked = run(ROOT, "git", "ls-files", *sorted(packages)).stdout.split()
    assert sorted(data) == sorted(name for name in tracked if not name.endswith(".py") and not name.endswith(".md"))
