"""Process measurements from the OS: CPU seconds, peak RSS, CPU pinning. No locust here.

Other processes are read through psutil (their tree, CPU times, state). It is imported inside the functions
that need it, never at the top: bench.stock_cgi, a server, imports this module through bench.process, and no
process that serves imports psutil (tests/test_bench.py holds that)."""

import bisect
import errno
import math
import os
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import overload


@dataclass
class Usage:
    """What a process (with the children it reaped) used, read when it ended."""

    cpu_s: float
    peak_rss_mb: float
    status: int


def cpu_so_far(pid: int) -> float:
    """CPU seconds of a live process (every thread, exited ones too) and of the children it reaped.

    Its own share comes from the kernel's per-process CPU clock (nanoseconds, user + sys); the reaped
    children's from psutil's cpu_times (/proc/PID/stat's cutime + cstime, 10 ms ticks: only forking servers
    have any)."""
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


def cpu_times(pid: int) -> tuple[float, float, float, float]:
    """User, system, reaped children's user and system CPU seconds of `pid`: psutil's cpu_times, from
    /proc/PID/stat's utime, stime, cutime and cstime (10 ms ticks); a zombie has them too. psutil's errors become
    the OSErrors a read of /proc raised, which the callers catch: ProcessLookupError once `pid` is gone."""
    import psutil

    try:
        times = psutil.Process(pid).cpu_times()
        return times.user, times.system, times.children_user, times.children_system
    except psutil.AccessDenied as error:
        raise PermissionError(errno.EACCES, f"process {pid}: {error}") from error
    except psutil.NoSuchProcess as error:
        raise ProcessLookupError(errno.ESRCH, f"no process {pid}") from error


def reaped(pid: int) -> float:
    """CPU seconds of the children `pid` has reaped (cutime + cstime, 10 ms ticks)."""
    _, _, children_user, children_system = cpu_times(pid)
    return children_user + children_system


def child_cpu(pid: int) -> float:
    """A live (or exited, unreaped) child's CPU so far; 0 when it is gone (its parent's reaped share has it)."""
    try:
        return cpu_so_far(pid)
    except OSError:
        try:
            return sum(cpu_times(pid))  # a zombie: no CPU clock, its stat's four times
        except OSError:
            return 0.0


def descendants(pid: int) -> list[int]:
    """The live processes under `pid`, zombies not yet reaped included (psutil: every process's parent field,
    /proc/N/stat); none once `pid` is gone."""
    import psutil

    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:  # NoSuchProcess: `pid` ended; AccessDenied cannot come from reading stat files
        return []


def user_and_system(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of a live process (every thread) and of the children it reaped, from
    /proc/PID/stat through psutil: utime + cutime, stime + cstime (10 ms ticks; the kernel scales their sum to
    its exact clock)."""
    user, system, children_user, children_system = cpu_times(pid)
    return user + children_user, system + children_system


def tree_user_and_system(pid: int, tries: int = 5) -> tuple[float, float]:
    """user_and_system() of `pid` and of every live process under it (their own and their reaped children's
    times): a pre-fork server (gunicorn's master and its worker) spends its CPU in a child it has not reaped. As
    tree_cpu_so_far(), read again until the parent's reaped share did not move under the reading; a child gone
    meanwhile counts 0 (its parent's reaped share has it)."""
    for _ in range(tries):
        before = cpu_times(pid)[2:]
        children = [child_user_and_system(child) for child in descendants(pid)]
        user, system, children_user, children_system = cpu_times(pid)
        if (children_user, children_system) == before:
            break
    return (user + children_user + sum(child[0] for child in children),
            system + children_system + sum(child[1] for child in children))


def child_user_and_system(pid: int) -> tuple[float, float]:
    """A live (or exited, unreaped) child's user_and_system(); (0, 0) when it is gone."""
    try:
        return user_and_system(pid)
    except OSError:
        return 0.0, 0.0


def stopped(pid: int) -> bool:
    """Is `pid` stopped (SIGSTOP or a tracer), or ended (a zombie, or gone)? Its state through psutil
    (/proc/PID/stat's state field: t, T, X or Z)."""
    import psutil

    try:
        return psutil.Process(pid).status() in (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP,
                                                psutil.STATUS_DEAD, psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


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
        if not self.times or (i == 0 and when < self.times[0]) or i == len(self.times):
            return None
        if self.times[i] == when or i == 0:
            return self.cpu[i]
        t0, t1, c0, c1 = self.times[i - 1], self.times[i], self.cpu[i - 1], self.cpu[i]
        return c0 + (c1 - c0) * (when - t0) / (t1 - t0)


@overload
def wait(process: subprocess.Popen, timeout: None = None) -> Usage: ...
@overload
def wait(process: subprocess.Popen, timeout: float) -> Usage | None: ...
def wait(process: subprocess.Popen, timeout: float | None = None) -> Usage | None:
    """Reap `process` with wait4: its CPU and peak RSS, its reaped children's included; None on timeout
    (without one, wait4 blocks until it ends)."""
    deadline = time.monotonic() + (math.inf if timeout is None else timeout)
    while True:
        pid, status, usage = os.wait4(process.pid, 0 if timeout is None else os.WNOHANG)
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

