"""Every command the docs name answers --help, and bad arguments in one line and exit 2: never a traceback.

The commands come from the text, so a newly named one is covered with no change here: each `python -m X`
(a module of this repository) and each tools/*.py that README.md, CONTRIBUTING.md, the Makefile or docs/
name; `server-layers`, each of its subcommands (server_layers.main.TOOLS, and serve) and `serve LAYER` for
each layer of bench.catalog. Each runs as a real process, as a reader would start it. And `make serve`
starts every layer, at its own default model, with the command the Makefile runs.
"""

import re
import shlex
import shutil
import subprocess
import sys

import pytest
from helpers import ROOT

from bench.catalog import MODELS, SERVER_MODULES
from bench.process import ServerProcess
from bench.syscalls import Steps
from server_layers.main import TOOLS

TEXTS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "Makefile", *sorted((ROOT / "docs").rglob("*.md"))]
NO_COMMAND_LINE = {  # named in the docs, but no command line to ask: running it does its job
    "tools/make_test_jpg.py": "takes no options: any run, --help too, redraws webapp/static/test.jpg",
}
NOT_YET_ONE_LINE: dict[str, str] = {}  # a command whose bad flag still gets argparse's usage block, and why


def in_repository(module: str) -> bool:
    path = ROOT.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__main__.py").is_file()


def named_in_docs() -> list[str]:
    """`-m X` for each module of this repository the texts run with `python -m X`, and each tools/*.py they name."""
    text = "\n".join(path.read_text(encoding="utf-8") for path in TEXTS)
    modules = {name for name in re.findall(r"\bpython3? -m ([A-Za-z_][\w.]*)", text) if in_repository(name)}
    scripts = {name for name in re.findall(r"\btools/\w+\.py\b", text) if (ROOT / name).is_file()}
    return [f"-m {name}" for name in sorted(modules)] + sorted(scripts)


SERVER_LAYERS = ["-m server_layers", *(f"-m server_layers {tool}" for tool in TOOLS), "-m server_layers serve",
                 *(f"-m server_layers serve {layer}" for layer in SERVER_MODULES),
                 *(f"-m {layer}" for layer in SERVER_MODULES)]  # every layer's own `python -m LAYER`, named or not
COMMANDS = list(dict.fromkeys([*SERVER_LAYERS, *named_in_docs()]))
FORKING_VARIANT = next(f"{layer}/{model}" for layer, models in MODELS.items() for model in models if model == "forking")
BAD_INPUT = [  # (command, its arguments): {empty} an empty folder, {missing} no such path, {file} a file,
    # {notjson} a folder whose results.json is not JSON
    ("tools/ratio_movement.py", "{empty}"),
    ("tools/ratio_movement.py", "{missing}"),
    ("tools/ratio_movement.py", "--rounds {notjson}"),
    ("tools/ratio_movement.py", ""),
    ("-m conformance.cgi_differences", "--layer nonsense"),
    ("-m conformance.cgi_differences", "--model nonsense"),
    ("-m bench.syscalls", "--variants nonsense/x"),
    ("-m bench.syscalls", "--variants nonsense"),
    ("-m bench.syscalls", "--requests 0"),
    ("-m bench.syscalls", "--path plaintext"),
    ("-m bench.syscalls", "--out {file}"),
    ("-m bench.cpu_profile", "--variants nonsense/x"),
    ("-m bench.cpu_profile", f"--variants {FORKING_VARIANT}"),
    ("-m bench.cpu_profile", "--paths /,plaintext"),
    ("-m bench.cpu_profile", "--repeat 0"),
    ("-m bench.reference", "--targets nonsense"),
    ("-m bench.reference", "--targets ,"),
    ("-m bench.reference", "--out {file}"),
    ("-m reports.readme", "{missing}"),
    ("-m reports.readme", "--cgi {empty}"),
    ("-m reports.readme", "--reference {empty}"),
    ("-m reports.readme", "--conformance {missing}"),
    ("-m server_layers explain", "{missing}"),
    ("-m server_layers explain", "{notjson} --variants nonsense/x"),
]


