"""wrk as a second load generator: run it pinned, read its report, and the server's CPU per request.

wrk (C, epoll, one thread drives 100k+ requests/s) is the cross-check on Locust:
it tells whether a figure measures the server or the load generator. Nothing here
imports locust.

wrk's figures are read from the JSON line that wrk_report.lua's done() hook prints
(its Lua script API: the summary, the latency statistics), not from its text: every
wrk run here has that script, alone or loaded by the scenario's (wrk_page.lua).
`parse_wrk` is pure (unit-tested on captured output).

The server's CPU is read (measure.tree_cpu_so_far) before and after the run: the
process's own CPU clock, the children it has *reaped*, and every live process under
it (a pre-fork server such as gunicorn serves in a worker it never reaps). A child
that exited but is not reaped at the second read is missed, so a forking server's
figure can be a lower bound; stopping the server and reading wait4 (measure.wait)
catches them, as the Locust runner does.
"""

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, cast

from . import measure

WRK = "wrk"
HERE = Path(__file__).resolve().parent
REPORT_SCRIPT = HERE / "wrk_report.lua"  # done(): the JSON line; every scenario script loads it
REPORT_KEY = "wrk_report"  # the line's first key
PATHS = {  # scenario (BENCH §1) -> (the path wrk asks for, or the Lua script that picks the paths)
    "plaintext": ("/plaintext", None),
    "page": ("/", HERE / "wrk_page.lua"),  # GET / then GET /test.jpg
}
PERCENTILES = (50, 75, 90, 99)


class WrkError(RuntimeError):
    """wrk could not be started, failed, or printed no report line."""


def parse_wrk(text: str) -> dict:
    """wrk's output with wrk_report.lua's JSON line as numbers: latencies in ms (wrk keeps µs), counts as ints.

    Each figure means what wrk's text showed: requests completed, the run's duration, bytes read and their
    rate, requests per second (requests / duration), the latency's mean, stdev, max and percentiles, the
    socket errors and the answers that were not 2xx or 3xx. ValueError if there is no such line."""
    line = next((line for line in reversed(text.splitlines()) if line.startswith(f'{{"{REPORT_KEY}"')), None)
    if line is None:
        raise ValueError(f"no {REPORT_KEY} line (the JSON of {REPORT_SCRIPT.name}'s done()): {text.strip()[-300:]!r}")
    try:
        return report_figures(json.loads(line))
    except (ValueError, KeyError, TypeError, AttributeError) as error:  # json.JSONDecodeError is a ValueError
        raise ValueError(f"a bad {REPORT_KEY} line ({error!r}): {line[:300]!r}") from None


def report_figures(report: dict) -> dict:
    """The figures of one report line (wrk_report.lua's JSON, parsed)."""
    errors, latency = report["errors"], report["latency_us"]
    requests, read, seconds = int(report["requests"]), int(report["bytes"]), float(report["duration_us"]) / 1e6
    socket_errors = {kind: int(errors[kind]) for kind in ("connect", "read", "write", "timeout")}
    non_2xx = int(errors["status"])

    def ms(key: str) -> float | None:
        value = latency[key]
        return None if value is None else round(float(value) / 1e3, 6)  # null: wrk had no sample (NaN)

    return {
        "requests": requests,
        "duration_s": round(seconds, 3),
        "bytes_read": read,
        "rps": round(requests / seconds, 2) if seconds > 0 else None,  # wrk's Requests/sec
        "transfer_bytes_per_s": round(read / seconds) if seconds > 0 else None,
        "latency_avg_ms": ms("mean"), "latency_stdev_ms": ms("stdev"), "latency_max_ms": ms("max"),
        **{f"p{p}_ms": ms(f"p{p}") for p in PERCENTILES},
        "socket_errors": socket_errors,
        "non_2xx": non_2xx,
        "errors": sum(socket_errors.values()),
        "ok_requests": requests - non_2xx,  # a wrong answer is no throughput
    }


def wrk_command(url: str, path: str = "/plaintext", seconds: float = 10, connections: int = 50, threads: int = 1,
                headers: Sequence[str] = (), timeout_s: float | None = None, script: Path | None = None) -> list[str]:
    """wrk's command line, with wrk_report.lua or a `script` (Lua) that loads it and chooses the paths itself
    (PATHS: the page scenario)."""
    command = [WRK, "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
               "-s", str(script or REPORT_SCRIPT)]
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
    """wrk started pinned to `cpus`; collect() waits for its report. WrkError if wrk is not installed, or if
    `script` does not load wrk_report.lua (wrk would print no report line)."""
    command = wrk_command(url, path, seconds, connections, threads, headers, timeout_s, script)
    if script and REPORT_SCRIPT.name not in Path(script).read_text():
        raise WrkError(f"{script} does not load {REPORT_SCRIPT.name}: wrk would print no report line")
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   stdin=subprocess.DEVNULL, preexec_fn=measure.pinned(cpus))
    except FileNotFoundError as error:
        raise WrkError(f"{WRK} is not installed (not on PATH): {error}") from None
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
        """Its parsed report plus wrk's own CPU (seconds, and % of its wall time). WrkError if it failed or
        printed no report line."""
        pipes = cast(tuple[IO[bytes], IO[bytes]], (self.process.stdout, self.process.stderr))  # both PIPE
        stdout, stderr = pipes[0].read(), pipes[1].read()  # wrk prints only at the end
        usage = measure.wait(self.process)
        wall = time.monotonic() - self.started
        text = stdout.decode(errors="replace")
        try:
            result = parse_wrk(text)
        except ValueError as error:
            errors = stderr.decode(errors="replace").strip()
            if usage.status != 0:
                output = "\n".join(part for part in (text.strip(), errors) if part)
                raise WrkError(f"wrk failed (exit {usage.status}): {output[-500:]}") from None
            raise WrkError(f"wrk printed no report (exit 0): {error}"
                           + (f"; stderr: {errors[-300:]}" if errors else "")) from None
        result.update(command=self.command, wall_s=round(wall, 3), wrk_cpu_s=round(usage.cpu_s, 4),
                      wrk_cpu_pct=round(100 * usage.cpu_s / wall, 1), wrk_exit=usage.status)
        return result


def run_wrk(url: str, path: str = "/plaintext", seconds: float = 10, connections: int = 50, threads: int = 1,
            cpus: set[int] | None = None, headers: Sequence[str] = (), script: Path | None = None) -> dict:
    """Run wrk pinned to `cpus`; its parsed report plus wrk's own CPU use. WrkError if it reports nothing."""
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
    return ({("wrk_" + key).replace("wrk_wrk_", "wrk_"): result.get(key) for key in keys}
            | {"wrk_connections": connections})
