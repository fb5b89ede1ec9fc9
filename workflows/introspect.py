"""What a BPMN file tells the application without an engine: its executable processes, the ``camunda:*``
attributes of its tasks (read the same way by both engines and the catalogue), which decisions a user task accepts.

A decision value is accepted when some condition on the gateway right after the task compares the
variable to it (``${decision == 'approve'}``). The API rejects any other value with a clear error instead of
letting the engine fail or take a default path by accident.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree

from workflows.expressions import (
    And,
    Compare,
    ConditionError,
    Const,
    Expr,
    Not,
    Or,
    Var,
    evaluate_condition,
    parse_condition,
)

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
_N = {"bpmn": BPMN_NS}
NOT_FLOW_NODES = frozenset(
    {
        "sequenceFlow",
        "laneSet",
        "documentation",
        "extensionElements",
        "textAnnotation",
        "association",
        "dataObject",
        "dataObjectReference",
        "dataStoreReference",
        "ioSpecification",
        "property",
    }
)
"""The children of a process that are not steps: no shape of their own on the diagram, never "where a dossier is"."""


@dataclass(frozen=True)
class ActivityAttributes:
    """The ``camunda:*`` attributes SpiffWorkflow ignores, read from the XML by element id."""

    kind: str  # serviceTask | userTask
    name: str
    topic: str | None = None
    candidate_groups: tuple[str, ...] = ()
    due_date: str | None = None


def read_activity_attributes(xml: bytes) -> dict[str, ActivityAttributes]:
    root = etree.fromstring(xml)
    out: dict[str, ActivityAttributes] = {}
    for tag in ("serviceTask", "userTask"):
        for el in root.iter(f"{{{BPMN_NS}}}{tag}"):
            groups = el.get(f"{{{CAMUNDA_NS}}}candidateGroups") or ""
            out[el.get("id", "")] = ActivityAttributes(
                kind=tag,
                name=el.get("name") or el.get("id", ""),
                topic=el.get(f"{{{CAMUNDA_NS}}}topic"),
                candidate_groups=tuple(g.strip() for g in groups.split(",") if g.strip()),
                due_date=el.get(f"{{{CAMUNDA_NS}}}dueDate"),
            )
    return out


def process_ids(xml: bytes) -> list[str]:
    """The ids of the executable processes of a BPMN file (what an engine deploys)."""
    root = etree.fromstring(xml)
    return [p.get("id", "") for p in root.iter(f"{{{BPMN_NS}}}process") if p.get("isExecutable") == "true"]


def _literals(expr: Expr, out: dict[str, set[str]]) -> None:
    match expr:
        case Compare("==", Var(name), Const(value)) | Compare("==", Const(value), Var(name)):
            out.setdefault(name, set()).add(str(value))
        case And(left, right) | Or(left, right):
            _literals(left, out)
            _literals(right, out)
        case Not(operand):
            _literals(operand, out)
        case _:
            pass


def decision_options(xml: bytes, activity_id: str) -> dict[str, tuple[str, ...]]:
    """Variable → accepted literal values for the exclusive gateway that follows ``activity_id``."""
    root = etree.fromstring(xml)
    flows = root.findall(".//bpmn:sequenceFlow", _N)
    by_id = {el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    found: dict[str, set[str]] = {}
    for flow in flows:
        if flow.get("sourceRef") != activity_id:
            continue
        target = by_id.get(flow.get("targetRef"))
        if target is None or etree.QName(target).localname != "exclusiveGateway":
            continue
        for out_flow in flows:
            if out_flow.get("sourceRef") != target.get("id"):
                continue
            cond = out_flow.find("bpmn:conditionExpression", _N)
            if cond is not None and cond.text:
                _literals(parse_condition(cond.text.strip()), found)
    return {name: tuple(sorted(values)) for name, values in found.items()}


def user_tasks_after(xml: bytes, activity_id: str, variables: Mapping[str, Any]) -> frozenset[str]:
    """The user tasks the process can reach next once ``activity_id`` completes with ``variables``: sequence flows
    are followed through gateways, service tasks and events up to the first user tasks. A condition these variables
    cannot decide (it names another variable) counts as possibly taken, so nothing reachable is missed."""
    root = etree.fromstring(xml)
    by_id = {el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    outgoing: dict[str, list[Any]] = {}
    for flow in root.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        outgoing.setdefault(flow.get("sourceRef", ""), []).append(flow)
    found: set[str] = set()
    seen = {activity_id}
    todo = [activity_id]
    while todo:
        for flow in outgoing.get(todo.pop(), []):
            cond = flow.find("bpmn:conditionExpression", _N)
            if cond is not None and cond.text and cond.text.strip():
                try:
                    if not evaluate_condition(cond.text.strip(), variables):
                        continue
                except ConditionError:
                    pass  # undecided here: possibly taken
            target = flow.get("targetRef", "")
            element = by_id.get(target)
            if target in seen or element is None:
                continue
            seen.add(target)
            if etree.QName(element).localname == "userTask":
                found.add(target)
            else:
                todo.append(target)
    return frozenset(found)


@lru_cache(maxsize=256)
def _file_index(directory: str) -> dict[str, Path]:
    index: dict[str, Path] = {}
    for path in sorted(Path(directory).glob("*.bpmn")):
        root = etree.fromstring(path.read_bytes())
        for process in root.iter(f"{{{BPMN_NS}}}process"):
            index[process.get("id", "")] = path
    return index


def bpmn_file_for(process_key: str, directory: Path) -> Path | None:
    return _file_index(str(directory)).get(process_key)


def activity_name(xml: bytes, activity_id: str) -> str | None:
    """The ``name`` of the flow element ``activity_id`` (what officials read as the step's title)."""
    root = etree.fromstring(xml)
    for el in root.iter():
        if isinstance(el.tag, str) and el.get("id") == activity_id:
            name = el.get("name")
            return None if name is None else str(name)
    return None
