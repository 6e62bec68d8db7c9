"""A server process we start: the one launcher of the bench, the reference rows, the probe and the tests.

It starts a command in its own session (so a forking server's children end with it), from the
repository root unless told otherwise, stdin closed, stderr appended to a file, pinned to CPUs
if asked. It is ready once it printed `listening on http://HOST:PORT` (what every layer prints,
SPEC §1), or, for a program that prints no such line, once its port accepts. It is stopped with
SIGTERM, then SIGKILL after a timeout, and whatever is left of its session is killed; its
resource usage comes back from wait4. It serves nothing and never imports locust.
"""

import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, cast

from . import measure

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_CGI_BIN = ROOT / "webapp" / "cgi-bin"  # the shipped CGI scripts, as files: the harness never imports the app
READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
LISTENING = re.compile(r"listening on (http://(\[[^\]]+\]|[^:/\s]+):(\d+))")


def exit_on_sigterm() -> None:
    """A tool's entry point: SIGTERM ends it as Ctrl-C does, by an exception in its main thread, so that every
    server, tracer and sampler it started is stopped by the `finally` that owns it. They run in sessions of their
    own, so the signal never reaches them: without this, a tool ended by SIGTERM left them running."""
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))


def layer_command(layer: str, model: str, data_dir: Path | str, extra: Sequence[str] = ()) -> list[str]:
    """`python -m LAYER` on a free port (the server picks it and prints it); `data_dir` may be a placeholder
    such as "{data}", filled in at start."""
    return [sys.executable, "-m", layer, "--port", "0", "--model", model, "--data-dir", str(data_dir), *extra]


def free_port() -> int:
    """A loopback port free right now (for programs that cannot pick their own and print it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerProcess:
    """One server process; after wait_ready(), its `host`, `port`, `url` (and the `line` that said so)."""

    def __init__(self, command: list[str], stderr_path: Path, name: str = "", cpus: set[int] | None = None,
                 cwd: Path = ROOT, env: dict[str, str] | None = None) -> None:
        self.name, self.command, self.stderr_path = name or command[-1], command, stderr_path
        self.host, self.port, self.url, self.line = "", 0, "", ""
        stderr_path.parent.mkdir(parents=True, exist_ok=True)
        with stderr_path.open("ab") as stderr:
            self.process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=stderr,
                                            env={**os.environ, **env} if env else None,
                                            stdin=subprocess.DEVNULL, preexec_fn=measure.pinned(cpus),
                                            start_new_session=True)
        self.stdout = cast(IO[bytes], self.process.stdout)  # stdout=PIPE: never None
        self.pid = self.process.pid

    def wait_ready(self, timeout: float = READY_TIMEOUT_S, port: int | None = None) -> "ServerProcess":
        """Wait for its `listening on` line (or, with `port`, for the port to accept); stop it and raise
        RuntimeError, with the last line it printed and its stderr, when neither comes in time."""
        if not (self.poll_port(port, timeout) if port else self.read_address(timeout)):
            self.stop()
            raise RuntimeError(f"{self.name} did not start: {self.line.strip()!r} {self.stderr_tail(5)}")
        return self

    def read_address(self, timeout: float) -> str:
        """Its URL, from the stdout line that names it ('' when none came; `line` keeps the last line read).
        poll(), not select(): a stress test may hold more than 1024 fds."""
        poller = select.poll()
        poller.register(self.stdout, select.POLLIN)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and poller.poll(max(0.0, deadline - time.monotonic()) * 1000):
            line = self.stdout.readline().decode(errors="replace")
            if not line:
                break
            self.line = line
            if match := LISTENING.search(line):
                self.url, self.host, self.port = match[1], match[2].strip("[]"), int(match[3])
                return self.url
        return ""

    def poll_port(self, port: int, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.exited():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                time.sleep(0.05)
                continue
            self.url, self.host, self.port = f"http://127.0.0.1:{port}", "127.0.0.1", port
            return self.url
        return ""

    def exited(self) -> bool:
        return measure.exited(self.process)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> measure.Usage | None:
        """SIGTERM; once it has exited (or after `timeout`), kill(): its usage, None if reaped already."""
        if self.process.returncode is not None:
            return None
        if not self.exited():
            self.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while not self.exited() and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.kill()

    def kill(self) -> measure.Usage | None:
        """SIGKILL its whole session (forked children too) while its pid is still ours, unreaped; then
        reap it: its usage, None if it had been reaped already."""
        if self.process.returncode is not None:
            return None
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        usage = measure.wait(self.process)
        self.stdout.close()
        return usage

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stderr_tail(self, lines: int = 20) -> str:
        return measure.tail(self.stderr_path, lines)
