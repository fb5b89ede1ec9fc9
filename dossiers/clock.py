"""Clock adapters: the wall clock, and a simulated clock that tests and the demo move by hand."""

from __future__ import annotations

import datetime as dt
import threading


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class SimulatedClock:
    """Time stands still until someone moves it; thread-safe, never goes backwards."""

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the simulated clock needs an aware start time")
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        with self._lock:
            return self._now

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        if delta < dt.timedelta(0):
            raise ValueError("the simulated clock does not go backwards")
        with self._lock:
            self._now += delta
            return self._now

    def set(self, moment: dt.datetime) -> dt.datetime:
        if moment.tzinfo is None:
            raise ValueError("aware datetime required")
        with self._lock:
            if moment < self._now:
                raise ValueError("the simulated clock does not go backwards")
            self._now = moment
            return self._now
