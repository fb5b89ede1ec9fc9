"""The generic result topics (workers.result_handlers): ``result.prepare`` and ``result.seal`` hand the dossier to
the result registry, which decides from the procedure what to render; every result topic a BPMN file names is one
of them or an alias, so the files need not change at once."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workers.result_handlers import PREPARE_TOPIC, SEAL_TOPIC, result_handlers
from workers.runtime import Complete, TaskContext

BPMN_DIR = Path(__file__).resolve().parents[2] / "workflows" / "bpmn"


class Registry:
    """Stands in for services.results.ResultRegistry: records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Mapping[str, Any]]] = []

    def prepare(self, code: str, variables: Mapping[str, Any]) -> str:
        self.calls.append(("prepare", code, variables))
        return f"pending-{code}"

    def seal(self, code: str, variables: Mapping[str, Any]) -> str:
        self.calls.append(("seal", code, variables))
        return f"document-{code}"


def context(topic: str, **variables: Any) -> TaskContext:
    return TaskContext("t1", topic, "activity", "i1", "KEY-1", variables)


def test_the_generic_topics_call_the_registry_with_the_dossier_and_the_variables() -> None:
    registry = Registry()
    handlers = result_handlers(registry)  # type: ignore[arg-type]
    prepared = handlers[PREPARE_TOPIC](context(PREPARE_TOPIC, dossier_code="HS-1", approve_by="lanhdao.xa1"))
    sealed = handlers[SEAL_TOPIC](context(SEAL_TOPIC, register_number_by="vanthu.xa1"))  # no code: the business key
    assert prepared == Complete({"leader_signature_id": "pending-HS-1"})
    assert sealed == Complete({"result_document_id": "document-KEY-1"})
    assert [(kind, code) for kind, code, _ in registry.calls] == [("prepare", "HS-1"), ("seal", "KEY-1")]
    assert registry.calls[0][2]["approve_by"] == "lanhdao.xa1"


def test_every_result_topic_of_the_bpmn_files_is_handled_by_the_registry() -> None:
    registry = Registry()
    handlers = result_handlers(registry)  # type: ignore[arg-type]
    topics = {
        topic
        for path in BPMN_DIR.glob("*.bpmn")
        for topic in re.findall(r'camunda:topic="(result\.[^"]+)"', path.read_text(encoding="utf-8"))
    }
    assert topics, "the BPMN files name result topics"
    for topic in sorted(topics):
        outcome = handlers[topic](context(topic, dossier_code="HS-2"))
        kind = "prepare" if "prepare" in topic else "seal"
        assert registry.calls[-1][:2] == (kind, "HS-2"), topic
        assert isinstance(outcome, Complete)
