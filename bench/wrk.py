"""wrk as a second load generator: run it pinned, parse its text, and the server's CPU per request.

wrk (C, epoll, one thread drives 100k+ requests/s) is the cross-check on Locust:
it tells whether a figure measures the server or the load generator. Nothing here
imports locust. `parse_wrk` is pure (unit-tested on captured output).

The server's CPU is read (measure.tree_cpu_so_far) before and after the run: the
process's own CPU clock, the children it has *reaped*, and every live process under
it (a pre-fork server such as gunicorn serves in a worker it never reaps). A child
that exited but is not reaped at the second read is missed, so a forking server's
figure can be a lower bound; stopping the server and reading wait4 (measure.wait)
catches them, as the Locust runner does.
"""

import re
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from . import measure

WRK = "wrk"
PATHS = {  # scenario (BENCH §1) -> (the path wrk asks for, or the Lua script that picks the paths)
    "plaintext": ("/plaintext", None),
    "page": ("/", Path(__file__).resolve().parent / "wrk_page.lua"),  # GET / then GET /test.jpg
}
TIME_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}  # to milliseconds
SI = {"": 1, "k": 1e3, "M": 1e6, "G": 1e9}
SIZE = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}

_TIME = r"([\d.]+)(us|ms|s|m|h)"
_REQUESTS = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h), ([\d.]+)([KMGT]?B) read", re.M)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
_TRANSFER = re.compile(r"^Transfer/sec:\s+([\d.]+)([KMGT]?B)", re.M)
_PERCENTILE = re.compile(rf"^\s+(50|75|90|99)%\s+{_TIME}\s*$", re.M)
_LATENCY = re.compile(rf"^\s+Latency\s+{_TIME}\s+{_TIME}\s+{_TIME}", re.M)
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")


def ms(value: str, unit: str) -> float:
    return float(value) * TIME_UNITS[unit]


def parse_wrk(text: str) -> dict:
    """wrk's report (with --latency) as numbers: latencies in ms, counts as ints. ValueError if it is not one."""
    requests, rps = _REQUESTS.search(text), _RPS.search(text)
    if not requests or not rps:
        raise ValueError(f"not a wrk report: {text.strip()[-300:]!r}")
    result = {
        "requests": int(requests[1]),
        "duration_s": round(ms(requests[2], requests[3]) / 1e3, 3),
        "bytes_read": round(float(requests[4]) * SIZE[requests[5]]),
        "rps": float(rps[1]),
        "transfer_bytes_per_s": None,
        "latency_avg_ms": None, "latency_stdev_ms": None, "latency_max_ms": None,
        "p50_ms": None, "p75_ms": None, "p90_ms": None, "p99_ms": None,
        "socket_errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0},
        "non_2xx": 0,
    }
    if transfer := _TRANSFER.search(text):
        result["transfer_bytes_per_s"] = round(float(transfer[1]) * SIZE[transfer[2]])
    if latency := _LATENCY.search(text):
        result["latency_avg_ms"], result["latency_stdev_ms"], result["latency_max_ms"] = (
            round(ms(latency[i], latency[i + 1]), 6) for i in (1, 3, 5))
    for percentile, value, unit in _PERCENTILE.findall(text):
        result[f"p{percentile}_ms"] = round(ms(value, unit), 6)
    if errors := _SOCKET_ERRORS.search(text):
        result["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"), map(int, errors.groups())))
    if non_2xx := _NON_2XX.search(text):
        result["non_2xx"] = int(non_2xx[1])
    result["errors"] = sum(result["socket_errors"].values())
    result["ok_requests"] = result["requests"] - result["non_2xx"]  # a wrong answer is no throughput
    return result


