"""System calls per request (bench.syscalls): strace's summary read right, and a real trace of a real server."""

import shutil

import pytest

from bench import syscalls

SUMMARY = """syscall              calls
---------------- ---------
epoll_wait            1002
recvfrom              1000
sendto                1000
futex                    3
---------------- ---------
total                 3005
"""


def test_strace_summary_is_read_name_by_name():
    assert syscalls.parse_summary(SUMMARY) == {"epoll_wait": 1002, "recvfrom": 1000, "sendto": 1000, "futex": 3}


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed (tools/system_deps.sh installs it)")
@pytest.mark.parametrize("variant", syscalls.variants(), ids=lambda v: "-".join(v))
def test_every_request_costs_at_least_a_receive_and_a_send(variant, tmp_path):
    row = syscalls.measure(*variant, 200, "/plaintext", tmp_path)
    received = sum(row["per_request"].get(name, 0) for name in ("recvfrom", "recvmsg", "read"))
    sent = sum(row["per_request"].get(name, 0) for name in ("sendto", "sendmsg", "write", "writev"))
    assert received >= 0.99 and sent >= 0.99, row["per_request"]
    assert row["total_per_request"] == round(sum(row["per_request"].values()), 2) and row["requests"] == 200
    assert row["variant"] in syscalls.table([row])
