"""serving.sending's SendClock, sans-IO: when waiting bytes count as a stalled send (SPEC §4's --send-timeout)."""

from serving.sending import SendClock


def test_a_send_is_stalled_once_its_waiting_bytes_stood_still_for_the_timeout():
    clock = SendClock(10)
    assert not clock.stalled(5000, now=0.0)
    assert not clock.stalled(5000, now=9.9)
    assert clock.stalled(5000, now=10.0)


def test_bytes_taken_by_the_client_restart_the_clock():
    clock = SendClock(10)
    clock.stalled(5000, now=0.0)
    assert not clock.stalled(4000, now=9.0)  # the client took 1,000 bytes: progress
    assert not clock.stalled(4000, now=18.9)
    assert clock.stalled(4000, now=19.0)


def test_nothing_waiting_is_never_stalled():
    clock = SendClock(1)
    assert not clock.stalled(0, now=0.0)
    assert not clock.stalled(0, now=100.0)
