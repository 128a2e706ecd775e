# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Progress of a long copy: bytes done of the total, rate and time left, on an injectable clock.

``Progress`` counts the bytes of every disk of a migration (those a resumed run found already
done count as done, not in the rate); its ``figures()`` go into the result and, while the run
goes on, into what the module reports (async status, periodic events). The rate is over a
sliding window (``WINDOW`` seconds), so a copy that slows down shows it. ``Every`` tells when
something periodic is due: the lease's keep-alive (``HttpNfcLeaseProgress``), a progress report.
"""

from __future__ import annotations

import collections
import time

WINDOW = 10.0


class Progress:
    def __init__(self, total, done=0, clock=time.monotonic, window=WINDOW):
        self.total, self.done, self.clock, self.window = total, done, clock, window
        self.started = clock()
        self.copied = 0  # by this run
        self._samples = collections.deque([(self.started, 0)])

    def add(self, count):
        self.done += count
        self.copied += count
        now = self.clock()
        self._samples.append((now, self.copied))
        while len(self._samples) > 2 and self._samples[1][0] <= now - self.window:
            self._samples.popleft()

    def rate(self):
        """Bytes per second over the last window (0 before any time has passed)."""
        now = self.clock()
        (first_time, first_bytes), last_bytes = self._samples[0], self._samples[-1][1]
        if now - first_time <= 0:
            return 0.0
        return (last_bytes - first_bytes) / (now - first_time)

    def percent(self):
        """Whole percent done, 0-100, as HttpNfcLeaseProgress takes it (100 only once all is done)."""
        if self.total <= 0:
            return 100
        value = int(self.done * 100 // self.total)
        return 100 if self.done >= self.total else min(value, 99)

    def figures(self):
        rate = self.rate()
        left = max(self.total - self.done, 0)
        return {
            "bytes_done": self.done, "bytes_total": self.total, "percent": self.percent(),
            "bytes_per_second": round(rate), "seconds": round(self.clock() - self.started, 1),
            "seconds_left": round(left / rate, 1) if rate > 0 else None,
        }


class Every:
    """True from ``due()`` once every ``interval`` seconds on ``clock``; the first time after one interval."""

    def __init__(self, interval, clock=time.monotonic):
        self.interval, self.clock = interval, clock
        self.last = clock()

    def due(self):
        now = self.clock()
        if now - self.last >= self.interval:
            self.last = now
            return True
        return False


def keep_alive_interval(lease_timeout):
    """How often to call HttpNfcLeaseProgress for a lease of ``leaseTimeout`` seconds: a quarter of it,
    at most a minute, at least a second (several chances before the lease lapses)."""
    return max(1.0, min(60.0, lease_timeout / 4.0))
