"""Rendering a form within a time limit, never on the event loop.

A renderer lays out text people typed (names, addresses, reasons). The text rules bound that text
(:mod:`dossiers.text_rules`), and this module bounds the time as a second line of defence: the renderer runs in a
thread of its own and the caller waits at most ``seconds`` (setting ``render_time_limit_seconds``, 60 s by
default). When the limit passes, the caller gets :class:`~dossiers.errors.Unavailable` — a worker's step is
retried and then becomes an incident, a request is answered 503 — and nothing is stored. Python cannot stop a
thread, so a runaway render finishes (or not) in the background as a daemon thread, its result dropped; the
log says so (``render.time_limit_exceeded``).

Routes never call renderers directly on the event loop: synchronous routes run in the thread pool, asynchronous
ones hand the work over with ``run_in_threadpool``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import structlog

from dossiers.errors import Unavailable

log = structlog.get_logger(__name__)

T = TypeVar("T")
DEFAULT_RENDER_SECONDS = 60.0


def within_time_limit(work: Callable[[], T], *, seconds: float, what: str) -> T:
    """``work()``'s result, or :class:`Unavailable` once ``seconds`` have passed; its exceptions are re-raised."""
    outcome: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"render-{what}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        log.warning("render.time_limit_exceeded", what=what, seconds=seconds)
        raise Unavailable(
            f"Không lập được văn bản trong thời hạn {seconds:g} giây; hãy thử lại sau.",
            f"Rendering the {what} took longer than the limit of {seconds:g} seconds.",
            what=what,
            limit_seconds=seconds,
        )
    if failure:
        raise failure[0]
    return outcome[0]
