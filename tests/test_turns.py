"""bench.turns on real processes: only the process whose turn it is runs, and every one runs again afterwards.

Socket-free: the processes only burn CPU, so what each spent is its own CPU clock (bench.measure).
"""

import subprocess
import sys
import time

import psutil
import pytest

from bench import measure
from bench.turns import Turns

RUNNABLE = (psutil.STATUS_RUNNING, psutil.STATUS_SLEEPING)
BURN = "import time\nend = time.time() + 30\nwhile time.time() < end: pass"


@pytest.fixture
def burners():
    started = [subprocess.Popen([sys.executable, "-c", BURN], start_new_session=True) for _ in range(2)]
    yield started
    for process in started:
        process.kill()
        process.wait()


def state(pid: int) -> str:
    return psutil.Process(pid).status()


def test_a_process_spends_cpu_only_in_its_turns_and_every_one_runs_again_afterwards(burners):
    pids = [process.pid for process in burners]
    with Turns(pids, 0.05) as turns:
        assert {state(pid) for pid in pids} == {psutil.STATUS_STOPPED}  # stopped on entry
        before = [measure.cpu_so_far(pid) for pid in pids]
        deadline = time.monotonic() + 1.0
        active = turns.run(lambda: time.monotonic() > deadline)
        spent = [measure.cpu_so_far(pid) - start for pid, start in zip(pids, before, strict=True)]
    for pid, cpu in zip(pids, spent, strict=True):
        assert active[pid] > 0.3  # the rotation gave each about half of the second
        assert cpu <= active[pid] + 0.05  # no CPU outside its turns (a signal's delivery is the slack)
    time.sleep(0.1)
    assert all(state(pid) in RUNNABLE for pid in pids)  # continued on the way out


def test_a_process_that_ended_during_the_turns_is_no_error(burners):
    first, second = burners
    with Turns([first.pid, second.pid], 0.02) as turns:
        first.kill()
        first.wait()
        ends = iter(range(20))
        active = turns.run(lambda: next(ends) == 19)
    assert active[second.pid] > 0 and state(second.pid) in RUNNABLE


def test_turns_refuse_nothing_to_turn():
    with pytest.raises(ValueError):
        Turns([], 0.1)
    with pytest.raises(ValueError):
        Turns([1], 0)
