"""SPEC §1: starting a server, and bad options as one line on stderr with exit 2."""

import dataclasses
import os
import socket
import subprocess
import sys

import pytest
from helpers import LAYERS, ROOT, launch, stop

from bench.catalog import DEFAULT_MODEL, LOOPS
from bench.process import ServerProcess
from serving.options import LOOP_MODULES as MODULE_OF_LOOP

BAD_OPTIONS = [
    ["--model", "nonesuch"],
    ["--port", "http"],
    ["--port", "70000"],
    ["--keepalive-timeout", "-1"],
    ["--header-timeout", "soon"],
    ["--backlog", "0"],
    ["--no-such-option"],
]


def run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)


def assert_one_line_exit_2(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr and lines[0]
    assert result.stdout == ""


@pytest.fixture(params=list(LAYERS))
def layer(request) -> str:
    return request.param


@pytest.mark.parametrize("options", BAD_OPTIONS, ids=[" ".join(o) for o in BAD_OPTIONS])
def test_bad_options(layer, options, tmp_path):
    assert_one_line_exit_2(run([sys.executable, "-m", layer, "--data-dir", str(tmp_path), *options]))


def test_a_model_the_layer_lacks(layer, tmp_path):
    every_model = {model for models in LAYERS.values() for model in models}
    for model in sorted(every_model - set(LAYERS[layer])):
        result = run([sys.executable, "-m", layer, "--model", model, "--port", "0", "--data-dir", str(tmp_path)])
        assert_one_line_exit_2(result)


def test_port_in_use(layer, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = run([sys.executable, "-m", layer, "--port", port, "--data-dir", str(tmp_path)])
    assert_one_line_exit_2(result)
    assert port in result.stderr


def test_unusable_data_dir(layer, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run([sys.executable, "-m", layer, "--port", "0", "--data-dir", str(blocker / "data")])
    assert_one_line_exit_2(result)
    assert f"--data-dir {blocker / 'data'}: {blocker} is a file, not a folder" in result.stderr


def test_a_failed_start_leaves_no_database_behind(layer, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = subprocess.run([sys.executable, "-m", layer, "--port", port], cwd=tmp_path, capture_output=True,
                                text=True, timeout=30, stdin=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert_one_line_exit_2(result)
    assert "another server" in result.stderr and list(tmp_path.iterdir()) == []  # no ./var, no messages.db


def test_a_data_dir_that_is_a_file_is_named_so(layer, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run([sys.executable, "-m", layer, "--port", "0", "--data-dir", str(blocker)])
    assert_one_line_exit_2(result)
    assert f"{blocker} is a file, not a folder" in result.stderr and blocker.read_text() == "not a folder"


def test_an_unresolvable_host_is_not_blamed_on_another_server(layer, tmp_path):
    result = run([sys.executable, "-m", layer, "--host", "no-such-host.invalid", "--port", "0", "--data-dir",
                  str(tmp_path / "data")])
    assert_one_line_exit_2(result)
    assert "cannot resolve --host no-such-host.invalid" in result.stderr and "another server" not in result.stderr
    assert not (tmp_path / "data").exists()


def test_serve_help_with_and_without_a_layer(layer):
    general = run([sys.executable, "-m", "server_layers", "serve", "--help"])
    assert general.returncode == 0 and general.stdout.startswith("usage: server-layers serve LAYER")
    assert all(name in general.stdout for name in LAYERS) and general.stderr == ""
    own = run([sys.executable, "-m", "server_layers", "serve", layer, "--help"])
    assert own.returncode == 0 and own.stdout.startswith(f"usage: server-layers serve {layer} ")
    assert "--keepalive-timeout" in own.stdout
    assert_one_line_exit_2(run([sys.executable, "-m", "server_layers", "serve"]))


def test_unknown_layer_through_the_cli():
    assert_one_line_exit_2(run([sys.executable, "-m", "server_layers", "serve", "twisted"]))


def test_listening_line_and_the_cli_serve(layer, tmp_path):
    command = [sys.executable, "-m", "server_layers", "serve", layer, "--port", "0", "--data-dir", str(tmp_path)]
    server = ServerProcess(command, tmp_path / "stderr.log", name="serve").wait_ready()
    try:
        assert server.line == f"listening on http://127.0.0.1:{server.port}\n" and server.port > 0
        with socket.create_connection((server.host, server.port), timeout=5) as sock:
            sock.sendall(b"GET /plaintext HTTP/1.0\r\n\r\n")
            answer = sock.recv(100)
    finally:
        usage = server.stop()
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and usage.status == 0


def test_ipv6_loopback(layer, tmp_path):
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        socket.create_server(("::1", 0), family=socket.AF_INET6).close()
    except OSError:
        pytest.skip("::1 is not configured here")
    server = launch(layer, DEFAULT_MODEL[layer], tmp_path / "data", tmp_path / "stderr.log", ["--host", "::1"])
    try:
        assert server.host == "::1"
        with socket.create_connection(("::1", server.port), timeout=5) as sock:
            sock.sendall(b"GET /plaintext HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n")
            answer = sock.recv(100)
    finally:
        status = stop(server)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and status == 0


def test_defaults_of_spec_section_1():
    from serving.options import parse

    options = parse("any_layer", ["iterative", "threaded"], [])
    assert (options.host, options.port, options.model, str(options.data_dir)) == ("127.0.0.1", 8000, "threaded", "var")
    assert (options.keepalive_timeout, options.header_timeout, options.access_log) == (5.0, 10.0, False)
    assert parse("any_layer", ["streams", "protocol"], []).model == "streams"  # no threaded: the first model
    with pytest.raises(dataclasses.FrozenInstanceError):  # parsed once, read by every layer, changed by none
        options.port = 9


def test_missing_data_dir_is_created(layer, tmp_path):
    folder = tmp_path / "not" / "yet" / "there"
    server = launch(layer, DEFAULT_MODEL[layer], folder, tmp_path / "stderr.log", [])
    try:
        answer = server.get("/plaintext")
    finally:
        status = stop(server)
    assert answer.status == 200 and (folder / "messages.db").is_file() and status == 0


def test_the_session_cost_tool_measures_both_request_shapes():
    """tools/session_cost.py answers each request shape (it checks the 200) and prints a cost per shape."""
    result = run([sys.executable, "tools/session_cost.py", "--count", "200", "--rounds", "1"])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["wrk", "locust"]
    assert all(float(line.split()[1]) > 0 for line in lines)
    assert_one_line_exit_2(run([sys.executable, "tools/session_cost.py", "--count", "0"]))


def test_loop_is_a_bad_option_where_the_layer_has_no_such_loop(layer, tmp_path):
    """--loop NAME: one of the layer's loops where the catalog says it has them (served below), else exit 2."""
    for loop in ["nonesuch", *(MODULE_OF_LOOP if layer not in LOOPS else [])]:
        assert_one_line_exit_2(run([sys.executable, "-m", layer, "--loop", loop, "--port", "0",
                                    "--data-dir", str(tmp_path)]))


@pytest.mark.parametrize("layer", list(LOOPS))
def test_a_loop_whose_package_is_missing_is_one_line_and_exit_2(layer, tmp_path):
    """uvloop is an optional extra: without it, --loop uvloop is refused in words, and nothing is created."""
    for loop in LOOPS[layer][1:]:
        hide = f"import sys; sys.modules[{loop!r}] = None; sys.argv[0] = {layer!r}; import runpy; "
        code = hide + f"runpy.run_module({layer!r}, run_name='__main__')"
        data = tmp_path / loop
        result = run([sys.executable, "-c", code, "--loop", loop, "--port", "0", "--data-dir", str(data)])
        assert_one_line_exit_2(result)
        assert f"--loop {loop}" in result.stderr and "not installed" in result.stderr and not data.exists()


@pytest.mark.parametrize("variant", [(layer, model, loop) for layer, loops in LOOPS.items()
                                     for model in LAYERS[layer] for loop in loops],
                         ids=lambda v: "-".join(v))
def test_every_loop_serves_and_stops_with_exit_0(variant, tmp_path):
    """Each model on each event loop: answers, then SIGTERM drains it and it exits 0 (SPEC §1)."""
    layer, model, loop = variant
    if MODULE_OF_LOOP[loop]:  # an optional extra (the bench extra has it)
        pytest.importorskip(MODULE_OF_LOOP[loop])
    server = launch(layer, model, tmp_path / "data", tmp_path / "stderr.log", ["--loop", loop])
    try:
        with server.connect() as idle:  # an idle keep-alive connection must not hold the stop up
            idle.sendall(b"GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n")
            assert idle.recv(1000).startswith(b"HTTP/1.1 200 OK\r\n")
            answer = server.get("/plaintext")
            status = stop(server)
    finally:
        stop(server)
    assert answer.status == 200 and answer.body == b"Hello, World!" and status == 0
    assert "Traceback" not in server.stderr()
