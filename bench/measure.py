"""Process measurements from the OS: CPU seconds, peak RSS, CPU pinning. No locust here."""

import bisect
import os
import subprocess
import threading
import time
from dataclasses import dataclass

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Usage:
    """What a process (with the children it reaped) used, read when it ended."""

    cpu_s: float
    peak_rss_mb: float
    status: int


def cpu_so_far(pid: int) -> float:
    """CPU seconds of a live process (every thread, exited ones too) and of the children it reaped.

    Its own share comes from the kernel's per-process CPU clock (nanoseconds, user + sys); the reaped
    children's from /proc (10 ms ticks: only forking servers have any)."""
    return process_clock(pid) + reaped(pid)


def tree_cpu_so_far(pid: int, tries: int = 5) -> float:
    """cpu_so_far() of `pid` and of every live process under it: a pre-fork server (gunicorn's master and its
    worker) spends its CPU in children it has not reaped. A child reaped while the tree is read would be counted
    twice or not at all, so the reading is taken again until the parent's reaped share did not move under it."""
    for _ in range(tries):
        before = reaped(pid)
        children = sum(map(child_cpu, descendants(pid)))
        own, after = process_clock(pid), reaped(pid)
        if after == before:
            break
    return own + after + children


def reaped(pid: int) -> float:
    """CPU seconds of the children `pid` has reaped (cutime + cstime, 10 ms ticks)."""
    return sum(int(value) for value in stat_fields(pid)[13:15]) / TICKS


def child_cpu(pid: int) -> float:
    """A live (or exited, unreaped) child's CPU so far; 0 when it is gone (its parent's reaped share has it)."""
    try:
        return cpu_so_far(pid)
    except OSError:
        try:
            return sum(int(value) for value in stat_fields(pid)[11:15]) / TICKS  # a zombie: no CPU clock, its stat
        except OSError:
            return 0.0


def descendants(pid: int) -> list[int]:
    """The live processes under `pid` (from every /proc/N/stat's parent field)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(stat_fields(int(entry))[1])
            except (OSError, IndexError, ValueError):
                continue
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        children = [child for child, parent in parents.items() if parent == current]
        found += children
        todo += children
    return found


def user_and_system(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of a live process (every thread) and of the children it reaped, from
    /proc/PID/stat: utime + cutime, stime + cstime (10 ms ticks; the kernel scales their sum to its exact clock)."""
    utime, stime, cutime, cstime = (int(value) / TICKS for value in stat_fields(pid)[11:15])
    return utime + cutime, stime + cstime


def stat_fields(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name: [0] is the state (field 3 of proc(5))."""
    with open(f"/proc/{pid}/stat") as file:
        return file.read().rpartition(")")[2].split()


def process_clock(pid: int) -> float:
    """The CPU-time clock of process `pid` (clock_getcpuclockid(3): MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED))."""
    return time.clock_gettime((~pid << 3) | 2)


class CpuSampler:
    """A process's CPU clock read every `interval` seconds on a thread of ours, each read with its
    wall-clock time, so the CPU it spent in any window of the run can be read afterwards.

    The thread pins itself to `cpus` (the load generator's), off the server's core."""

    def __init__(self, pid: int, cpus: set[int] | None, interval: float = 0.02) -> None:
        self.pid, self.cpus, self.interval = pid, cpus, interval
        self.times: list[float] = []
        self.cpu: list[float] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def __enter__(self) -> "CpuSampler":
        self.read()
        self.thread.start()
        return self

    def __exit__(self, *_) -> None:
        self.stopped.set()
        self.thread.join()
        self.read()

    def sample(self) -> None:
        if self.cpus:
            os.sched_setaffinity(0, self.cpus)  # 0: the calling thread
        while not self.stopped.wait(self.interval):
            self.read()

    def read(self) -> None:
        try:
            cpu = process_clock(self.pid)
        except OSError:  # the process has ended: its clock is gone
            return
        self.times.append(time.time())
        self.cpu.append(cpu)

    def at(self, when: float) -> float | None:
        """CPU seconds at wall-clock time `when`, interpolated between two reads; None outside the reads."""
        i = bisect.bisect_left(self.times, when)
        if not self.times or i == 0 and when < self.times[0] or i == len(self.times):
            return None
        if self.times[i] == when or i == 0:
            return self.cpu[i]
        t0, t1, c0, c1 = self.times[i - 1], self.times[i], self.cpu[i - 1], self.cpu[i]
        return c0 + (c1 - c0) * (when - t0) / (t1 - t0)


def wait(process: subprocess.Popen, timeout: float | None = None) -> Usage | None:
    """Reap `process` with wait4: its CPU and peak RSS, its reaped children's included; None on timeout."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, 0 if deadline is None else os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return Usage(usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, process.returncode)
        if time.monotonic() > deadline:
            return None
        time.sleep(0.02)


def exited(process: subprocess.Popen) -> bool:
    """Has it ended? Asked without reaping it, so wait() still gets its resource usage."""
    if process.returncode is not None:
        return True
    return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def tail(path, lines: int) -> str:
    """The last `lines` lines of a text file (a server's stderr)."""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def cpu_split() -> tuple[set[int] | None, set[int] | None]:
    """CPUs for the server and for Locust: the first CPU for the server, the rest for Locust."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return {cpus[0]}, set(cpus[1:])


def pinned(cpus: set[int] | None):
    """A preexec_fn that pins the child to `cpus` (none when the machine has one CPU)."""
    if not cpus:
        return None
    return lambda: os.sched_setaffinity(0, cpus)