def wrk_command(url: str, path: str = "/plaintext", seconds: float = 10, connections: int = 50, threads: int = 1,
                headers: Sequence[str] = (), timeout_s: float | None = None, script: Path | None = None) -> list[str]:
    """wrk's command line; a `script` (Lua) chooses the paths itself (SCRIPTS: the page scenario)."""
    command = [WRK, "--latency", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s"]
    if script:
        command += ["-s", str(script)]
    if timeout_s:
        command += ["--timeout", f"{max(1, round(timeout_s))}s"]  # wrk takes whole s/m/h only
    for header in headers:
        command += ["-H", header]
    return [*command, url.rstrip("/") + path]


def available() -> bool:
    return shutil.which(WRK) is not None


def start_wrk(url: str, path: str = "/plaintext", seconds: float = 10, connections: int = 50, threads: int = 1,
              cpus: set[int] | None = None, headers: Sequence[str] = (), script: Path | None = None,
              timeout_s: float | None = None) -> "WrkProcess":
    """wrk started pinned to `cpus`; collect() waits for its report."""
    command = wrk_command(url, path, seconds, connections, threads, headers, timeout_s, script)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                               preexec_fn=measure.pinned(cpus))
    return WrkProcess(process, command, time.monotonic())


class WrkProcess:
    """A running wrk: `done()` without reaping it, `collect()` its parsed report and its own CPU use."""

    def __init__(self, process: subprocess.Popen, command: list[str], started: float) -> None:
        self.process, self.command, self.started = process, command, started

    def done(self) -> bool:
        return measure.exited(self.process)

    def stop(self) -> None:
        """End it (by its PID) and reap it, its report unread: for a pass that failed half-way."""
        if self.process.returncode is None:
            self.process.kill()
            measure.wait(self.process)

    def collect(self) -> dict:
        """Its parsed report plus wrk's own CPU (seconds, and % of its wall time). RuntimeError if it reports nothing."""
        stdout, stderr = self.process.stdout.read(), self.process.stderr.read()  # wrk prints only at the end
        usage = measure.wait(self.process)
        wall = time.monotonic() - self.started
        text = stdout.decode(errors="replace")
        try:
            result = parse_wrk(text)
        except ValueError:
            raise RuntimeError(f"wrk failed (exit {usage.status}): "
                               f"{(text + stderr.decode(errors='replace')).strip()[-500:]}") from None
        result.update(command=self.command, wall_s=round(wall, 3), wrk_cpu_s=round(usage.cpu_s, 4),
                      wrk_cpu_pct=round(100 * usage.cpu_s / wall, 1), wrk_exit=usage.status)
        return result


def run_wrk(url: str, path: str = "/plaintext", seconds: float = 10, connections: int = 50, threads: int = 1,
            cpus: set[int] | None = None, headers: Sequence[str] = (), script: Path | None = None) -> dict:
    """Run wrk pinned to `cpus`; its parsed report plus wrk's own CPU use. RuntimeError if it reports nothing."""
    return start_wrk(url, path, seconds, connections, threads, cpus, headers, script).collect()


def cpu_us_per_request(pid: int, run: Callable[[], dict]) -> dict:
    """Read the server's CPU (/proc) before and after `run()` (a wrk run); its result plus the server's figures.

    CPU per request is over the requests answered 2xx/3xx. Misses children that exited unreaped.
    """
    cpu_before, started = measure.tree_cpu_so_far(pid), time.monotonic()
    result = run()
    cpu_after, wall = measure.tree_cpu_so_far(pid), time.monotonic() - started
    cpu_s = cpu_after - cpu_before
    served = result["ok_requests"]
    return {
        **result,
        "server_cpu_s": round(cpu_s, 3),
        "server_cpu_pct": round(100 * cpu_s / wall, 1) if wall else None,
        "cpu_us_per_req": round(1e6 * cpu_s / served, 2) if served else None,
    }


def cross_check(url: str, pid: int | None, seconds: float, cpus: set[int] | None, connections: int = 50,
                scenario: str = "plaintext") -> dict:
    """For the runner's `--cross-check wrk`: wrk against the same server (the paths of `scenario`, PATHS), figures
    prefixed `wrk_` to sit beside Locust's."""
    path, script = PATHS[scenario]

    def run() -> dict:
        return run_wrk(url, path, seconds, connections, 1, cpus, script=script)

    result = cpu_us_per_request(pid, run) if pid else run()
    keys = ("rps", "requests", "non_2xx", "errors", "p50_ms", "p90_ms", "p99_ms", "wrk_cpu_pct",
            "server_cpu_pct", "cpu_us_per_req")
    return {("wrk_" + key).replace("wrk_wrk_", "wrk_"): result.get(key) for key in keys} | {"wrk_connections": connections}