def run(command: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *shlex.split(command), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def assert_one_line_exit_2(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stdout == ""


def marked(commands: list[str], reasons: dict[str, str], mark) -> list:
    return [pytest.param(command, id=command, marks=[mark(reason=reasons[command])] if command in reasons else [])
            for command in commands]


def test_the_docs_name_entry_points_of_this_repository():
    named = named_in_docs()
    assert any(command.startswith("-m ") for command in named) and any(c.startswith("tools/") for c in named)


@pytest.mark.parametrize("command", marked(COMMANDS, NO_COMMAND_LINE, pytest.mark.skip))
def test_help_prints_usage_and_exits_0(command):
    result = run(command, "--help")
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0 and result.stdout.startswith("usage: "), result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize("command", marked([c for c in COMMANDS if c not in NO_COMMAND_LINE], NOT_YET_ONE_LINE,
                                           lambda reason: pytest.mark.xfail(reason=reason, strict=False)))
def test_an_unknown_flag_is_one_line_and_exit_2(command):
    assert_one_line_exit_2(run(command, "--no-such-flag"))


@pytest.mark.parametrize("command, arguments", BAD_INPUT, ids=[f"{c} {a}" for c, a in BAD_INPUT])
def test_bad_input_is_one_line_and_exit_2(command, arguments, tmp_path):
    paths = {"empty": tmp_path / "empty", "missing": tmp_path / "missing", "file": tmp_path / "file",
             "notjson": tmp_path / "notjson"}
    paths["empty"].mkdir()
    paths["file"].write_text("not a folder\n")
    (paths["notjson"] / "results.json").parent.mkdir()
    (paths["notjson"] / "results.json").write_text("{")
    assert_one_line_exit_2(run(command, *shlex.split(arguments.format(**paths))))
    assert not paths["missing"].exists() and list(paths["empty"].iterdir()) == []  # nothing made on the way out


# --- make serve ------------------------------------------------------------------------------


def make_serve(*variables: str) -> list[str]:
    """The command `make serve VARIABLES` runs (make -n prints it without running it; the set-up's lines, if
    the venv is out of date, come before it)."""
    printed = subprocess.run(["make", "-n", "--no-print-directory", "serve", *variables], cwd=ROOT, capture_output=True,
                             text=True, timeout=60, check=True).stdout
    command = shlex.split(next(line for line in printed.splitlines() if " serve " in line))
    return [str(ROOT / command[0]), *command[1:]]  # the Makefile's .venv/bin/server-layers, from anywhere


needs_make = pytest.mark.skipif(
    shutil.which("make") is None or not (ROOT / ".venv" / "bin" / "server-layers").is_file(),
    reason="needs make and the Makefile's .venv")


@needs_make
@pytest.mark.parametrize("layer", list(MODELS))
def test_make_serve_starts_every_layer_at_its_default_model(layer, tmp_path):
    """Without MODEL the layer's own default; run from a scratch folder (./var is made there), stopped by SIGTERM."""
    server = ServerProcess(make_serve(f"LAYER={layer}", "PORT=0"), tmp_path / "stderr.log", name=f"make serve {layer}",
                           cwd=tmp_path).wait_ready()
    usage = server.stop()
    assert server.line.startswith("listening on http://127.0.0.1:") and server.port > 0
    assert usage.status == 0 and (tmp_path / "var").is_dir()


@needs_make
@pytest.mark.parametrize("layer", list(MODELS))
def test_make_serve_passes_a_model_on(layer):
    for model in MODELS[layer]:
        command = make_serve(f"LAYER={layer}", f"MODEL={model}")
        assert command[command.index("--model") + 1] == model and command[command.index("serve") + 1] == layer


# --- progress --------------------------------------------------------------------------------


def test_a_long_command_says_each_step_on_stderr_with_what_is_left(capsys):
    """bench.syscalls' and bench.cpu_profile's lines: the seconds so far, the step of how many, then the time left
    (none before a step has ended)."""
    steps = Steps("measure", 3)
    for what in ("first", "second"):
        steps.step(what)
    steps.finish()
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == "" and len(lines) == 3
    assert re.fullmatch(r"\[\s*\d+ s\] measure 1/3: first", lines[0])
    assert re.fullmatch(r"\[\s*\d+ s\] measure 2/3: second \(about \d+ s left\)", lines[1])
    assert re.fullmatch(r"\[\s*\d+ s\] measure: 3 done", lines[2])
