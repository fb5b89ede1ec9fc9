"""Run pyHanko's coroutines from synchronous code, also when the caller already runs an event loop.

pyHanko's synchronous helpers (``PdfSigner.sign_pdf``, ``validate_pdf_signature``) call ``asyncio.run`` and so
fail inside a running loop (an ``async def`` FastAPI endpoint, a worker built on asyncio). The adapters use the
``async_*`` variants through :func:`run_sync`, which moves to a fresh thread with its own loop when needed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run the coroutine made by ``factory`` to completion and return its result."""
    try:
        asyncio.get_running_loop()
        in_loop = True
    except RuntimeError:
        in_loop = False
    if not in_loop:  # outside the except block, so pyHanko's errors are not chained to the RuntimeError
        return asyncio.run(factory())
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pyhanko") as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()
