"""What ``GET /api/health`` reports beyond "the process answers": can the document store take a new object?

A store that cannot be written (disk full or read-only, its directory gone, the object store unreachable) turns
every intake, supplement and result into a refusal; the health check says ``degraded`` with the reason, so a
monitor sees it before citizens do. Health checks are polled often and a probe touches the disk or the object
store, so the answer is kept for a few seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from dossiers.errors import MotcuaError
from dossiers.ports import DocumentStore


class StoreProbe:
    """The store's write probe (``DocumentStore.check_writable``), asked at most every ``seconds``."""

    def __init__(self, store: DocumentStore, seconds: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self.store = store
        self.seconds = seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._checked_at: float | None = None
        self._problem: str | None = None

    def problem(self) -> str | None:
        """Why a new object cannot be stored now (None: it can)."""
        with self._lock:  # one probe at a time: a burst of health checks does not become a burst of writes
            now = self.clock()
            if self._checked_at is not None and now - self._checked_at < self.seconds:
                return self._problem
            try:
                self.store.check_writable()
                problem = None
            except MotcuaError as exc:
                reason = exc.details.get("reason")  # the OS's or the server's words, never a path
                problem = exc.message_en + (f" ({reason})" if reason else "")
            except OSError as exc:  # an adapter that let one through
                problem = f"The document store cannot be written ({exc.strerror or type(exc).__name__})."
            self._checked_at, self._problem = now, problem
            return problem
