"""Rendering within a time limit (``documents.time_limit``): the result or the renderer's own error comes back; a
renderer that does not finish in time is an ``Unavailable`` naming the form and the limit."""

from __future__ import annotations

import threading

import pytest

from documents.time_limit import within_time_limit
from dossiers.errors import InvalidInput, Unavailable


def test_the_result_comes_back() -> None:
    assert within_time_limit(lambda: b"%PDF-", seconds=30, what="receipt") == b"%PDF-"


def test_the_renderers_error_is_raised_in_the_caller() -> None:
    def broken() -> bytes:
        raise InvalidInput("Mẫu sai.", "Broken template.")

    with pytest.raises(InvalidInput, match="Broken template"):
        within_time_limit(broken, seconds=30, what="receipt")


def test_a_renderer_past_the_limit_is_unavailable_and_runs_in_its_own_thread() -> None:
    release = threading.Event()
    seen: list[str] = []

    def stuck() -> bytes:
        seen.append(threading.current_thread().name)
        release.wait(30)
        return b""

    try:
        with pytest.raises(Unavailable) as caught:
            within_time_limit(stuck, seconds=0.05, what="refusal")
    finally:
        release.set()
    assert caught.value.details == {"what": "refusal", "limit_seconds": 0.05}
    assert "0.05" in caught.value.message_en and "giây" in caught.value.message_vi
    assert seen == ["render-refusal"]
