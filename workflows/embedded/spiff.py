"""SpiffWorkflow made to behave like a small Camunda.

Stock SpiffWorkflow evaluates expressions as Python, ignores ``camunda:*`` attributes, runs service tasks
itself and reads the wall clock for timers. Here: service tasks wait for external workers, conditions use
the restricted grammar of :mod:`workflows.expressions` (never ``eval``), timers read the engine's clock,
and the parsed spec is cached so only the instance part is serialized.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.bpmn.parser.task_parsers import TaskParser
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.config import DEFAULT_CONFIG
from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.specs.defaults import ManualTask
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)

from workflows.expressions import evaluate_condition
from workflows.introspect import ActivityAttributes, read_activity_attributes

_VAR_REF = re.compile(r"^\$\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}$")


class ExternalServiceTask(ManualTask):  # type: ignore[misc]
    """A service task that waits, like a user task, until a worker completes it."""


class ScriptsForbidden(RuntimeError):
    pass


class ClockScriptEngine(PythonScriptEngine):  # type: ignore[misc]
    """Evaluates ``${…}`` conditions and timer texts without ``eval``; carries the engine's clock."""

    def __init__(self, now: Callable[[], dt.datetime]) -> None:
        super().__init__()
        self.now = now

    def validate(self, expression: str) -> None:  # parse-time check is done by the BPMN lint
        return None

    def evaluate(self, task: Any, expression: str, external_context: Any = None) -> Any:
        text = expression.strip()
        ref = _VAR_REF.match(text)
        if ref:
            name = ref.group(1)
            if name not in task.data:
                raise KeyError(f"process variable '{name}' is not set (needed by '{text}')")
            return task.data[name]
        if text.startswith("${"):
            return evaluate_condition(text, task.data)
        return text  # an ISO-8601 literal (timer)

    def execute(self, task: Any, script: str, external_context: Any = None) -> Any:
        raise ScriptsForbidden("script tasks are not allowed in Motcua BPMN (logic belongs in workers)")


def _as_utc(value: Any) -> dt.datetime:
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError(f"timer date without a time zone: {value!r}")
    return moment.astimezone(dt.UTC)


class ClockTimeDate(TimeDateEventDefinition):  # type: ignore[misc]
    def has_fired(self, my_task: Any) -> bool:
        value = my_task._get_internal_data("event_value")
        if value is None:
            value = _as_utc(my_task.workflow.script_engine.evaluate(my_task, self.expression)).isoformat()
            my_task._set_internal_data(event_value=value)
        if _as_utc(value) <= my_task.workflow.script_engine.now():
            my_task._set_internal_data(event_fired=True)
        return bool(my_task._get_internal_data("event_fired", False))


class ClockDuration(DurationTimerEventDefinition):  # type: ignore[misc]
    def has_fired(self, my_task: Any) -> bool:
        value = my_task._get_internal_data("event_value")
        engine = my_task.workflow.script_engine
        if value is None:
            text = engine.evaluate(my_task, self.expression)
            start = engine.now()
            parsed = TimerEventDefinition.parse_iso_duration(text)
            value = (start + TimerEventDefinition.get_timedelta_from_start(parsed, start)).isoformat()
            my_task._set_internal_data(event_value=value)
        if _as_utc(value) <= engine.now():
            my_task._set_internal_data(event_fired=True)
        return bool(my_task._get_internal_data("event_fired", False))


class MotcuaParser(BpmnParser):  # type: ignore[misc]
    OVERRIDE_PARSER_CLASSES = {full_tag("serviceTask"): (TaskParser, ExternalServiceTask)}


@dataclass
class ParsedDefinition:
    process_key: str
    spec: Any
    subprocess_specs: Mapping[str, Any]
    activities: Mapping[str, ActivityAttributes] = field(default_factory=dict)


def parse_definition(xml: bytes, process_key: str, source_name: str) -> ParsedDefinition:
    parser = MotcuaParser()
    parser.add_bpmn_xml(etree.fromstring(xml), filename=source_name)
    spec = parser.get_spec(process_key)
    subprocess_specs = parser.get_subprocess_specs(process_key)
    for s in [spec, *subprocess_specs.values()]:
        for task_spec in s.task_specs.values():
            _use_clock_timers(task_spec)
    return ParsedDefinition(process_key, spec, subprocess_specs, read_activity_attributes(xml))


def _use_clock_timers(task_spec: Any) -> None:
    ed = getattr(task_spec, "event_definition", None)
    if ed is None:
        return
    if isinstance(ed, CycleTimerEventDefinition):
        raise ValueError(f"{task_spec.bpmn_id}: cycle timers are not supported by the embedded engine")
    if isinstance(ed, TimeDateEventDefinition) and not isinstance(ed, ClockTimeDate):
        task_spec.event_definition = ClockTimeDate(ed.name, ed.expression, description=ed.description)
    elif isinstance(ed, DurationTimerEventDefinition) and not isinstance(ed, ClockDuration):
        task_spec.event_definition = ClockDuration(ed.name, ed.expression, description=ed.description)


class _InstanceOnlyConverter(BpmnWorkflowConverter):  # type: ignore[misc]
    """Serializes the instance without its spec; the spec comes from the definition cache on restore."""

    def to_dict(self, workflow: Any) -> dict[str, Any]:
        dct: dict[str, Any] = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any], spec: Any = None, subprocess_specs: Any = None) -> Any:
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _make_serializer() -> BpmnWorkflowSerializer:
    config = dict(DEFAULT_CONFIG)
    config[BpmnWorkflow] = _InstanceOnlyConverter
    config[ExternalServiceTask] = BpmnTaskSpecConverter
    config[ClockTimeDate] = TimerConditionalEventDefinitionConverter
    config[ClockDuration] = TimerConditionalEventDefinitionConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


SERIALIZER = _make_serializer()
STATE_FORMAT = "motcua-spiff-1"


def dump_instance(workflow: Any) -> str:
    """Instance state as JSON: task tree, data and timers, never the spec."""
    text: str = SERIALIZER.serialize_json(workflow)
    return text


def load_instance(state: str, definition: ParsedDefinition, script_engine: ClockScriptEngine) -> Any:
    dct = json.loads(state)
    SERIALIZER.migrate(dct)
    workflow = SERIALIZER.registry.restore(dct, spec=definition.spec, subprocess_specs=definition.subprocess_specs)
    workflow.script_engine = script_engine
    return workflow


def new_instance(definition: ParsedDefinition, script_engine: ClockScriptEngine) -> Any:
    return BpmnWorkflow(definition.spec, definition.subprocess_specs, script_engine=script_engine)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
