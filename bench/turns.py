"""Turns on one core: several server processes under load at once, only one of them running at a time.

compare's capacity pass loads every server with a wrk of its own at the same time, and lets the
servers take turns of `turn_s` on the core they share: all but one are stopped (SIGSTOP), and the
running one is stopped and the next one continued (SIGCONT) every turn, in a fixed rotation. While it
runs, a server has the core to itself, saturated by its wrk; while it is stopped, its wrk waits with
its requests outstanding. A swing in the machine's speed that lasts longer than a few turns (on a
shared 2-core VM they last seconds) then hits every server alike, as it does in Locust's pass where
all servers are loaded together, so the ratios paired within a round hold still from run to run.

It signals only the processes it is given (servers the harness started, each in a session of its own)
and their process groups, so a forking server's children stop and run with it; it continues every
one of them on the way out, whatever happened: a stopped process would not even see SIGTERM. It measures
nothing but the wall-clock time each process ran; it serves nothing and never imports locust.
"""

import os
import signal
import time
from collections.abc import Callable

from . import measure

STOP_WAIT_S = 1.0  # at most this long for every process to have taken its SIGSTOP


class Turns:
    """`with Turns(pids, turn_s) as turns: active = turns.run(until)`: every process stopped on entry and
    continued on exit; between, run() gives them the core in turns until `until()` is true."""

    def __init__(self, pids: list[int], turn_s: float) -> None:
        if not pids or turn_s <= 0:
            raise ValueError("Turns needs at least one process and a turn above 0 s")
        self.pids, self.turn_s = list(pids), turn_s
        self.active = dict.fromkeys(self.pids, 0.0)

    def __enter__(self) -> "Turns":
        for pid in self.pids:
            signal_process(pid, signal.SIGSTOP)
        deadline = time.monotonic() + STOP_WAIT_S  # the signals are delivered asynchronously: see them taken
        while not all(map(measure.stopped, self.pids)) and time.monotonic() < deadline:
            time.sleep(0.001)
        return self

    def __exit__(self, *_) -> None:
        for pid in self.pids:
            signal_process(pid, signal.SIGCONT)

    def run(self, until: Callable[[], bool]) -> dict[int, float]:
        """Turns in rotation until `until()` is true (asked after every turn); the seconds each process ran."""
        while True:
            for pid in self.pids:
                self.turn(pid)
                if until():
                    return dict(self.active)

    def turn(self, pid: int) -> None:
        started = time.monotonic()
        signal_process(pid, signal.SIGCONT)
        time.sleep(self.turn_s)
        signal_process(pid, signal.SIGSTOP)
        self.active[pid] += time.monotonic() - started


def signal_process(pid: int, signum: int) -> None:
    """Send `signum` to the process group `pid` leads (to `pid` alone when it leads none); a process that has
    already ended is no error (its pass is recorded as failed elsewhere)."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)
    except ProcessLookupError:
        pass
