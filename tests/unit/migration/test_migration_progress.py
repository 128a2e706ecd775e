"""Progress figures of a long copy on a simulated clock, and the keep-alive's timer."""

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._migration import progress

MIB = 1 << 20


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_bytes_done_of_the_total_rate_and_time_left():
    clock = Clock()
    p = progress.Progress(100 * MIB, clock=clock)
    assert p.figures() == {"bytes_done": 0, "bytes_total": 100 * MIB, "percent": 0, "bytes_per_second": 0,
                           "seconds": 0.0, "seconds_left": None}
    for _second in range(4):
        clock.now += 1
        p.add(10 * MIB)
    assert p.figures() == {"bytes_done": 40 * MIB, "bytes_total": 100 * MIB, "percent": 40,
                           "bytes_per_second": 10 * MIB, "seconds": 4.0, "seconds_left": 6.0}


def test_a_resumed_copy_counts_what_was_done_but_not_in_the_rate():
    clock = Clock()
    p = progress.Progress(100 * MIB, done=60 * MIB, clock=clock)
    clock.now += 2
    p.add(4 * MIB)
    figures = p.figures()
    assert (figures["bytes_done"], figures["percent"], figures["bytes_per_second"]) == (64 * MIB, 64, 2 * MIB)
    assert figures["seconds_left"] == 18.0


def test_the_rate_follows_the_last_window():
    clock = Clock()
    p = progress.Progress(1000 * MIB, clock=clock, window=10)
    for _second in range(20):  # fast for 20 s ...
        clock.now += 1
        p.add(20 * MIB)
    for _second in range(20):  # ... then slow
        clock.now += 1
        p.add(2 * MIB)
    assert abs(p.rate() - 2 * MIB) <= 2 * MIB * 0.1 + 1  # the window's, not the average of 11 MiB/s


def test_percent_for_the_lease_reaches_100_only_when_all_is_done():
    clock = Clock()
    p = progress.Progress(1000, clock=clock)
    p.add(999)
    assert p.percent() == 99
    p.add(1)
    assert p.percent() == 100
    assert progress.Progress(0, clock=clock).percent() == 100


def test_every_is_due_once_per_interval():
    clock = Clock()
    keep_alive = progress.Every(30, clock=clock)
    assert not keep_alive.due()
    clock.now += 29.9
    assert not keep_alive.due()
    clock.now += 0.1
    assert keep_alive.due() and not keep_alive.due()
    clock.now += 95  # a long read between calls: due once, not three times
    assert keep_alive.due() and not keep_alive.due()


def test_the_keep_alive_interval_of_a_lease():
    assert progress.keep_alive_interval(300) == 60.0  # vCenter's 5 minutes
    assert progress.keep_alive_interval(20) == 5.0
    assert progress.keep_alive_interval(2) == 1.0
