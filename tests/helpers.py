"""What the tests share besides fixtures: the variants, a live server process, a process tree, polling, header
lookups.

Tests import these from here (`from helpers import ...`), never from conftest; conftest holds the fixtures.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from bench import reference_servers
from bench.catalog import MODELS
from bench.process import ServerProcess, layer_command
from conformance.corpus import Answer, ResponseReader

ROOT = Path(__file__).resolve().parent.parent
LAYERS = MODELS  # every layer and its models (bench/catalog.py)
VARIANTS = [(layer, model) for layer, models in LAYERS.items() for model in models]
VARIANT_IDS = [f"{layer}-{model}" for layer, model in VARIANTS]
CONCURRENT_VARIANTS = [v for v in VARIANTS if v[1] != "iterative"]


@dataclass
class RunningServer:
    """A layer's server started by the one launcher (bench.process), with a client's helpers."""

    layer: str
    model: str
    started: ServerProcess
    data_dir: Path
    extra: list[str] = field(default_factory=list)

    @property
    def process(self) -> subprocess.Popen:
        return self.started.process

    @property
    def host(self) -> str:
        return self.started.host

    @property
    def port(self) -> int:
        return self.started.port

    @property
    def stderr_path(self) -> Path:
        return self.started.stderr_path

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def connect(self, timeout: float = 10.0) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout=timeout)

    def exchange(self, raw: bytes, count: int = 1, head: bool = False, timeout: float = 10.0) -> list[Answer]:
        """Send `raw` on a new connection and read `count` responses."""
        with self.connect(timeout) as sock:
            sock.sendall(raw)
            reader = ResponseReader(sock.recv)
            return [reader.read_response(head=head) for _ in range(count)]

    def get(self, target: str, headers: str = "", method: str = "GET", body: bytes = b"") -> Answer:
        """One request with `Connection: close`; `headers` are extra raw header lines."""
        length = f"Content-Length: {len(body)}\r\n" if body else ""
        raw = f"{method} {target} HTTP/1.1\r\nHost: test.local\r\n{headers}{length}Connection: close\r\n\r\n"
        return self.exchange(raw.encode("latin-1") + body, head=method == "HEAD")[0]


def launch(layer: str, model: str, data_dir: Path, stderr_path: Path, extra: list[str]) -> RunningServer:
    """Start `python -m LAYER` and wait for its `listening on` line (no sleeps)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    started = ServerProcess(layer_command(layer, model, data_dir, extra), stderr_path, name=f"{layer}/{model}")
    return RunningServer(layer, model, started.wait_ready(), data_dir, extra)


def stop(server: RunningServer, timeout: float = 15.0) -> int | None:
    """SIGTERM and wait (SIGKILL after `timeout`: -9), then SIGKILL whatever is left of its session; the
    exit status (the one a test already reaped, if it did)."""
    usage = server.started.stop(timeout)
    return usage.status if usage else server.process.returncode


def kill_group(server: RunningServer) -> None:
    """SIGKILL the server and any forked child of it (its own session, started here)."""
    server.started.kill()


def python_tree(code: str, text: bool = False) -> subprocess.Popen:
    """`python -c CODE` in a session of its own, its stdout piped: a process tree (the children CODE forks or
    spawns) for a test to measure; end it with end_tree()."""
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=text, start_new_session=True)


def end_tree(parent: subprocess.Popen) -> None:
    """SIGKILL a python_tree's whole session (its children too), reap its parent, close its stdout."""
    try:
        os.killpg(parent.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    parent.wait()
    if parent.stdout is not None:
        parent.stdout.close()


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02):
    """Poll `predicate` until true or timeout; returns its last value (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def header(answer: Answer, name: str) -> str | None:
    found = [value for key, value in answer.headers if key.lower() == name]
    return found[0] if found else None


def header_names(answer: Answer) -> list[str]:
    return [key.lower() for key, _ in answer.headers]


# The framework apps (frameworks/: Flask on gunicorn, FastAPI on uvicorn), run from .venv-reference as the
# reference rows are; a route test takes them through the same RunningServer, layer = the framework's name.
FRAMEWORKS = reference_servers.frameworks()
FRAMEWORK_IDS = [target.name for target in FRAMEWORKS]
NO_FRAMEWORKS = ".venv-reference lacks the frameworks (make reference-env installs Flask, FastAPI and their servers)"


@cache
def frameworks_ready() -> bool:
    """Whether .venv-reference holds every reference package, the frameworks' included (asked once per process)."""
    return reference_servers.versions() is not None


def launch_framework(target: reference_servers.Target, folder: Path) -> RunningServer:
    """Start a framework's app on its server (bench.reference_servers.start: data in folder/data, stderr in
    folder/server.stderr) and wait until its port accepts."""
    started = reference_servers.start(target, folder)
    return RunningServer(target.name, Path(target.command[0]).name, started, folder / "data")


def framework_test_id(name: str, framework: str) -> str:
    """A test's id without the framework's part: test_errors[fastapi-/nowhere--GET--404] ->
    test_errors[/nowhere--GET--404]."""
    return name.replace(f"[{framework}-", "[").replace(f"[{framework}]", "")
