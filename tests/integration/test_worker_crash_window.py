"""A worker that dies between its handler and the task completion, made deterministic (real SQLite).

The kill tests in ``test_server_process.py`` hit this window by chance; here the process "dies" exactly
when the worker completes ``dossier.request_supplement``. Whatever status the dossier then shows must be
one the process can act on: a dossier shown as waiting for a supplement accepts the supplement.
"""

from __future__ import annotations

import pytest

from tests.conftest import Api, minimal_pdf

pytestmark = pytest.mark.integration


class ProcessDied(BaseException):
    """Not an ``Exception``: nothing in the worker may catch it, as with SIGKILL."""


def _status(api: Api, code: str) -> str:
    return str(api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()["status"])


def _supplement(api: Api, code: str) -> int:
    files = {"paper.giay_to_phap_ly": ("cccd-bo-sung.pdf", minimal_pdf("bo sung"), "application/pdf")}
    return int(api.post(f"/api/dossiers/{code}/supplement", "tiepnhan.xa1", files=files).status_code)


def test_a_worker_dying_before_completion_leaves_an_actionable_status(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = api.submit().json()["code"]
    api.work()
    assert api.decide("chuyenvien1.xa1", code, "supplement").status_code == 200

    def die(*_: object, **__: object) -> None:
        raise ProcessDied

    with monkeypatch.context() as patch:
        patch.setattr(api.runtime.engine, "complete_external_task", die)
        with pytest.raises(ProcessDied):
            api.runtime.worker.run_once()  # fetches, locks and handles dossier.request_supplement, then dies

    status = _status(api, code)
    assert status in ("in_progress", "supplement_requested")
    if status == "supplement_requested":  # what the citizen sees when tracking the dossier
        assert _supplement(api, code) == 200

    # The lock of the dead worker expires (60 s on the simulated clock); the task is delivered again.
    api.advance(minutes=2)
    assert _status(api, code) == "supplement_requested"
    assert _supplement(api, code) == 200
    api.work()
    assert _status(api, code) == "in_progress"
    history = api.get(f"/api/dossiers/{code}/history", "chuyenvien1.xa1").json()
    statuses = [e["details"]["status"] for e in history if e["kind"] == "dossier.status_changed"]
    assert statuses == ["in_progress", "supplement_requested", "in_progress"]
    assert [e["kind"] for e in history].count("dossier.supplemented") == 1
