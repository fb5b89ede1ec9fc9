"""A leader's signature completes the signing step of the dossier's process, even when it is made before the engine
shows that step. On Operaton the worker that prepares the result commits the pending signature first and completes
its own step after (a remote engine cannot join the transaction), so for a moment the leader can sign while the
process has no signing task yet: that signature used to complete no step, and the dossier stayed at "ký số" for good
(one of the dossiers `motcua demo` left in progress on Operaton). The engine here shows the step late on purpose."""

from __future__ import annotations

from typing import Any

import pytest

from services import signatures
from tests.conftest import Api
from tests.e2e.test_task_documents import LEADER, approved_by_specialist

CLERK = "vanthu.xa1"


class LateSigningStep:
    """The runtime's engine, except that the first ``hidden`` task lookups do not show the signing task yet."""

    def __init__(self, engine: Any, hidden: int) -> None:
        self.engine = engine
        self.hidden = hidden

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)

    def user_tasks(self, **query: Any) -> list[Any]:
        tasks = self.engine.user_tasks(**query)
        if self.hidden > 0:
            self.hidden -= 1
            return [t for t in tasks if t.activity_id != "sign_result"]
        return list(tasks)


def prepared_for_signing(api: Api) -> str:
    code = approved_by_specialist(api)
    assert api.decide(LEADER, code, "approve").status_code == 200
    api.work()  # the certificate is prepared: pending on the leader's device
    return code


def test_a_signature_made_before_its_step_shows_waits_for_it_and_completes_it(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = prepared_for_signing(api)
    monkeypatch.setattr(api.runtime.signatures, "engine", LateSigningStep(api.runtime.engine, hidden=3))
    assert api.sign_on_device(LEADER, code).status_code == 200
    api.work()
    assert api.task_for(CLERK, code)["activity_id"] == "register_number"  # the process went on to the clerk
    assert api.get("/api/signatures/pending", LEADER).json() == []


def test_a_signature_whose_step_does_not_come_is_refused_and_stays_to_be_made(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = prepared_for_signing(api)
    documents = len(api.get(f"/api/dossiers/{code}", LEADER).json()["documents"])
    monkeypatch.setattr(signatures, "SIGNING_STEP_WAIT_SECONDS", 0.3)
    monkeypatch.setattr(api.runtime.signatures, "engine", LateSigningStep(api.runtime.engine, hidden=10_000))
    refused = api.sign_on_device(LEADER, code)
    assert refused.status_code == 409, refused.text
    assert refused.json()["title"] == "Hồ sơ chưa đến bước ký số, vui lòng ký lại sau ít phút."
    assert len(api.get(f"/api/dossiers/{code}", LEADER).json()["documents"]) == documents  # nothing stored
    [pending] = api.get("/api/signatures/pending", LEADER).json()  # still to be made
    assert pending["dossier_code"] == code

    monkeypatch.setattr(api.runtime.signatures, "engine", api.runtime.engine)  # the step is there now
    assert api.sign_on_device(LEADER, code).status_code == 200
    api.work()
    assert api.task_for(CLERK, code)["activity_id"] == "register_number"
